/**
 * How a submitted draft becomes message bodies. A draft that fits one message is one message; a longer one
 * (a big paste) is cut between lines, and inside a line only when that line alone is too long for a message.
 */
import { MAX_BODY_LENGTH } from '@parley/core'
import { graphemes } from '../text/graphemes.js'

/** A cut inside a line prefers a space only this far into the part, so that no part comes out tiny. */
const SPACE_FROM = 0.5

/**
 * Splits `text` into bodies of at most `limit` UTF-16 units, in order. Whole lines are packed into each body;
 * the newline where one body ends and the next begins is the only character not in a body (each body is
 * shown on its own line anyway). Only a line longer than `limit` is cut inside: after its last space in the
 * second half of the part, else after its last whole grapheme, so never inside a surrogate pair or a
 * grapheme cluster (unless one cluster alone is longer than `limit`). A body is never empty: an empty last
 * line that would be one is dropped.
 * @example messageParts('ab\ncd\nef', 5) // ['ab\ncd', 'ef']
 */
export function messageParts(text: string, limit: number = MAX_BODY_LENGTH): string[] {
  if (text.length <= limit) return [text]
  const parts: string[] = []
  // The body being packed is text.slice(start, end): whole lines, and the newlines between them.
  let start = 0
  let end = 0
  let lineStart = 0
  while (lineStart <= text.length) {
    const newline = text.indexOf('\n', lineStart)
    const lineEnd = newline < 0 ? text.length : newline
    // A body that is only an empty line is not sent alone: that line goes with the next one.
    if (lineEnd - start > limit && end > start) {
      parts.push(text.slice(start, end))
      start = lineStart
    }
    end = lineEnd
    if (end - start > limit) {
      const pieces = cutLine(text.slice(start, end), limit)
      parts.push(...pieces.slice(0, -1))
      // The line's last piece may share its body with the lines after it.
      start = end - pieces[pieces.length - 1]!.length
    }
    lineStart = lineEnd + 1
  }
  if (end > start) parts.push(text.slice(start, end))
  return parts
}

/** A line longer than `limit` in pieces of at most `limit`, which join back into the line. */
function cutLine(line: string, limit: number): string[] {
  const pieces: string[] = []
  let from = 0
  while (line.length - from > limit) {
    const to = cutPoint(line, from, limit)
    pieces.push(line.slice(from, to))
    from = to
  }
  pieces.push(line.slice(from))
  return pieces
}

/** Where the piece of `line` that starts at `from` (a grapheme boundary) ends. */
function cutPoint(line: string, from: number, limit: number): number {
  // A boundary depends only on what comes before it and the code point after it, so one more code point (two
  // units at most) than the piece can hold is enough to find the boundaries inside it.
  const window = graphemes(line.slice(from, from + limit + 2))
  let at = from
  let lastGrapheme = from
  let lastSpace = -1
  for (const g of window) {
    if (at + g.length - from > limit) break
    at += g.length
    lastGrapheme = at
    if (/^\s/u.test(g)) lastSpace = at
  }
  if (lastSpace - from >= limit * SPACE_FROM) return lastSpace
  if (lastGrapheme > from) return lastGrapheme
  // One grapheme longer than the whole limit (a letter under thousands of marks): cut it between code points.
  const code = line.charCodeAt(from + limit - 1)
  return code >= 0xd800 && code <= 0xdbff && limit > 1 ? from + limit - 1 : from + limit
}

/**
 * For each of `text`'s parts (`messageParts`), whether its line goes on in the next part: the part was cut
 * inside a line, not where a newline ends one. The last part ends its line.
 * @example partsGoOn('abcdef\ngh', ['abc', 'def', 'gh']) // [true, false, false]
 */
export function partsGoOn(text: string, parts: readonly string[]): boolean[] {
  let at = 0
  return parts.map((part, i) => {
    at += part.length
    if (i === parts.length - 1 || text.charCodeAt(at) !== 0x0a) return i < parts.length - 1
    at++
    return false
  })
}
