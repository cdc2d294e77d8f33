import type { NodeEvent } from '@parley/core'
import { describe, expect, it } from 'vitest'
import { describeEvent } from './session.js'

const linkError = (code: string, message: string): NodeEvent => ({
  type: 'link-error',
  address: '127.0.0.1:4002',
  code,
  message,
})

describe('describeEvent for a connection that ends before it is a link', () => {
  it('shows a refusal with its reason and code', () => {
    const shown = describeEvent(linkError('TOO_MANY', 'too many connections from 127.0.0.1'))
    expect(shown).toEqual({
      level: 'warn',
      text: expect.stringMatching(
        /^peer at 127\.0\.0\.1:4002 was dropped: too many connections .*\[TOO_MANY\]$/,
      ),
    })
  })

  it('shows nothing for one whose other end left in its handshake, as the losing link of a crossing dial does', () => {
    expect(describeEvent(linkError('RESET', 'connection reset by the other end'))).toBeUndefined()
    expect(describeEvent(linkError('CLOSED', 'connection closed'))).toBeUndefined()
  })
})
