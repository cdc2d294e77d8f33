import { describe, expect, it } from 'vitest'
import { isMention } from './mentions.js'

describe('mentions', () => {
  it('finds the name as a word of its own, in any case', () => {
    expect(isMention('hi alice!', 'alice')).toBe(true)
    expect(isMention('@Alice: look', 'alice')).toBe(true)
    expect(isMention('malice aforethought', 'alice')).toBe(false)
    expect(isMention('alice2 is not you', 'alice')).toBe(false)
    expect(isMention('a.b is here', 'a.b')).toBe(true)
    expect(isMention('axb is not', 'a.b')).toBe(false)
  })
})
