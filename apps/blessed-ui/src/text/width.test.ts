import { describe, expect, it } from 'vitest'
import { graphemes } from './graphemes.js'
import { emojiKind, graphemeWidth, ruleFromProbe, textWidth } from './width.js'

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

  it('applies the learned rule to every grapheme of that kind', () => {
    const tmux = graphemeWidth({ modifier: 'sum', vs16: 'sum' })
    expect(tmux('👋🏿')).toBe(4)
    expect(tmux('❤️')).toBe(1)
    expect(tmux('😀')).toBe(2)
    expect(tmux('日')).toBe(2)
  })
})
