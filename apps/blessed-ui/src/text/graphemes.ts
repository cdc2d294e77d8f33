const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' })
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/

/** Splits text into user-perceived characters (extended grapheme clusters), such as "👨‍👩‍👧" or "é". */
export function graphemes(text: string): string[] {
  if (PRINTABLE_ASCII.test(text)) return text.split('')
  const out: string[] = []
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
