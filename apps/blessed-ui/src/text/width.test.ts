import stringWidth from 'string-width'
import { describe, expect, it } from 'vitest'
import { graphemes } from './graphemes.js'
import {
  emojiKind,
  graphemeWidth,
  ruleFromProbe,
  ruleFromSamples,
  rulesFromProbe,
  singleWidth,
  textWidth,
} from './width.js'

const width = graphemeWidth()

describe('grapheme widths', () => {
  it('counts ASCII as one cell and CJK as two', () => {
    expect(textWidth('abc', width)).toBe(3)
    expect(textWidth('日本語', width)).toBe(6)
    expect(textWidth('한국어', width)).toBe(6)
  })

  it('counts an emoji as two cells, whatever it is made of', () => {
    expect(width('😀')).toBe(2)
    expect(width('👍🏽')).toBe(2)
    expect(width('👨‍👩‍👧')).toBe(2)
    expect(width('🇯🇵')).toBe(2)
  })

  it('keeps combining marks on their base character', () => {
    expect(graphemes('e\u0301')).toEqual(['e\u0301'])
    expect(textWidth('cafe\u0301', width)).toBe(4)
    expect(textWidth('a\u0308\u0323', width)).toBe(1)
  })

  it('keeps a ZWJ family as one grapheme', () => {
    expect(graphemes('a👨‍👩‍👧b')).toEqual(['a', '👨‍👩‍👧', 'b'])
  })

  it('gives a lone combining mark one cell, since the view shows it on a dotted circle', () => {
    expect(width('\u0301')).toBe(1)
  })

  it('tells the kinds of emoji terminals disagree about apart', () => {
    expect(emojiKind('🇯🇵')).toBe('flag')
    expect(emojiKind('1️⃣')).toBe('keycap')
    expect(emojiKind('👨‍👩‍👧')).toBe('zwj')
    expect(emojiKind('👍🏽')).toBe('modifier')
    expect(emojiKind('❤️')).toBe('vs16')
    expect(emojiKind('😀')).toBe('emoji')
    expect(emojiKind('a')).toBeUndefined()
    expect(emojiKind('日')).toBeUndefined()
    // And a letter with its marks and vowel signs, which terminals draw as one cluster or code point by code point.
    expect(emojiKind('कि')).toBe('marks')
    expect(emojiKind('ก้ำ')).toBe('marks')
    expect(emojiKind('e\u0301')).toBe('marks')
  })
})

