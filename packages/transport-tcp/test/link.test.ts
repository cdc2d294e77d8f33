import { TransportError } from '@parley/core'
import { afterEach, describe, expect, it } from 'vitest'
import { createTcpTransport, formatAddress } from '../src/index.js'
import {
  accepting,
  closeAll,
  connectedPair,
  delay,
  portOf,
  rawClient,
  rawServer,
  record,
} from './loopback.js'

afterEach(closeAll)

const text = (value: string) => new TextEncoder().encode(value)

describe('links', () => {
  it('delivers bytes that arrived before attach, in order, then the clean close', async () => {
    const { address, nextLink } = await accepting()
    const client = await rawClient(address.port)
    const accepted = await nextLink()
    client.write('first ')
    client.end('second')
    // Both writes and the end are out: the accepted link's socket holds them, paused until attach.
    await new Promise((resolve) => client.once('finish', resolve))

    const received = record(accepted)
    expect(await received.closed).toBeUndefined()
    expect(received.bytes().toString()).toBe('first second')
  })

  it('delivers bytes the listener sent before the dialer attached', async () => {
    let sent!: () => void
    const welcomed = new Promise<void>((resolve) => {
      sent = resolve
    })
    const server = await rawServer('127.0.0.1', (socket) => socket.end('welcome', sent))
    const dialed = await createTcpTransport().dial(`127.0.0.1:${portOf(server)}`)
    // The listener's bytes and its end are out (the dialer's socket is paused until attach).
    await welcomed
    const received = record(dialed)
    expect(await received.closed).toBeUndefined()
    expect(received.bytes().toString()).toBe('welcome')
  })

  it('reports a close that happened before attach once attached', async () => {
    const { dialed } = await connectedPair()
    dialed.destroy()
    const recording = record(dialed)
    expect(await recording.closed).toBeUndefined()
    expect(recording.closes).toHaveLength(1)
  })

  it('calls close exactly once, with RESET, when the remote end resets the connection', async () => {
    const { address, nextLink } = await accepting()
    const client = await rawClient(address.port)
    const recording = record(await nextLink())
    client.resetAndDestroy()

    const error = await recording.closed
    expect(error).toBeInstanceOf(TransportError)
    expect(error).toMatchObject({ code: 'RESET', cause: { code: 'ECONNRESET' } })
    expect(error?.message).toContain('was reset by the other end')
    await delay(50)
    expect(recording.closes).toHaveLength(1)
  })

  it('calls close with RESET on the dialing side when the remote closes with our bytes unread', async () => {
    const transport = createTcpTransport()
    const { address, nextLink } = await accepting(transport)
    const dialed = await transport.dial(formatAddress(address))
    const recording = record(dialed)
    const accepted = await nextLink()
    // The accepted link is never attached, so the bytes stay unread in its kernel buffer and closing it
    // sends a reset instead of a clean end.
    dialed.write(text('unread'))
    await delay(20)
    accepted.destroy()
    expect(await recording.closed).toMatchObject({ code: 'RESET' })
    expect(recording.closes).toHaveLength(1)
  })

  it('flushes everything written before end, then both ends close without error', async () => {
    const { dialed, accepted } = await connectedPair()
    const atDialer = record(dialed)
    const atListener = record(accepted)
    const payload = Buffer.alloc(1024 * 1024, 'x')
    dialed.write(payload)
    dialed.end()
    expect(await atDialer.closed).toBeUndefined()
    expect(await atListener.closed).toBeUndefined()
    expect(atListener.bytes().equals(payload)).toBe(true)
    expect(atDialer.closes).toHaveLength(1)
    expect(atListener.closes).toHaveLength(1)
  })

  it('closes at once on destroy, and the remote end sees the link go', async () => {
    const { dialed, accepted } = await connectedPair()
    const atDialer = record(dialed)
    const atListener = record(accepted)
    dialed.destroy()
    expect(await atDialer.closed).toBeUndefined()
    await atListener.closed
    expect(atListener.closes).toHaveLength(1)
  })

  it('refuses writes after the link closed instead of raising an error', async () => {
    const { dialed, accepted } = await connectedPair()
    const recording = record(dialed)
    record(accepted)
    dialed.end()
    expect(dialed.write(text('too late'))).toBe(false)
    expect(await recording.closed).toBeUndefined()
    expect(dialed.write(text('much too late'))).toBe(false)
  })

  it('holds data while paused and delivers it after resume', async () => {
    const { dialed, accepted } = await connectedPair()
    accepted.pause()
    const atListener = record(accepted)
    record(dialed)
    dialed.write(text('waiting'))
    await delay(50)
    expect(atListener.bytes().length).toBe(0)
    accepted.resume()
    expect((await atListener.waitForBytes(7)).toString()).toBe('waiting')
  })

  it('refuses writes while the remote end is paused and drains once it resumes', async () => {
    const { dialed, accepted } = await connectedPair()
    accepted.pause()
    const atListener = record(accepted)
    const atDialer = record(dialed)
    const chunk = Buffer.alloc(4 * 1024, 'b')
    let written = 0
    let taken = 0
    // Write until the kernel buffers on both ends are full: then a refused write gets no drain.
    for (;;) {
      while (dialed.write(chunk)) {
        written += chunk.length
        taken++
      }
      written += chunk.length
      const drainsBefore = atDialer.drains()
      await delay(100)
      if (atDialer.drains() === drainsBefore) break
      if (written > 512 * 1024 * 1024) throw new Error('writes were never refused')
    }
    expect(taken).toBeGreaterThan(0)
    expect(atListener.bytes().length).toBe(0)

    const drainsWhilePaused = atDialer.drains()
    accepted.resume()
    const received = await atListener.waitForBytes(written)
    expect(received.length).toBe(written)
    expect(received.every((byte) => byte === 0x62)).toBe(true)
    expect(atDialer.drains()).toBeGreaterThan(drainsWhilePaused)
  })

  it('refuses a second attach', async () => {
    const { dialed } = await connectedPair()
    record(dialed)
    expect(() => dialed.attach({ data() {}, drain() {}, close() {} })).toThrow(TransportError)
  })
})
