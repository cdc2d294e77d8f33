import { describe, expect, it } from 'vitest'
import { graphemes } from './graphemes.js'

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' })
const segments = (text: string) => Array.from(segmenter.segment(text), (s) => s.segment)

describe('graphemes', () => {
  it('splits as the segmenter does, on text with and without joining code points', () => {
    for (const text of [
      'flood 12 of 10000: the quick brown fox 😀 日本語',
      'café ☕ — 東京 meetup',
      'e\u0301 a\u0308\u0323 👍🏽 👨‍👩‍👧 🇯🇵🇫🇷 1️⃣ ❤️',
      'कि क्ष 각 \u1100\u1161\u11a8 ﾊﾞ',
      'line\r\nnext\rlast',
      '\u0600\u0661 \u0e01\u0e33',
      '',
    ])
      expect(graphemes(text)).toEqual(segments(text))
  })

  it('leaves every code point that is not in the joining list alone, next to anything', () => {
    // One grapheme per code point is what the fast path assumes for text without a joining code point: check
    // it against the segmenter for every assigned code point, beside a letter, itself and an emoji.
    // Blocks of code points are checked at once; a block that disagrees is checked one by one.
    const context = (c: string) => `a${c}${c}😀`
    const wrong: string[] = []
    let block: string[] = []
    const check = () => {
      const text = block.map(context).join('')
      if (graphemes(text).length !== segments(text).length) {
        for (const c of block)
          if (segments(context(c)).length !== graphemes(context(c)).length)
            wrong.push(c.codePointAt(0)!.toString(16))
      }
      block = []
    }
    for (let code = 0x20; code <= 0x10ffff; code++) {
      if (code >= 0xd800 && code <= 0xdfff) continue
      const c = String.fromCodePoint(code)
      if (!/\p{Assigned}/u.test(c) || graphemes(c + c).length !== 2) continue
      block.push(c)
      if (block.length === 512) check()
    }
    check()
    expect(wrong).toEqual([])
  })
})