describe('widths learned from the terminal', () => {
  it('explains what tmux 3.3a reports: 👍🏽 and ❤️ as the sum of their parts', () => {
    expect(ruleFromProbe('👍🏽', 4)).toBe('sum')
    expect(ruleFromProbe('❤️', 1)).toBe('sum')
    expect(ruleFromProbe('🇯🇵', 1)).toBe('base')
    expect(ruleFromProbe('😀', 2)).toBe('string-width')
    expect(ruleFromProbe('👨‍👩‍👧', 3)).toBe(3)
  })

  it('works out each rule from the probe only when a grapheme of its kind is first measured', () => {
    const rules = rulesFromProbe({ modifier: 4, vs16: 1, flag: 1 })
    expect(Object.keys(rules).sort()).toEqual(['flag', 'modifier', 'vs16'])
    // Nothing is measured yet: each kind still waits behind its getter.
    expect(Object.getOwnPropertyDescriptor(rules, 'modifier')?.get).toBeTypeOf('function')
    const tmux = graphemeWidth(rules)
    expect(tmux('👋🏿')).toBe(4)
    expect(Object.getOwnPropertyDescriptor(rules, 'modifier')).toMatchObject({ value: 'sum' })
    expect(Object.getOwnPropertyDescriptor(rules, 'vs16')?.get).toBeTypeOf('function')
    expect(tmux('❤️')).toBe(1)
    expect(tmux('🇫🇷')).toBe(1)
    expect(rules).toEqual({ modifier: 'sum', vs16: 'sum', flag: 'base' })
    expect(tmux('😀')).toBe(2)
  })

  it('draws a letter with spacing vowel signs as tmux does, the sum of its code points, once the probe says so', () => {
    expect(ruleFromProbe('กำ', 2)).toBe('sum')
    expect(ruleFromProbe('กำ', 1)).toBe('string-width')
    const tmux = graphemeWidth(rulesFromProbe({ marks: 2 }))
    expect(tmux('ก้ำ')).toBe(2)
    expect(tmux('स्ते')).toBe(2)
    // A mark that takes no cell adds none.
    expect(tmux('e\u0301')).toBe(1)
    expect(tmux('दु')).toBe(1)
    // Without an answer from the terminal, string-width decides, as before.
    expect(graphemeWidth()('กำ')).toBe(1)
  })

  it('draws a ZWJ sequence as tmux 3.3a does, as wide as its part before the first joiner, once the probe says so', () => {
    // tmux 3.3a: 👨‍👩‍👧 in 2 cells, 🏳️‍🌈 in 1 (🏳️ is 1 there, as ❤️ is), 👩🏽‍💻 in 4 (👩🏽 is 4 there).
    const rules = rulesFromProbe({ zwj: [2, 1, 4], vs16: [1], modifier: [4] })
    const tmux = graphemeWidth(rules)
    expect(tmux('🏳️‍🌈')).toBe(1)
    expect(tmux('❤️‍🔥')).toBe(1)
    expect(tmux('👁️‍🗨️')).toBe(1)
    expect(tmux('👩🏽‍💻')).toBe(4)
    expect(tmux('🏃🏽‍♀️')).toBe(4)
    expect(tmux('👨‍👩‍👧')).toBe(2)
    expect(tmux('🐻‍❄️')).toBe(2)
    expect(rules.zwj).toBe('head')
    // A family alone, as the probe once printed, cannot tell that from string-width: the first sample decides.
    expect(graphemeWidth(rulesFromProbe({ zwj: 2 }))('🏳️‍🌈')).toBe(2)
  })

  it('keeps string-width or the sum for ZWJ sequences where every sample says so', () => {
    const width = graphemeWidth()
    expect(ruleFromSamples(['👨‍👩‍👧', '🏳️‍🌈', '👩🏽‍💻'], [2, 2, 2], width)).toBe('string-width')
    expect(ruleFromSamples(['👨‍👩‍👧', '🏳️‍🌈', '👩🏽‍💻'], [6, 3, 6], width)).toBe('sum')
    // Nothing explains them all: the first sample decides, as with one sample.
    expect(ruleFromSamples(['👨‍👩‍👧', '🏳️‍🌈', '👩🏽‍💻'], [3, 7, 1], width)).toBe(3)
  })

  it('applies the learned rule to every grapheme of that kind', () => {
    const tmux = graphemeWidth({ modifier: 'sum', vs16: 'sum' })
    expect(tmux('👋🏿')).toBe(4)
    expect(tmux('❤️')).toBe(1)
    expect(tmux('😀')).toBe(2)
    expect(tmux('日')).toBe(2)
  })
})

describe('one code point without the emoji tables', () => {
  it('gives what string-width gives, for every code point it answers', () => {
    const wrong: string[] = []
    let answered = 0
    let tried = 0
    // Every code point of the BMP, every third of the planes that hold letters and symbols, a sample beyond.
    const step = (codePoint: number) => (codePoint < 0x10000 ? 1 : codePoint < 0x40000 ? 3 : 101)
    for (let codePoint = 0; codePoint <= 0x10ffff; codePoint += step(codePoint)) {
      tried++
      const grapheme = String.fromCodePoint(codePoint)
      const width = singleWidth(grapheme)
      if (width === undefined) continue
      answered++
      const expected = stringWidth(grapheme, { ambiguousIsNarrow: true, countAnsiEscapeCodes: true })
      if (width !== expected && wrong.push(`U+${codePoint.toString(16)}: ${width}, not ${expected}`) > 20)
        break
    }
    expect(wrong).toEqual([])
    // Nearly all of them: only emoji (and the ASCII digits, # and *, which can start one) are left out.
    expect(answered).toBeGreaterThan(tried - 2000)
  })

  it('leaves emoji and clusters to string-width', () => {
    for (const grapheme of ['😀', '❤', '🇯', '🏽', '1', 'e\u0301', '👍🏽', '\u{1f3fb}'])
      expect(singleWidth(grapheme)).toBeUndefined()
    expect(singleWidth('│')).toBe(1)
    expect(singleWidth('日')).toBe(2)
    expect(singleWidth('\u0301')).toBe(0)
    expect(singleWidth('\u{20000}')).toBe(2)
  })
})
