/** Made on first use: loading the segmenter's data takes milliseconds that text without joiners never needs. */
let segmenter: Intl.Segmenter | undefined
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/
/**
 * Code points that can join a neighbour into one grapheme: marks, ZWJ and ZWNJ, emoji modifiers, tags,
 * halfwidth sound marks, regional indicators (flags), Hangul jamo, CR (of CR LF), Prepend characters and the
 * two Thai/Lao spacing vowels that are letters. Text without any of them has one grapheme per code point, so
 * the segmenter (several microseconds a grapheme) is needed only for text that has one. The unit test checks
 * this list against the segmenter over every assigned code point.
 */
const JOINING =
  /\u200d|\p{Emoji_Modifier}|[\p{M}\u200c\u{e0020}-\u{e007f}\uff9e\uff9f\p{Regional_Indicator}\u1100-\u11ff\ua960-\ua97f\ud7b0-\ud7ff\r\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2\u{110bd}\u{110cd}\u0d4e\u{111c2}\u{111c3}\u{1193f}\u{11941}\u{11a3a}\u{11a84}-\u{11a89}\u{11d46}\u{11f02}\u0e33\u0eb3\u{113d1}\u{16d63}\u{16d67}-\u{16d6a}]/u

/** Splits text into user-perceived characters (extended grapheme clusters), such as "👨‍👩‍👧" or "é". */
export function graphemes(text: string): string[] {
  if (PRINTABLE_ASCII.test(text)) return text.split('')
  if (!JOINING.test(text)) return Array.from(text)
  const out: string[] = []
  segmenter ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' })
  for (const { segment } of segmenter.segment(text)) out.push(segment)
  return out
}

/** Offsets (UTF-16) of every grapheme boundary in `text`, from 0 to `text.length` inclusive. */
export function boundaries(text: string): number[] {
  const out = [0]
  let at = 0
  for (const g of graphemes(text)) {
    at += g.length
    out.push(at)
  }
  return out
}
