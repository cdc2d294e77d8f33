import type { Link } from '@parley/core'
import { createTcpTransport } from '@parley/transport-tcp'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { MAX_RECORD } from '../src/secure-link.js'
import {
  accepting,
  closeAll,
  frameLengths,
  record,
  secureNode,
  tapTransport,
  text,
  track,
} from './helpers.js'

afterEach(async () => {
  vi.useRealTimers()
  await closeAll()
})

/** Frames the dialer writes before its first data record: Noise e, Noise s, secretstream header, status. */
const DIALER_HANDSHAKE_FRAMES = 4

async function pair(): Promise<{ dialed: Link; accepted: Link; written: () => number[] }> {
  const tapped = tapTransport(createTcpTransport())
  const alice = secureNode({}, tapped.transport)
  const server = await accepting(secureNode().transport)
  const dialed = await alice.transport.dial(server.address)
  track(() => dialed.destroy())
  const accepted = await server.nextLink()
  const tap = tapped.taps[0]!
  return {
    dialed,
    accepted,
    written: () => frameLengths(Buffer.concat(tap.written)).slice(DIALER_HANDSHAKE_FRAMES),
  }
}

describe('coalescing', () => {
  it('sends the frames written in one tick as one encrypted record', async () => {
    const { dialed, accepted, written } = await pair()
    const atBob = record(accepted)
    const frame = Buffer.alloc(120, 'x')
    for (let i = 0; i < 50; i++) expect(dialed.write(frame)).toBe(true)
    await atBob.waitForBytes(50 * 120)
    expect(written()).toEqual([50 * 120 + 17])

    dialed.write(frame)
    await atBob.waitForBytes(51 * 120)
    expect(written()).toHaveLength(2)
  })

  it('cuts a large burst into records of at most MAX_RECORD bytes, in order', async () => {
    const { dialed, accepted, written } = await pair()
    const atBob = record(accepted)
    const chunks = Array.from({ length: 10 }, (_, i) => Buffer.alloc(20_000, 65 + i))
    for (const chunk of chunks) dialed.write(chunk)
    expect((await atBob.waitForBytes(200_000)).equals(Buffer.concat(chunks))).toBe(true)
    expect(written()).toEqual([
      MAX_RECORD + 17,
      MAX_RECORD + 17,
      MAX_RECORD + 17,
      200_000 - 3 * MAX_RECORD + 17,
    ])
  })

  it('sends a lone write at once, without waiting for any timer', async () => {
    const { dialed, accepted } = await pair()
    let resolve!: (chunk: Uint8Array) => void
    const arrived = new Promise<Uint8Array>((r) => {
      resolve = r
    })
    accepted.attach({ data: resolve, drain: () => {}, close: () => {} })
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval', 'setImmediate'] })
    dialed.write(text('just one'))
    expect(Buffer.from(await arrived).toString()).toBe('just one')
  })
})

describe('the Link contract', () => {
  it('returns false from write when the buffer is full, then drains, delivering everything in order', async () => {
    const { dialed, accepted } = await pair()
    const atBob = record(accepted)
    let drained!: () => void
    const drain = new Promise<void>((resolve) => {
      drained = resolve
    })
    dialed.attach({ data: () => {}, drain: () => drained(), close: () => {} })
    const chunk = Buffer.alloc(16 * 1024)
    const sent: Buffer[] = []
    let falses = 0
    for (let i = 0; i < 64; i++) {
      chunk.fill(i)
      sent.push(Buffer.from(chunk))
      if (!dialed.write(Buffer.from(chunk))) falses++
    }
    expect(falses).toBeGreaterThan(0)
    expect((await atBob.waitForBytes(64 * chunk.length)).equals(Buffer.concat(sent))).toBe(true)
    await drain
  })

  it('delivers bytes that arrived before attach, then holds them while paused', async () => {
    const { dialed, accepted } = await pair()
    dialed.write(text('early '))
    await new Promise((resolve) => setTimeout(resolve, 30))
    const atBob = record(accepted)
    expect((await atBob.waitForBytes(6)).toString()).toBe('early ')

    accepted.pause()
    dialed.write(text('late'))
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect(atBob.bytes().toString()).toBe('early ')
    accepted.resume()
    expect((await atBob.waitForBytes(10)).toString()).toBe('early late')
  })

  it('flushes what was written before end, then closes both ends cleanly, once', async () => {
    const { dialed, accepted } = await pair()
    const atBob = record(accepted)
    const atAlice = record(dialed)
    dialed.write(text('last words'))
    dialed.end()
    expect(dialed.write(text('too late'))).toBe(false)
    expect(await atBob.closed).toBeUndefined()
    expect(atBob.bytes().toString()).toBe('last words')
    expect(await atAlice.closed).toBeUndefined()
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(atBob.closes).toHaveLength(1)
    expect(atAlice.closes).toHaveLength(1)
  })

  it('closes at once on destroy, and the other end sees the link go', async () => {
    const { dialed, accepted } = await pair()
    const atBob = record(accepted)
    const atAlice = record(dialed)
    dialed.destroy()
    dialed.destroy()
    expect(await atAlice.closed).toBeUndefined()
    await atBob.closed
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(atAlice.closes).toHaveLength(1)
    expect(atBob.closes).toHaveLength(1)
    expect(dialed.write(text('x'))).toBe(false)
  })

  it('reports a close that happened before attach once attached', async () => {
    const { dialed, accepted } = await pair()
    dialed.destroy()
    await new Promise((resolve) => setTimeout(resolve, 30))
    const atBob = record(accepted)
    await atBob.closed
    expect(atBob.closes).toHaveLength(1)
  })
})
