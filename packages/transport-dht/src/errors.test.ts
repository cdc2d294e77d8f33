import { describe, expect, it } from 'vitest'
import { dialError } from './errors.js'

/** An error as HyperDHT makes them: a message and a string code. */
function hyper(code: string, message = 'from the DHT'): Error {
  return Object.assign(new Error(message), { code })
}

describe('dialError', () => {
  it('says a key nobody announces is not on the DHT', () => {
    const error = dialError(hyper('PEER_NOT_FOUND'), false)
    expect(error.code).toBe('PEER_NOT_FOUND')
    // The dialer names the key, in the form its user knows: the message only says "it".
    expect(error.message).toMatch(/^no node announces it on the DHT; is it running with --dht/)
  })

  it('says an announced node that did not answer may have quit, not the raw DHT text', () => {
    const error = dialError(hyper('PEER_CONNECTION_FAILED', 'Could not connect to peer'), false)
    expect(error.code).toBe('CONNECTION_FAILED')
    expect(error.message).toBe(
      'the node announcing it did not answer: it may have quit a moment ago (its announcement can stay on the DHT for up to 20 minutes) or be offline (PEER_CONNECTION_FAILED)',
    )
    expect(error.message).not.toContain('Could not connect to peer')
    expect(error.cause).toBeInstanceOf(Error)
  })

  it.each([
    ['HANDSHAKE_UNFINISHED', /stopped answering during the handshake/],
    ['REMOTE_ABORTED', /ended the connection while it was set up/],
    ['SERVER_INCOMPATIBLE', /update parley on one side/],
    ['SERVER_ERROR', /answered with an error/],
  ])('words %s as what it means for the user', (code, wording) => {
    const error = dialError(hyper(code), false)
    expect(error.code).toBe('CONNECTION_FAILED')
    expect(error.message).toMatch(wording)
    expect(error.message.endsWith(`(${code})`)).toBe(true)
  })

  it('points at a relay when the NATs cannot be punched, and says so when the relay failed too', () => {
    expect(dialError(hyper('HOLEPUNCH_ABORTED'), false)).toMatchObject({
      code: 'HOLEPUNCH_FAILED',
      message: expect.stringContaining('use a relay with --relay KEY'),
    })
    expect(dialError(hyper('HOLEPUNCH_ABORTED'), true)).toMatchObject({
      code: 'RELAY_FAILED',
      message: expect.stringContaining('not even through the relay'),
    })
  })

  it('keeps the message of an error it does not know, whatever its code', () => {
    expect(dialError(hyper('constructor', 'odd'), false).message).toBe('odd')
    const error = dialError(new Error('socket hang up'), false)
    expect(error).toMatchObject({
      code: 'CONNECTION_FAILED',
      message: 'socket hang up',
    })
    expect(dialError(new Error(''), false).message).toBe('the connection failed')
  })
})
