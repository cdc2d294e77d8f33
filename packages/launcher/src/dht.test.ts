import type { DhtLink, DhtTransport, DhtTransportOptions } from '@parley/transport-dht'
import { DhtError } from '@parley/transport-dht/addresses'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { DhtNetwork } from './dht.js'

const KEY = 'a'.repeat(64)
const ADDRESS = `dht:${KEY}`
/** How long core waits at most between redials of a peer that does not answer (DEFAULT_BACKOFF.maxMs). */
const REDIAL_MS = 1_000

/** What a lookup of `KEY` finds: nobody, a node that cannot be reached (failing with `failure`), or it. */
type Peer = 'absent' | 'unreachable' | 'up'

/**
 * A DHT on which `KEY` is as `peer.now` says; every dial is one lookup. An unreachable peer's dial fails
 * with `peer.failure`, `peer.failAfterMs` after it began (a timeout takes long, a refusal is quick).
 */
async function network() {
  const lookups: number[] = []
  const peer: { now: Peer; failure: () => unknown; failAfterMs: number } = {
    now: 'absent',
    failure: () => new DhtError('HOLEPUNCH_FAILED', 'cannot punch through the NATs between this node and it'),
    failAfterMs: 0,
  }
  let onLink: ((link: DhtLink) => void) | undefined
  const link = { remoteKey: KEY, path: { kind: 'holepunched' }, destroy: () => {} } as unknown as DhtLink
  const dht = {
    publicKey: 'b'.repeat(64),
    dial: async () => {
      lookups.push(Date.now())
      if (peer.now === 'absent')
        throw new DhtError('PEER_NOT_FOUND', 'no node announces it on the DHT; is it running with --dht?')
      if (peer.now === 'unreachable') {
        if (peer.failAfterMs > 0) await new Promise((resolve) => setTimeout(resolve, peer.failAfterMs))
        throw peer.failure()
      }
      return link
    },
    close: async () => {},
  } as unknown as DhtTransport
  const start = async (options: DhtTransportOptions) => {
    onLink = options.onLink
    return dht
  }
  const net = await DhtNetwork.start(
    { publicKey: new Uint8Array(32), secretKey: new Uint8Array(64) },
    { rooms: [] },
    {},
    undefined,
    start,
  )
  net.createListener(() => {})
  const announced = {
    set now(yes: boolean) {
      peer.now = yes ? 'up' : 'absent'
    },
  }
  return { net, lookups, announced, peer, linkCameUp: () => onLink?.(link) }
}

/** Redials `ADDRESS` as core does when its dials keep failing: again `REDIAL_MS` after each, until `until`. */
async function redialUntil(net: DhtNetwork, until: number): Promise<void> {
  while (Date.now() < until) {
    await net.dial(ADDRESS).catch(() => {})
    await new Promise((resolve) => setTimeout(resolve, REDIAL_MS))
  }
}

describe('dialing by key a key that no node announces', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('looks the key up after 1 s, then twice as late each time up to every 8 s, while redialed every second', async () => {
    const { net, lookups } = await network()
    const done = redialUntil(net, 60_000)
    await vi.advanceTimersByTimeAsync(70_000)
    await done
    const inAMinute = lookups.filter((at) => at < 60_000)
    expect(inAMinute).toEqual([0, 1_000, 3_000, 7_000, 15_000, 23_000, 31_000, 39_000, 47_000, 55_000])
  })

  it('looks up a peer it found every second for 10 s after it went (it may be restarting), then less often', async () => {
    const { net, lookups, announced } = await network()
    const done = redialUntil(net, 40_000)
    await vi.advanceTimersByTimeAsync(16_000)
    expect(lookups).toEqual([0, 1_000, 3_000, 7_000, 15_000])
    announced.now = true
    await vi.advanceTimersByTimeAsync(7_500)
    expect(lookups.at(-1)).toBe(23_000)
    // The link it found broke, and the peer is gone from the DHT (it restarts, say).
    announced.now = false
    await vi.advanceTimersByTimeAsync(20_000)
    await done
    const everySecond = Array.from({ length: 11 }, (_, i) => 24_000 + i * 1_000)
    expect(lookups.slice(5)).toEqual([23_000, ...everySecond, 36_000, 40_000])
  })

  it('looks up again at once, then every second, after a link with the key came up some other way (it dialed this node)', async () => {
    const { net, lookups, linkCameUp } = await network()
    const done = redialUntil(net, 20_000)
    await vi.advanceTimersByTimeAsync(15_500)
    expect(lookups).toEqual([0, 1_000, 3_000, 7_000, 15_000])
    linkCameUp()
    await vi.advanceTimersByTimeAsync(6_000)
    await done
    expect(lookups.slice(5)).toEqual([16_000, 17_000, 18_000, 19_000])
  })

  it('gives up a dial that waits for its next lookup as soon as it is aborted, without looking up', async () => {
    const { net, lookups } = await network()
    await net.dial(ADDRESS).catch(() => {})
    const abort = new AbortController()
    const dial = net.dial(ADDRESS, { signal: abort.signal })
    const outcome = dial.catch((error: unknown) => error)
    abort.abort()
    await expect(outcome).resolves.toMatchObject({ code: 'ABORTED' })
    expect(lookups).toEqual([0])
  })
})

