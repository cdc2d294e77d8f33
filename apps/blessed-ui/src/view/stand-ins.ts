import { graphemes } from '../text/graphemes.js'
import type { GraphemeWidth } from '../text/width.js'

/** The parts of blessed's unicode module that decide how many cells it gives a character. */
export interface BlessedUnicode {
  charWidth(text: string, index?: number): number
  readonly chars: { readonly wide: RegExp }
}

/**
 * Code points blessed measures right and that stand in for graphemes it would get wrong: wide ones from CJK
 * Extension A and Yi syllables, narrow ones from the private use area. One wide code point is kept as the
 * continuation of a grapheme wider than 2 cells; it is written to the terminal as nothing.
 */
const WIDE_POOL: readonly (readonly [number, number])[] = [
  [0x3400, 0x4dbf],
  [0xa000, 0xa48b],
]
const NARROW_POOL: readonly (readonly [number, number])[] = [[0xe000, 0xf8ff]]
export const CONTINUATION = 0xa48c
const RESERVED = /[\u3400-\u4dbf\ua000-\ua48c\ue000-\uf8ff]/g
const RESERVED_ONE = /^[\u3400-\u4dbf\ua000-\ua48c\ue000-\uf8ff]$/
const PLAIN_ASCII = /^[\x20-\x7e]*$/

class Pool {
  private range = 0
  private next: number
  constructor(private readonly ranges: readonly (readonly [number, number])[]) {
    this.next = ranges[0]![0]
  }
  take(): number | undefined {
    const range = this.ranges[this.range]
    if (!range) return undefined
    const code = this.next
    if (code >= range[1]) {
      this.range++
      this.next = this.ranges[this.range]?.[0] ?? 0
    } else this.next++
    return code
  }
}

/**
 * Maps text to what blessed can lay out exactly, and back. Every grapheme blessed would mis-measure (emoji,
 * ZWJ sequences, combining sequences, anything its tables and the terminal disagree on) becomes one code point
 * of the same width, so blessed wraps, diffs and scrolls in the right cells; `decode` swaps the real graphemes
 * back in where blessed writes to the terminal. Real text in the reserved ranges is mapped too, so it survives.
 */
export class StandIns {
  private toStandIn = new Map<string, string>()
  private toReal = new Map<number, string>()
  private wide = new Pool(WIDE_POOL)
  private narrow = new Pool(NARROW_POOL)
  private readonly safe = new Int8Array(0x10000).fill(-1)
  /** Bumped when the pools run out and every mapping starts over; the view must then redraw everything. */
  generation = 0

  constructor(
    private readonly width: GraphemeWidth,
    private readonly unicode: BlessedUnicode,
  ) {}

  encode(text: string): string {
    if (PLAIN_ASCII.test(text)) return text
    let out = ''
    for (const g of graphemes(text)) out += this.encodeOne(g)
    return out
  }

  /** Turns blessed's output back into real text; continuation cells become nothing. */
  decode(output: string): string {
    return output.replace(RESERVED, (ch) => this.realOf(ch.charCodeAt(0)) ?? ch)
  }

  /** The real text for one stand-in code point ('' for a continuation), or undefined if it is not one. */
  realOf(code: number): string | undefined {
    if (code === CONTINUATION) return ''
    return this.toReal.get(code)
  }

  /** Blessed measures this lone code point as the terminal does. */
  private isSafe(code: number, cells: number): boolean {
    const known = this.safe[code]!
    if (known >= 0) return known === 1
    const ch = String.fromCharCode(code)
    this.unicode.chars.wide.lastIndex = 0
    const wideByRegex = this.unicode.chars.wide.test(ch)
    this.unicode.chars.wide.lastIndex = 0
    const ok =
      code >= 0x20 &&
      !(code >= 0xd800 && code <= 0xdfff) &&
      !RESERVED_ONE.test(ch) &&
      cells >= 1 &&
      this.unicode.charWidth(ch, 0) === cells &&
      wideByRegex === (cells === 2)
    this.safe[code] = ok ? 1 : 0
    return ok
  }

  private encodeOne(g: string): string {
    const cells = this.width(g)
    if (cells === 0) return ''
    if (g.length === 1 && this.isSafe(g.charCodeAt(0), cells)) return g
    const known = this.toStandIn.get(g)
    if (known !== undefined) return known
    const code = cells === 1 ? this.narrow.take() : this.wide.take()
    if (code === undefined) {
      this.reset()
      return this.encodeOne(g)
    }
    // A lone combining mark is shown on a dotted circle, the way type specimens show it.
    this.toReal.set(code, /^\p{M}/u.test(g) ? `\u25cc${g}` : g)
    const standIn =
      String.fromCharCode(code) +
      String.fromCharCode(CONTINUATION).repeat(Math.max(0, Math.ceil(cells / 2) - 1))
    this.toStandIn.set(g, standIn)
    return standIn
  }

  private reset(): void {
    this.toStandIn = new Map()
    this.toReal = new Map()
    this.wide = new Pool(WIDE_POOL)
    this.narrow = new Pool(NARROW_POOL)
    this.generation++
  }
}

/**
 * Splits terminal output into writes of at most `maxBytes` UTF-8 bytes, never inside a grapheme: tmux drops a
 * ZWJ join when a write ends right after the joiner, and Linux splits large writes at about 2 KiB.
 * `encoded` holds stand-ins; each is decoded whole, so a grapheme is never cut.
 */
export function terminalWrites(encoded: string, standIns: StandIns, maxBytes = 2000): string[] {
  const writes: string[] = []
  let chunk = ''
  let bytes = 0
  const flush = () => {
    if (chunk !== '') writes.push(chunk)
    chunk = ''
    bytes = 0
  }
  const addAtom = (text: string) => {
    const size = Buffer.byteLength(text)
    if (bytes + size > maxBytes) flush()
    chunk += text
    bytes += size
  }
  const addPlain = (text: string) => {
    let rest = text
    while (rest !== '') {
      const room = maxBytes - bytes
      let take = Math.min(rest.length, room)
      while (take > 0 && Buffer.byteLength(rest.slice(0, take)) > room) take = Math.floor(take * 0.9)
      if (take === 0) {
        flush()
        continue
      }
      chunk += rest.slice(0, take)
      bytes += Buffer.byteLength(rest.slice(0, take))
      rest = rest.slice(take)
    }
  }
  let last = 0
  for (const match of encoded.matchAll(RESERVED)) {
    const at = match.index
    if (at > last) addPlain(encoded.slice(last, at))
    const real = standIns.realOf(encoded.charCodeAt(at))
    addAtom(real ?? match[0])
    last = at + 1
  }
  if (last < encoded.length) addPlain(encoded.slice(last))
  flush()
  return writes
}
