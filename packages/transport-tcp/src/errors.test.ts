import { TransportError } from '@parley/core'
import { describe, expect, it } from 'vitest'
import { abortedError, dialError, linkError, listenError, timeoutError } from './errors.js'

function nodeError(code: string, message = `syscall ${code}`): Error {
  return Object.assign(new Error(message), { code })
}

const v4 = { host: '127.0.0.1', port: 4001 }
const v6 = { host: '::1', port: 4001 }

describe('listen errors', () => {
  it('says a taken port is in use, names it and suggests port 0 on the same host', () => {
    const error = listenError(nodeError('EADDRINUSE'), v4)
    expect(error).toBeInstanceOf(TransportError)
    expect(error.code).toBe('ADDRESS_IN_USE')
    expect(error.message).toBe(
      '127.0.0.1:4001 is already in use by another program; pick another port or use --listen 127.0.0.1:0',
    )
  })

  it('words EINVAL: a link-local IPv6 address without its interface, or any address the system refuses', () => {
    expect(
      listenError(nodeError('EINVAL', 'listen EINVAL: invalid argument'), { host: 'fe80::1', port: 0 })
        .message,
    ).toBe(
      'cannot listen on [fe80::1]:0: a link-local IPv6 address needs its interface, as [fe80::1%eth0]:0 (EINVAL)',
    )
    const other = listenError(nodeError('EINVAL', 'listen EINVAL: invalid argument'), v4).message
    expect(other).toBe(
      "cannot listen on 127.0.0.1:4001: the system refuses that address (EINVAL); use an address of this machine's",
    )
    expect(other).not.toContain('invalid argument')
  })

  it('brackets IPv6 hosts in the address and in the suggestion', () => {
    const error = listenError(nodeError('EADDRINUSE'), v6)
    expect(error.message).toContain('[::1]:4001 is already in use')
    expect(error.message).toContain('--listen [::1]:0')
  })

  it.each([
    ['EADDRNOTAVAIL', 'ADDRESS_NOT_AVAILABLE', 'no network interface'],
    ['EACCES', 'PERMISSION_DENIED', 'ports below 1024'],
    ['EPERM', 'PERMISSION_DENIED', 'not allowed'],
    ['ENOTFOUND', 'HOST_NOT_FOUND', 'no host named'],
    ['EAI_AGAIN', 'HOST_NOT_FOUND', 'name server did not answer'],
  ])('maps %s to %s with a hint (%s)', (nodeCode, code, hint) => {
    const error = listenError(nodeError(nodeCode), { host: 'example', port: 80 })
    expect(error.code).toBe(code)
    expect(error.message).toContain(hint)
  })

  it('keeps the node error as the cause', () => {
    const cause = nodeError('EADDRINUSE')
    expect(listenError(cause, v4).cause).toBe(cause)
  })

  it('falls back to UNKNOWN with the original message for errors it does not know', () => {
    const error = listenError(nodeError('EMFILE', 'too many open files'), v4)
    expect(error.code).toBe('UNKNOWN')
    expect(error.message).toBe('cannot listen on 127.0.0.1:4001: too many open files')
  })

  it('copes with thrown values that are not errors', () => {
    expect(listenError('boom', v4).message).toBe('cannot listen on 127.0.0.1:4001: boom')
  })
})

describe('dial errors', () => {
  it.each([
    ['ECONNREFUSED', 'CONNECTION_REFUSED', 'nobody is listening at 127.0.0.1:4001'],
    ['ENOTFOUND', 'HOST_NOT_FOUND', 'no host named "127.0.0.1"'],
    ['EAI_AGAIN', 'HOST_NOT_FOUND', 'name server did not answer'],
    ['EHOSTUNREACH', 'UNREACHABLE', 'cannot be reached'],
    ['ENETUNREACH', 'UNREACHABLE', 'cannot be reached'],
    ['ECONNRESET', 'RESET', 'dropped the connection'],
    ['EPIPE', 'RESET', 'dropped the connection'],
    ['ETIMEDOUT', 'TIMEOUT', 'did not answer'],
    ['EACCES', 'PERMISSION_DENIED', 'firewall'],
    ['EADDRNOTAVAIL', 'ADDRESS_NOT_AVAILABLE', 'no usable local address'],
    ['EWHATEVER', 'UNKNOWN', 'cannot connect to 127.0.0.1:4001: syscall EWHATEVER'],
  ])('maps %s to %s (%s)', (nodeCode, code, text) => {
    const cause = nodeError(nodeCode)
    const error = dialError(cause, v4)
    expect(error.code).toBe(code)
    expect(error.message).toContain(text)
    expect(error.cause).toBe(cause)
  })

  it('explains a failed dial to every address of a host by the code and messages of its attempts', () => {
    const attempts = [nodeError('EWHATEVER', 'first try'), nodeError('EOTHER', 'second try')]
    const aggregate = Object.assign(new AggregateError(attempts), { code: 'EWHATEVER' })
    expect(dialError(aggregate, v4).message).toBe('cannot connect to 127.0.0.1:4001: first try; second try')
    const refused = Object.assign(new AggregateError([nodeError('ECONNREFUSED')]), { code: 'ECONNREFUSED' })
    expect(dialError(refused, v4).code).toBe('CONNECTION_REFUSED')
  })

  it('reports a cancelled dial as ABORTED with the abort reason as cause', () => {
    const reason = new Error('user pressed ctrl-c')
    const error = abortedError(v6, reason)
    expect(error.code).toBe('ABORTED')
    expect(error.message).toBe('connecting to [::1]:4001 was cancelled')
    expect(error.cause).toBe(reason)
  })

  it('reports a slow dial as TIMEOUT naming the limit', () => {
    const error = timeoutError(v4, 250)
    expect(error.code).toBe('TIMEOUT')
    expect(error.message).toContain('127.0.0.1:4001 did not answer within 250 ms')
  })
})

describe('link errors', () => {
  it.each([
    ['ECONNRESET', 'RESET', 'was reset by the other end'],
    ['EPIPE', 'RESET', 'was reset by the other end'],
    ['ETIMEDOUT', 'TIMEOUT', 'timed out'],
    ['EHOSTUNREACH', 'UNREACHABLE', 'can no longer reach it'],
    ['EPROTO', 'UNKNOWN', 'failed: syscall EPROTO'],
  ])('maps %s to %s (%s)', (nodeCode, code, text) => {
    const error = linkError(nodeError(nodeCode))
    expect(error.code).toBe(code)
    // The line that shows it names the peer; the link's own address is a passing port for one that dialed in.
    expect(error.message).toMatch(/^the connection /)
    expect(error.message).toContain(text)
  })
})
