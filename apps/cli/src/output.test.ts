import { describe, expect, it } from 'vitest'
import { formatMessage } from './output.js'

describe('formatMessage', () => {
  it('puts a one-line message after the name, with control characters made visible', () => {
    expect(formatMessage('bob', 'hello \u001b[2Jthere', 0, false)).toBe('<bob> hello ^[[2Jthere')
  })

  it('indents continuation lines under the text', () => {
    expect(formatMessage('bob', 'one\ntwo', 0, false)).toBe('<bob> one\n      two')
  })

  it('shows an action as `* name text`', () => {
    expect(formatMessage('bob', '\u0001ACTION waves', 0, false, 'waves')).toBe('* bob waves')
  })
})
