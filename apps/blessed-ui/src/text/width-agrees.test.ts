import { displayWidth } from '@parley/launcher'
import { describe, expect, it } from 'vitest'
import { graphemeWidth, singleWidth } from './width.js'

describe("the CLI's column count (displayWidth)", () => {
  it("agrees with this frontend's for every assigned code point up to plane 3", () => {
    const width = graphemeWidth()
    const differ: string[] = []
    for (let code = 0x20; code <= 0x3ffff; code++) {
      if (code >= 0xd800 && code <= 0xdfff) continue
      const ch = String.fromCodePoint(code)
      if (/\p{Cn}/u.test(ch) || displayWidth(ch) === (singleWidth(ch) ?? width(ch))) continue
      differ.push(code.toString(16))
    }
    // Wanted: Hangul vowels and finals of a decomposed syllable draw on its first letter (as wcwidth has
    // it), and a lone regional indicator as half a flag.
    const jamo = (code: number) => (code >= 0x1160 && code <= 0x11ff) || (code >= 0xd7b0 && code <= 0xd7ff)
    const regional = (code: number) => code >= 0x1f1e6 && code <= 0x1f1ff
    expect(
      differ.filter((hex) => !jamo(Number.parseInt(hex, 16)) && !regional(Number.parseInt(hex, 16))),
    ).toEqual([])
  })

  it('agrees on emoji sequences', () => {
    const width = graphemeWidth()
    for (const emoji of ['👍🏽', '✌🏽', '❤️', '☺️', '©️', '1️⃣', '👨‍👩‍👧', '🏳️‍🌈', '👩🏽‍💻', '🧑‍🤝‍🧑', '🇯🇵'])
      expect([emoji, displayWidth(emoji)]).toEqual([emoji, width(emoji)])
  })
})
