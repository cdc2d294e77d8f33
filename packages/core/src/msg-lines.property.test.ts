import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { framedBytes, LINES_PER_MSG_CHARS, LINES_PER_MSG_FRAMED_BYTES } from './msg-lines.js'

/** Bytes a line's text takes inside a frame's JSON string (without its quotes). */
const inJson = (text: string) => Buffer.byteLength(JSON.stringify(text)) - 2

/** Text of every kind a line can hold: ASCII, escapes, controls, wide characters, pairs and lone surrogates. */
const anyText = fc.string({
  unit: fc.oneof(
    fc.constantFrom('a', ' ', '"', '\\', '\t', '\u0001', '\u001f', '\u007f', 'ü', '漢', '\u2028', '\u202e'),
    fc.constantFrom('\ud83d\ude00', '\ud800', '\udfff'),
    fc.string({ unit: 'binary', maxLength: 3 }),
  ),
  maxLength: 60,
})

describe('framedBytes', () => {
  it('is never less than what the text takes in a frame', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        expect(framedBytes(text)).toBeGreaterThanOrEqual(inJson(text))
      }),
      { numRuns: 2_000 },
    )
  })

  it('is exact for printable ASCII and tabs, whatever their escapes', () => {
    const ascii = fc.string({
      unit: fc.constantFrom('a', 'Z', ' ', '~', '"', '\\', '\t', '{', '}'),
      maxLength: 80,
    })
    fc.assert(
      fc.property(ascii, (text) => {
        expect(framedBytes(text)).toBe(inJson(text))
      }),
      { numRuns: 1_000 },
    )
  })

  it('counts other text at three bytes a unit, and six only where JSON escapes one so', () => {
    expect(framedBytes('über 漢字 \u2028 \ud83d\ude00')).toBe(3 * 'über 漢字 \u2028 \ud83d\ude00'.length)
    expect(framedBytes('bell \u0007')).toBe(6 * 6)
    expect(framedBytes('lone \ud800 high')).toBe(6 * 'lone \ud800 high'.length)
    expect(framedBytes('lone \udfff low')).toBe(6 * 'lone \udfff low'.length)
  })
})

describe('the bounds of a message of lines', () => {
  it('need no count of characters: the frame bound is reached first', () => {
    // sendLines counts framed bytes, not characters, and relies on this.
    expect(LINES_PER_MSG_FRAMED_BYTES).toBeLessThanOrEqual(LINES_PER_MSG_CHARS)
    fc.assert(
      fc.property(anyText, (text) => {
        expect(framedBytes(text)).toBeGreaterThanOrEqual(text.length)
      }),
      { numRuns: 1_000 },
    )
  })
})
