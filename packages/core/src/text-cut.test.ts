import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { cutText, utf8End, utf8Length } from './text-cut.js'

const EMOJI = '\u{1F600}'
/** Text of every kind of unit: ASCII, two- and three-byte characters, pairs, and lone halves. */
const units = fc.constantFrom('a', 'é', '€', EMOJI, '\u{1F44D}\u{1F3FD}', '\ud83d', '\ude00', '\r')
const text = fc.array(units, { maxLength: 40 }).map((parts) => parts.join(''))

/** Whether `text` holds a surrogate half that `whole` did not leave alone (a pair cut in two). */
const endsInHalf = (cut: string, whole: string) => {
  const last = cut.charCodeAt(cut.length - 1)
  const next = whole.charCodeAt(cut.length)
  return last >= 0xd800 && last <= 0xdbff && next >= 0xdc00 && next <= 0xdfff
}

describe('cutText', () => {
  it('leaves out an emoji at the boundary whole, not half of it', () => {
    expect(cutText(`ab${EMOJI}`, 3)).toBe('ab')
    expect(cutText(`ab${EMOJI}`, 4)).toBe(`ab${EMOJI}`)
    expect(cutText(`${'x'.repeat(199)}${EMOJI}tail`, 200)).toBe('x'.repeat(199))
    expect(cutText('abc', 0)).toBe('')
  })

  it('gives the longest front within the limit that splits no pair', () => {
    fc.assert(
      fc.property(text, fc.nat(50), (whole, max) => {
        const cut = cutText(whole, max)
        expect(whole.startsWith(cut)).toBe(true)
        expect(cut.length).toBeLessThanOrEqual(max)
        expect(endsInHalf(cut, whole)).toBe(false)
        // At most one unit short of the limit, and only where a pair would have been split.
        if (whole.length > max) expect(cut.length).toBeGreaterThanOrEqual(max - 1)
        else expect(cut).toBe(whole)
      }),
    )
  })
})

describe('utf8Length and utf8End', () => {
  it('count text as a UTF-8 encoder writes it, a lone half as U+FFFD', () => {
    fc.assert(
      fc.property(text, (whole) => {
        const bytes = new TextEncoder().encode(whole).length
        expect(utf8Length(whole)).toBe(bytes)
        // Counted a character at a time, as a part of a longer text, alike.
        expect(utf8Length(`a${whole}`, 1)).toBe(bytes)
        expect(utf8Length(`${whole}a`.repeat(1000))).toBe((bytes + 1) * 1000)
      }),
    )
  })

  it('end the longest front that fits the bytes, never inside a pair', () => {
    expect(utf8End('€€€', 0, 7)).toBe(2)
    expect(utf8End(`a${EMOJI}`, 0, 4)).toBe(1)
    expect(utf8End(`a${EMOJI}`, 0, 5)).toBe(3)
    expect(utf8End(EMOJI, 0, 3)).toBe(0)
    fc.assert(
      fc.property(text, fc.nat(60), fc.nat(40), (whole, maxBytes, from) => {
        const start = Math.min(from, whole.length)
        const end = utf8End(whole, start, maxBytes)
        const bytes = utf8Length(whole, start, end)
        expect(bytes).toBeLessThanOrEqual(maxBytes)
        if (end > start) expect(endsInHalf(whole.slice(0, end), whole)).toBe(false)
        // Nothing more fits: the next character (a pair counted whole) would pass the limit.
        if (end < whole.length) {
          const next = end + (endsInHalf(whole.slice(0, end + 1), whole) ? 2 : 1)
          expect(utf8Length(whole, start, next)).toBeGreaterThan(maxBytes)
        }
      }),
    )
  })
})
