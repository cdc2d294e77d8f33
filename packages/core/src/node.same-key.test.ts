/**
 * Two live nodes with one key (a data dir copied and run twice) next to a peer: the peer tells its user
 * once, the copies learn it, and the links stop taking turns; a restart of the key (a new process, the old
 * one gone, its link lingering or not) still replaces the old link at once and loses nothing.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { flushMicrotasks } from '../test/manual-clock.js'
import { closeNodes, nodeWorld } from '../test/node-world.js'
import { RawPeer } from '../test/raw-peer.js'
import type { Address } from './address.js'
import { makeHello } from './link-machine.js'
import { ROOM_CAP } from './links.js'
import { type RandomFill, webCryptoFill } from './random-id.js'
import { SAME_KEY } from './same-key.js'

const LOW = '1111111111111111'
const HIGH = 'eeeeeeeeeeeeeeee'
const BOB_AT: Address = '127.0.0.1:4002'

afterEach(closeNodes)

/** A random source whose first draw (the node's instance) starts with `first`: which copy is lower. */
function startingWith(first: number): RandomFill {
  let draws = 0
  return (into) => {
    webCryptoFill(into)
    if (draws++ === 0) into[0] = first
  }
}

/**
 * Bob, and two nodes with alice's key dialing him from their own addresses, the second a little later;
 * `lower` is the one whose instance is lower (the one every neighbour keeps).
 */
async function twins(aliceId: string, bobId: string, lower: 'first' | 'second') {
  const { clock, node, network } = nodeWorld()
  const bob = node('bob', BOB_AT, { id: bobId })
  await bob.node.start()
  const [a, b] = lower === 'first' ? [0x10, 0xf0] : [0xf0, 0x10]
  const one = node('alice', '127.0.0.1:4001', { id: aliceId, peers: [BOB_AT], randomBytes: startingWith(a) })
  await one.node.start()
  await clock.advance(1_000)
  const two = node('alice', '127.0.0.1:4003', { id: aliceId, peers: [BOB_AT], randomBytes: startingWith(b) })
  await two.node.start()
  const [kept, turnedAway] = lower === 'first' ? [one, two] : [two, one]
  return { clock, node, network, bob, one, two, kept, turnedAway }
}

const CASES = [
  { decides: 'alice', aliceId: LOW, bobId: HIGH, lower: 'first' },
  { decides: 'alice', aliceId: LOW, bobId: HIGH, lower: 'second' },
  { decides: 'bob', aliceId: HIGH, bobId: LOW, lower: 'first' },
  { decides: 'bob', aliceId: HIGH, bobId: LOW, lower: 'second' },
] as const

describe('two nodes running with one key', () => {
  it.each(CASES)(
    'the peer says so once and the links stop taking turns ($decides decides the links, the $lower copy is lower)',
    async ({ aliceId, bobId, lower }) => {
      const { clock, bob, one, two, kept, turnedAway } = await twins(aliceId, bobId, lower)
      await clock.advance(60_000)
      const connectedAtOneMinute = bob.events.of('connected').length
      await clock.advance(120_000)

      expect(bob.events.of('same-key')).toEqual([
        {
          type: 'same-key',
          peer: { id: aliceId, name: 'alice' },
          addresses: [
            expect.objectContaining({ listen: '127.0.0.1:4003' }),
            expect.objectContaining({ listen: '127.0.0.1:4001' }),
          ],
        },
      ])
      // The second copy took the link once; the first, back, took it again only if it is the lower one
      // (every neighbour keeps the same one); the other was let in no more while it was there.
      expect(connectedAtOneMinute).toBe(lower === 'first' ? 3 : 2)
      expect(bob.events.of('connected')).toHaveLength(connectedAtOneMinute)
      expect(bob.events.of('link-error')).toEqual([])
      // A copy whose link another took learnt why, once: the first always, the second when it lost it back.
      const told = { type: 'key-in-use', peer: { id: bobId, name: 'bob' } }
      expect(one.events.of('key-in-use')).toEqual([told])
      expect(two.events.of('key-in-use')).toEqual(lower === 'first' ? [told] : [])
      // The one turned away backs off (a refusal: 2 s, doubling up to 30 s). Where it decides the links,
      // each redial opens before bob's bye arrives: ended as refusals, which frontends do not show.
      const lost = turnedAway.events.of('disconnected')
      expect(lost.length).toBeGreaterThanOrEqual(1)
      expect(lost.length).toBeLessThanOrEqual(11)
      expect(lost.filter((e) => e.refusal !== SAME_KEY)).toEqual([])
      expect(turnedAway.node.peerStates()[0]?.state).toMatchObject({
        status: 'reconnecting',
        refused: { by: 'peer', code: SAME_KEY },
      })
      expect(kept.node.peerStates()[0]?.state.status).toBe('connected')
      expect(kept.events.of('disconnected')).toHaveLength(lower === 'first' ? 1 : 0)
    },
  )

  it.each(CASES)(
    'the copy turned away is let in soon after the other quits, and delivers ($decides decides the links, the $lower copy is lower)',
    async ({ aliceId, bobId, lower }) => {
      const { clock, bob, kept, turnedAway } = await twins(aliceId, bobId, lower)
      await clock.advance(60_000)
      expect(bob.events.of('same-key')).toHaveLength(1)
      await kept.node.close()
      await clock.advance(31_000)
      expect(turnedAway.node.peerStates()[0]?.state.status).toBe('connected')
      turnedAway.node.send('after the other copy quit')
      await clock.advance(100)
      expect(bob.events.bodies()).toEqual(['after the other copy quit'])
      expect(await turnedAway.node.whenDelivered(1_000)).toBe(0)
      expect(bob.events.of('same-key')).toHaveLength(1)
    },
  )

  it('a restart (the old process gone, its link still open at the peer) replaces the old link at once, and again', async () => {
    const { clock, node, network } = nodeWorld()
    const bob = node('bob', BOB_AT, { id: LOW })
    await bob.node.start()
    // The first process died without a word (kill -9 over a path that delivers no reset): its link stays.
    const dead = new RawPeer(await network.transport('127.0.0.1').dial(BOB_AT))
    dead.send(makeHello({ id: HIGH, name: 'alice', instance: 'dead-one' }, ['epoch:e1', ROOM_CAP]))
    await clock.advance(0)
    expect(bob.events.of('connected')).toHaveLength(1)

    for (const run of ['second', 'third']) {
      const alice = node('alice', '127.0.0.1:0', { id: HIGH, peers: [BOB_AT] })
      await alice.node.start()
      await clock.advance(0)
      expect(alice.node.peerStates()[0]?.state.status).toBe('connected')
      alice.node.send(`from the ${run} run`)
      await clock.advance(0)
      expect(await alice.node.whenDelivered(1_000)).toBe(0)
      expect(alice.events.of('key-in-use')).toEqual([])
      await alice.node.close()
      await flushMicrotasks()
    }
    expect(bob.events.bodies()).toEqual(['from the second run', 'from the third run'])
    expect(bob.events.of('same-key')).toEqual([])
    expect(bob.events.of('connected')).toHaveLength(3)
    // The lingering link was closed for the new process's at once. Its bye says another node has the key:
    // a process still there to read it would be one.
    expect(dead.received.at(-1)).toMatchObject({ type: 'bye', code: SAME_KEY })
  })
})
