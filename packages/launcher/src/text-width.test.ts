import { describe, expect, it } from 'vitest'
import { displayWidth } from './text-width.js'

describe('displayWidth', () => {
  it('counts ASCII, Latin and East Asian ambiguous characters one column each', () => {
    expect(displayWidth('')).toBe(0)
    expect(displayWidth('<bob> ')).toBe(6)
    expect(displayWidth('José Ørsted')).toBe(11)
    expect(displayWidth('Ωμέγα ±½')).toBe(8)
  })

  it('counts East Asian wide and fullwidth characters two columns each', () => {
    expect(displayWidth('東京猫')).toBe(6)
    expect(displayWidth('<東京猫> ')).toBe(9)
    expect(displayWidth('ねこ')).toBe(4)
    expect(displayWidth('고양이')).toBe(6)
    expect(displayWidth('ＡＢ')).toBe(4)
    expect(displayWidth('𠮷')).toBe(2)
  })

  it('draws combining marks and a decomposed Hangul syllable on the character before them', () => {
    expect(displayWidth('e\u0301')).toBe(1)
    expect(displayWidth('Zalgo\u0336\u0337\u0338')).toBe(5)
    expect(displayWidth('\u1100\u1161\u11a8')).toBe(2)
    expect(displayWidth('a\u200bb')).toBe(2)
  })

  it('counts an emoji two columns, with its skin tone, its VS16 or its ZWJ sequence one glyph', () => {
    expect(displayWidth('🐱')).toBe(2)
    expect(displayWidth('neko🐱')).toBe(6)
    expect(displayWidth('👍🏽')).toBe(2)
    expect(displayWidth('✌🏽')).toBe(2)
    expect(displayWidth('❤')).toBe(1)
    expect(displayWidth('❤️')).toBe(2)
    expect(displayWidth('1️⃣')).toBe(2)
    expect(displayWidth('👩\u200d💻')).toBe(2)
    expect(displayWidth('👨‍👩‍👧')).toBe(2)
    expect(displayWidth('🏳️‍🌈')).toBe(2)
    expect(displayWidth('🇯🇵🇫🇷')).toBe(4)
    // A joiner after text joins nothing: the emoji after it is drawn on its own.
    expect(displayWidth('a\u200d🐱')).toBe(3)
  })
})
