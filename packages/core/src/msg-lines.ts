import { MAX_LINES_PER_MSG } from './schema.js'

/**
 * Lines carried together: a `msg` with `lines` holds that many lines of its sender's, one per newline-cut
 * piece of its body, each a message of its own to whoever shows or keeps it. One message, one chain link,
 * one signature and one journal record then serve a few dozen piped lines instead of one.
 */

/**
 * Lines are gathered into one message up to this many characters of body. Lines of up to about 100
 * characters meet the display bound below first. At 2,000 a message carried 32 lines of 60 characters
 * instead of 44, and a piped file took the receiver 13 % more CPU (twelve alternated runs of 100,000 lines).
 */
export const LINES_PER_MSG_CHARS = 3_000

/**
 * And while their text takes at most this many bytes in a frame (`framedBytes`): a message of several
 * lines then takes about 3.5 KB at most (3,533 bytes with a name of 64 wide characters and every field at
 * its longest), which a receiver's `--max-frame 4096` takes. The sender does not know the receiver's
 * limit: a line sent alone takes a frame of its size, up to the sender's own frame limit, as any message.
 */
export const LINES_PER_MSG_FRAMED_BYTES = 3_000

/**
 * And while they take at most this many bytes shown, each with its sender's prefix (`shownLineBytes`):
 * one write of a receiver's line display (4,000 bytes, under the 4,096 a pipe takes atomically), which
 * its display mark follows, so a kill between the two can show again only that one write. Short lines
 * are mostly prefix: 3,000 characters of them would take several writes.
 */
export const LINES_PER_MSG_SHOWN_BYTES = 4_000

/** What a shown line takes besides its text and its sender's name: `[HH:MM:SS] <`, `~xxxx-xxxx`, `> `, newline. */
const SHOWN_LINE_FRAME = 11 + 1 + 10 + 2 + 1
/** Shown as it is, and as it is in JSON: printable ASCII but `"` and `\`. */
const PLAIN_TEXT = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/
/** Shown as it is (a name: printable ASCII; a message's text: tabs too), each escaped in two bytes in JSON at most. */
const NAME_AS_IS = /^[\x20-\x7e]*$/
const TEXT_AS_IS = /^[\t\x20-\x7e]*$/

/**
 * The most bytes each UTF-16 unit of a message's text can take, shown and in JSON: 1 for plain text; 2
 * for printable text with tabs, quotes or backslashes (shown as they are, escaped in JSON); else 6, the
 * most an escape of one takes either way (`\u202e`).
 */
export function textGrowth(text: string): 1 | 2 | 6 {
  return PLAIN_TEXT.test(text) ? 1 : TEXT_AS_IS.test(text) ? 2 : 6
}

/** What JSON writes as a six-byte `\uXXXX`: a control character but the tab, and a lone surrogate. */
const JSON_ESCAPED_LONG =
  /[\u0000-\u0008\u000a-\u001f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/**
 * The most bytes `text` takes inside a frame's JSON string: exactly, for printable ASCII and tabs (one
 * byte a character, two for a tab, quote or backslash); else three bytes a UTF-16 unit (UTF-8 takes at
 * most three, a surrogate pair four), or six where JSON escapes a control character or a lone surrogate.
 */
export function framedBytes(text: string, growth = textGrowth(text)): number {
  if (growth === 1) return text.length
  if (growth === 2) {
    let escaped = 0
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c === 0x22 || c === 0x5c || c === 0x09) escaped++
    }
    return text.length + escaped
  }
  return (JSON_ESCAPED_LONG.test(text) ? 6 : 3) * text.length
}

/**
 * The most bytes one line of `text` from a sender named `name` can take in a line display (a terminal,
 * stdout): as many as characters for text shown as it is, else six a UTF-16 unit.
 */
export function shownLineBytes(name: string, text: string): number {
  const nameBytes = NAME_AS_IS.test(name) ? name.length : 6 * name.length
  return SHOWN_LINE_FRAME + nameBytes + (textGrowth(text) === 6 ? 6 : 1) * text.length
}

/** The id of line `index` of a message: the message's own for its first line, `id.index` for the others. */
export function lineId(id: string, index: number): string {
  return index === 0 ? id : `${id}.${index}`
}

/** The lines a message stands for: its body cut at newlines when it carries `lines`, else its body whole. */
export function linesOf(msg: { readonly body: string; readonly lines?: number | undefined }): string[] {
  return msg.lines === undefined ? [msg.body] : msg.body.split('\n')
}

/** A count of lines a message may carry (`msg.lines`): 2 up to one more than a body's longest. */
export function isLineCount(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 2 && (value as number) <= MAX_LINES_PER_MSG
}
