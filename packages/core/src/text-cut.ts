/**
 * Cutting text to a length without cutting a character in two. A limit in UTF-16 units (what a string's
 * `length` counts, and what the protocol's schemas bound) never ends between the two halves of a
 * surrogate pair (an emoji); a limit in bytes counts the text as UTF-8, as it goes on the wire.
 */
import { platform } from './platform.js'

/** Whether the UTF-16 unit `code` is the first half of a surrogate pair. */
function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff
}

/**
 * Where a cut of `text` at `end` (a count of UTF-16 units) falls so that no surrogate pair is split: `end`,
 * or one less when the unit before it opens a pair whose second half follows.
 */
function safeEnd(text: string, end: number): number {
  if (end <= 0) return 0
  if (end >= text.length) return text.length
  const code = text.charCodeAt(end - 1)
  const next = text.charCodeAt(end)
  return isHighSurrogate(code) && next >= 0xdc00 && next <= 0xdfff ? end - 1 : end
}

/**
 * The front of `text`, at most `max` UTF-16 units long, never ending inside a surrogate pair: an emoji at
 * the boundary is left out whole rather than half kept (a lone half shows as U+FFFD, and is encoded
 * differently by different runtimes).
 * @example cutText('ab😀', 3) // 'ab'
 */
export function cutText(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, safeEnd(text, max))
}

/** Text up to a message body's worst size is counted by encoding it here, faster than a loop. */
const SCRATCH_BYTES = 32 * 1024
let scratch: Uint8Array | undefined
let encoder: InstanceType<typeof platform.TextEncoder> | undefined

/**
 * The bytes `text` (from `start` to `end`) takes in UTF-8; a lone surrogate counts three, as an encoder
 * writes U+FFFD for it.
 * @example utf8Length('a€😀') // 1 + 3 + 4
 */
export function utf8Length(text: string, start = 0, end = text.length): number {
  if (start === 0 && end === text.length && text.length * 3 <= SCRATCH_BYTES) {
    scratch ??= new Uint8Array(SCRATCH_BYTES)
    encoder ??= new platform.TextEncoder()
    return encoder.encodeInto(text, scratch).written
  }
  let bytes = 0
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) bytes += 1
    else if (code < 0x800) bytes += 2
    else if (isHighSurrogate(code) && i + 1 < end) {
      const next = text.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4
        i++
      } else bytes += 3
    } else bytes += 3
  }
  return bytes
}

/**
 * Where the longest front of `text` from `start` that takes at most `maxBytes` in UTF-8 ends (an index
 * into `text`): never inside a surrogate pair, so it ends at `start` when the first character alone is
 * larger than `maxBytes`.
 * @example utf8End('€€€', 0, 7) // 2 (6 bytes)
 */
export function utf8End(text: string, start: number, maxBytes: number): number {
  let bytes = 0
  let i = start
  while (i < text.length) {
    const code = text.charCodeAt(i)
    let units = 1
    let size: number
    if (code < 0x80) size = 1
    else if (code < 0x800) size = 2
    else if (isHighSurrogate(code) && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        size = 4
        units = 2
      } else size = 3
    } else size = 3
    if (bytes + size > maxBytes) break
    bytes += size
    i += units
  }
  return i
}
