/**
 * Presence relayed to a neighbour is kept under the allowance that neighbour enforces: a hostile neighbour
 * that says its own presence as fast as its link allows must not take that allowance whole, or no other
 * member's presence would go through the relay, and members there would lapse where it relays to.
 */
import { createHash } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { fakeAuth } from '../test/fake-auth.js'
import { closeNodes, nodeWorld } from '../test/node-world.js'
import { RawPeer } from '../test/raw-peer.js'
import type { Address } from './address.js'
import { HERE_CAP, ROOM_CAP } from './links.js'
import { PRESENCE_DEFAULTS } from './presence.js'
import { canonicalHere } from './room-types.js'
import type { Here } from './schema.js'

afterEach(closeNodes)

const A: Address = '127.0.0.1:4001'
const B: Address = '127.0.0.1:4002'
const C: Address = '127.0.0.1:4003'
const ALICE = '1111111111111111'
const BOB = '2222222222222222'
const CAROL = '3333333333333333'
const RAW = 'eeeeeeeeeeeeeeee'

/** A `here` of `from`, signed as `fakeAuth` signs. */
function signedHere(from: string, name: string, ts: number): Here {
  const hash = createHash('sha256')
    .update(canonicalHere({ from, name, ts, state: 'here' }))
    .digest('hex')
  return { type: 'here', from, name, ts, state: 'here', sig: `sig:${from.slice(0, 16)}:${hash}` }
}

describe('a relay next to a neighbour that says its own presence at the rate its link allows', () => {
  it('still relays the presence of a member that only reads: it stays there where the relay sends it', async () => {
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
    // Its own presence, each one newer, at exactly the rate bob takes, for twice the expiry.
    const every = 1000 / PRESENCE_DEFAULTS.rate.perSecond
    for (let t = 0; t < 2 * PRESENCE_DEFAULTS.expiryMs; t += every) {
      raw.send(signedHere(RAW, 'raw', w.clock.now()))
      await w.clock.advance(every)
    }
    expect(raw.closed).toBe(false)
    expect(alice.node.members().find((m) => m.peer.id === CAROL)).toMatchObject({ present: true })
  })
})