describe('dialing by key a key that is announced but whose node cannot be reached', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  const failures: [string, () => unknown][] = [
    ['the NATs cannot be punched', () => new DhtError('HOLEPUNCH_FAILED', 'cannot punch through the NATs')],
    ['not even the relay connects', () => new DhtError('RELAY_FAILED', 'not even through the relay')],
    [
      'its node does not answer',
      () => new DhtError('CONNECTION_FAILED', 'the node announcing it did not answer'),
    ],
    ['its node refuses the dial', () => new DhtError('REFUSED', 'it does not accept dials')],
    [
      'the connection is reset',
      () => Object.assign(new Error('connection reset by peer'), { code: 'ECONNRESET' }),
    ],
  ]

  it.each(failures)(
    'when %s: dials after 1 s, then twice as late each time up to every 8 s, while redialed every second',
    async (_why, failure) => {
      const { net, lookups, peer } = await network()
      peer.now = 'unreachable'
      peer.failure = failure
      const done = redialUntil(net, 60_000)
      await vi.advanceTimersByTimeAsync(70_000)
      await done
      const inAMinute = lookups.filter((at) => at < 60_000)
      expect(inAMinute).toEqual([0, 1_000, 3_000, 7_000, 15_000, 23_000, 31_000, 39_000, 47_000, 55_000])
    },
  )

  it('looks it up once every 8 s, not every second, through an hour it stays unreachable', async () => {
    const { net, lookups, peer } = await network()
    peer.now = 'unreachable'
    const done = redialUntil(net, 3_600_000)
    await vi.advanceTimersByTimeAsync(3_610_000)
    await done
    const inAnHour = lookups.filter((at) => at < 3_600_000)
    // 0, 1, 3, 7 s, then every 8 s from 15 s: 4 + 449, where core's redials alone would be 3 600.
    expect(inAnHour).toHaveLength(453)
  })

  it('dials a peer it was linked with every second for 10 s after its dials began to fail, and meets it within 8 s of its return', async () => {
    const { net, lookups, peer } = await network()
    peer.now = 'up'
    await net.dial(ADDRESS)
    // The link broke: the peer restarts, and its old announcement still points at the process that quit.
    peer.now = 'unreachable'
    const done = redialUntil(net, 120_000)
    await vi.advanceTimersByTimeAsync(12_500)
    const everySecond = Array.from({ length: 10 }, (_, i) => 1_000 + i * 1_000)
    expect(lookups).toEqual([0, 0, ...everySecond, 12_000])
    await vi.advanceTimersByTimeAsync(40_500 - 12_500)
    expect(lookups.slice(13)).toEqual([16_000, 24_000, 32_000, 40_000])
    // Back after a long absence: found at the next lookup, 8 s after the last at most.
    peer.now = 'up'
    await vi.advanceTimersByTimeAsync(8_000)
    expect(lookups.slice(17)).toEqual([48_000])
    await vi.advanceTimersByTimeAsync(120_000)
    await done
  })

  it('dials again at once after a dial that failed only after its wait was over (a timeout): no slower than before', async () => {
    const { net, lookups, peer } = await network()
    peer.now = 'unreachable'
    peer.failure = () => new DhtError('CONNECTION_FAILED', 'the node announcing it did not answer')
    peer.failAfterMs = 8_000
    const done = redialUntil(net, 40_000)
    await vi.advanceTimersByTimeAsync(50_000)
    await done
    expect(lookups).toEqual([0, 9_000, 18_000, 27_000, 36_000])
  })

  it('holds back no dial after one that was aborted (core had the peer some other way)', async () => {
    const { net, lookups, peer } = await network()
    peer.now = 'unreachable'
    peer.failure = () => new DhtError('ABORTED', 'connecting to it was cancelled')
    await net.dial(ADDRESS).catch(() => {})
    await net.dial(ADDRESS).catch(() => {})
    expect(lookups).toEqual([0, 0])
  })

  it('starts the row over once a link with the key comes up', async () => {
    const { net, lookups, peer, linkCameUp } = await network()
    peer.now = 'unreachable'
    const done = redialUntil(net, 20_000)
    await vi.advanceTimersByTimeAsync(15_500)
    expect(lookups).toEqual([0, 1_000, 3_000, 7_000, 15_000])
    linkCameUp()
    await vi.advanceTimersByTimeAsync(6_000)
    await done
    // Linked in this run now: every second while it keeps failing, for 10 s.
    expect(lookups.slice(5)).toEqual([16_000, 17_000, 18_000, 19_000])
  })
})
