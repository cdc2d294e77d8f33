import type { DhtLink, DhtTransport, DhtTransportOptions } from '@parley/transport-dht'
import { DhtError } from '@parley/transport-dht/addresses'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { DhtNetwork } from './dht.js'

const KEY = 'a'.repeat(64)
const ADDRESS = `dht:${KEY}`
/** How long core waits at most between redials of a peer that does not answer (DEFAULT_BACKOFF.maxMs). */
const REDIAL_MS = 1_000

/** A DHT on which `KEY` is announced only while `announced.now` is true; every dial is one lookup. */
async function network() {
  const lookups: number[] = []
  const announced = { now: false }
  let onLink: ((link: DhtLink) => void) | undefined
  const link = { remoteKey: KEY, path: { kind: 'holepunched' }, destroy: () => {} } as unknown as DhtLink
  const dht = {
    publicKey: 'b'.repeat(64),
    dial: async () => {
      lookups.push(Date.now())
      if (!announced.now)
        throw new DhtError('PEER_NOT_FOUND', 'no node announces it on the DHT; is it running with --dht?')
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
  return { net, lookups, announced, linkCameUp: () => onLink?.(link) }
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
