import { describe, expect, it } from 'vitest'
import { formatMessage, jsonEvent } from './output.js'

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

describe('jsonEvent', () => {
  const peer = { id: 'ab'.repeat(32), name: 'bob' }
  it('gives a disconnection that ended in a refusal its code, so a script can back off too', () => {
    expect(
      jsonEvent({ type: 'disconnected', peer, reason: 'refused: over quota', refusal: 'OVER_QUOTA' }),
    ).toEqual({
      type: 'disconnected',
      peer: 'bob',
      peerId: peer.id,
      reason: 'refused: over quota',
      refusal: 'OVER_QUOTA',
    })
    expect(jsonEvent({ type: 'disconnected', peer, reason: 'connection closed' })).not.toHaveProperty(
      'refusal',
    )
  })
})
