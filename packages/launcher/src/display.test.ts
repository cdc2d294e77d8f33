import { describe, expect, it } from 'vitest'
import { countText, terminalLine, terminalSafe } from './display.js'

describe('what status lines and messages print', () => {
  it('groups the digits of a count by thousands', () => {
    expect([0, 7, 999, 1_000, 20_000, 1_234_567].map(countText)).toEqual([
      '0',
      '7',
      '999',
      '1,000',
      '20,000',
      '1,234,567',
    ])
  })

  it('shows controls, bidi controls and line separators instead of acting on them; a line stays one line', () => {
    expect(terminalSafe('a\u001b[2Jb\tc\nd\u202ee\u2028')).toBe('a^[[2Jb\tc\nd\\u202ee\\u2028')
    expect(terminalLine('x\ny\tz')).toBe('x^Jy^Iz')
  })
})
