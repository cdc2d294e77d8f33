import { Socket } from 'node:net'
import { TransportError } from '@parley/core'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createTcpTransport, formatAddress } from '../src/index.js'
import { accepting, closeAll, closedPort, connectedPair, delay, record, silentPeer } from './loopback.js'

afterEach(() => {
  vi.restoreAllMocks()
  closeAll()
})

const text = (value: string) => new TextEncoder().encode(value)

describe('dialing', () => {
  it('carries bytes both ways between the dialed and the accepted link', async () => {
    const { dialed, accepted } = await connectedPair()
    const atListener = record(accepted)
    const atDialer = record(dialed)
    dialed.write(text('ping from dialer'))
    accepted.write(text('pong from listener'))
    expect((await atListener.waitForBytes(16)).toString()).toBe('ping from dialer')
    expect((await atDialer.waitForBytes(18)).toString()).toBe('pong from listener')
  })

  it('describes both ends of a link with their directions and HOST:PORT addresses', async () => {
    const { dialed, accepted } = await connectedPair()
    expect(dialed.direction).toBe('outbound')
    expect(accepted.direction).toBe('inbound')
    expect(dialed.remoteAddress).toBe(accepted.localAddress)
    expect(accepted.remoteAddress).toBe(dialed.localAddress)
    expect(dialed.localAddress).toMatch(/^127\.0\.0\.1:\d+$/)
  })

  it('names the remote host, without the port, as the source caps per source count by', async () => {
    const { dialed, accepted } = await connectedPair()
    expect(accepted.source).toBe('127.0.0.1')
    expect(dialed.source).toBe('127.0.0.1')
  })

  it('dials a host name', async () => {
    const transport = createTcpTransport()
    const { address, nextLink } = await accepting(transport, 'localhost:0')
    const dialed = await transport.dial(`localhost:${address.port}`)
    expect(dialed.remoteAddress).toBe(formatAddress(address))
    const received = record(await nextLink())
    record(dialed)
    dialed.write(text('hi'))
    expect((await received.waitForBytes(2)).toString()).toBe('hi')
  })

  it('turns on TCP_NODELAY on dialed and accepted sockets', async () => {
    const setNoDelay = vi.spyOn(Socket.prototype, 'setNoDelay')
    await connectedPair()
    expect(setNoDelay.mock.calls.filter(([on]) => on === true).length).toBeGreaterThanOrEqual(2)
  })

  it('fails with CONNECTION_REFUSED when nobody listens on the port', async () => {
    const address = `127.0.0.1:${await closedPort()}`
    const error = await createTcpTransport()
      .dial(address)
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TransportError)
    expect(error).toMatchObject({ code: 'CONNECTION_REFUSED', cause: { code: 'ECONNREFUSED' } })
    expect((error as Error).message).toContain(`nobody is listening at ${address}`)
  })

  it('fails with ABORTED when cancelled before the connection is made', async () => {
    const { address } = await accepting()
    const controller = new AbortController()
    const dialing = createTcpTransport().dial(formatAddress(address), { signal: controller.signal })
    const reason = new Error('changed my mind')
    controller.abort(reason)
    await expect(dialing).rejects.toMatchObject({ code: 'ABORTED', cause: reason })
  })

  it('fails with ABORTED at once when the signal was already aborted', async () => {
    const { address } = await accepting()
    const dialing = createTcpTransport().dial(formatAddress(address), { signal: AbortSignal.abort() })
    await expect(dialing).rejects.toMatchObject({ code: 'ABORTED' })
  })

  it('fails with ABORTED when cancelled while the remote has not answered', async () => {
    const address = await silentPeer()
    const controller = new AbortController()
    const dialing = createTcpTransport().dial(address, { signal: controller.signal, timeoutMs: Infinity })
    let settled = false
    dialing.then(
      () => (settled = true),
      () => (settled = true),
    )
    await delay(100)
    expect(settled).toBe(false)
    controller.abort()
    await expect(dialing).rejects.toMatchObject({ code: 'ABORTED' })
  })

  it('fails with TIMEOUT when the remote never answers within timeoutMs', async () => {
    const address = await silentPeer()
    const error = await createTcpTransport()
      .dial(address, { timeoutMs: 200 })
      .catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'TIMEOUT' })
    expect((error as Error).message).toContain(`${address} did not answer within 200 ms`)
  })

  it('applies the transport-wide dial timeout when the dial gives none', async () => {
    const address = await silentPeer()
    const dialing = createTcpTransport({ dialTimeoutMs: 150 }).dial(address)
    await expect(dialing).rejects.toMatchObject({ code: 'TIMEOUT' })
  })
})
