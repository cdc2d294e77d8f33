import { afterEach, describe, expect, it } from 'vitest'
import { fakeAuth, signedHere } from '../test/fake-auth.js'
import { closeNodes, nodeWorld } from '../test/node-world.js'
import { RawPeer } from '../test/raw-peer.js'
import type { Address } from './address.js'
import { HERE_CAP, ROOM_CAP } from './links.js'
import { PRESENCE_DEFAULTS } from './presence.js'

afterEach(closeNodes)

const A: Address = '127.0.0.1:4001'
const B: Address = '127.0.0.1:4002'
const C: Address = '127.0.0.1:4003'
const ALICE = '1111111111111111'
const BOB = '2222222222222222'
const CAROL = '3333333333333333'
const RAW = 'eeeeeeeeeeeeeeee'

/**
 * alice—bob—carol, carol only reads; a raw neighbour of bob says presences at exactly the rate bob takes,
 * each newer, for four times the expiry, of the keys `from(i)` gives. Returns when alice did not list
 * carol as there (sampled every 10 s of the clock).
 */
async function lapsesOfCarol(from: (i: number) => string): Promise<number[]> {
  const w = nodeWorld()
  const bob = w.node('bob', B, { id: BOB, auth: fakeAuth(BOB), deadAfterMs: 3_600_000 })
  const alice = w.node('alice', A, { id: ALICE, peers: [B], auth: fakeAuth(ALICE), deadAfterMs: 3_600_000 })
  const carol = w.node('carol', C, { id: CAROL, peers: [B], auth: fakeAuth(CAROL), deadAfterMs: 3_600_000 })
  await bob.node.start()
  await alice.node.start()
  await carol.node.start()
  await w.clock.advance(100)
  expect(alice.node.members().find((m) => m.peer.id === CAROL)).toMatchObject({ present: true })
  const raw = new RawPeer(await w.network.transport('127.0.0.9', RAW).dial(B))
  raw.hello(RAW, 'raw', [ROOM_CAP, HERE_CAP])
  await w.clock.advance(0)
  raw.send({ type: 'ack', upTo: 0, base: 0 })
  const every = 1000 / PRESENCE_DEFAULTS.rate.perSecond
  const lapses: number[] = []
  for (let i = 0, t = 0; t < 4 * PRESENCE_DEFAULTS.expiryMs; i++, t += every) {
    if (t % 10_000 === 0 && alice.node.members().find((m) => m.peer.id === CAROL)?.present !== true)
      lapses.push(t)
    raw.send(signedHere(from(i), 'raw', w.clock.now()))
    await w.clock.advance(every)
  }
  // It never went past its allowance.
  expect(raw.closed).toBe(false)
  expect(bob.events.of('link-error')).toEqual([])
  return lapses
}

describe('a relay next to a neighbour that says presences at the rate its link allows', () => {
  it('its own: the presence of a member that only reads still goes through, and it stays there behind the relay', async () => {
    expect(await lapsesOfCarol(() => RAW)).toEqual([])
  })

  it('of throwaway keys that fill the member table, each saved up: the reading member still stays there', async () => {
    const key = (i: number) => (0x4000000000000000n + BigInt(i % 990)).toString(16)
    expect(await lapsesOfCarol(key)).toEqual([])
  })
})
