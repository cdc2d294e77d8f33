/**
 * A member known only by its presence costs its key nothing: when the member table needs room, such
 * members go before members known by what they said, however recently their presence came.
 */
import { createHash } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { fakeAuth } from '../test/fake-auth.js'
import { closeNodes, nodeWorld } from '../test/node-world.js'
import { RawPeer } from '../test/raw-peer.js'
import type { Address } from './address.js'
import { HERE_CAP, ROOM_CAP } from './links.js'
import { Room } from './room.js'
import { canonicalHere } from './room-types.js'
import type { Here, Msg } from './schema.js'

afterEach(closeNodes)

const A: Address = '127.0.0.1:4001'
const ALICE = '1111111111111111'
const DAVE = '4444444444444444'
const ERIN = '5555555555555555'
const RELAY = 'dddddddddddddddd'
const RAW = 'eeeeeeeeeeeeeeee'

/** A `here` of `from`, signed as `fakeAuth` signs. */
function signedHere(from: string, name: string, ts: number): Here {
  const hash = createHash('sha256')
    .update(canonicalHere({ from, name, ts, state: 'here' }))
    .digest('hex')
  return { type: 'here', from, name, ts, state: 'here', sig: `sig:${from.slice(0, 16)}:${hash}` }
}

/** One message of `id`, signed as its node signs it. */
function signedMsg(id: string, name: string, ts: number, body: string): Msg[] {
  const room = new Room({ self: { id, name }, auth: fakeAuth(id) })
  room.compose({ id: `${name}-1`, ts, body, name })
  const sealed = room.seal()
  room.ownDurable(room.nextSeq - 1)
  return sealed
}

describe('a member table filled with throwaway presences', () => {
  it('makes room for a newcomer by forgetting one of them, not a member known by its messages', async () => {
    const w = nodeWorld()
    const alice = w.node('alice', A, {
      id: ALICE,
      auth: fakeAuth(ALICE),
      deadAfterMs: 3_600_000,
      maxOrigins: 6,
    })
    await w.clock.advance(60_000)
    await alice.node.start()
    const link = async (host: string, id: string) => {
      const raw = new RawPeer(await w.network.transport(host, id).dial(A))
      raw.hello(id, id.slice(0, 4), [ROOM_CAP, HERE_CAP])
      await w.clock.advance(0)
      raw.send({ type: 'ack', upTo: 0, base: 0 })
      await w.clock.advance(0)
      return raw
    }
    // An honest neighbour relays dave, who spoke once.
    const relay = await link('127.0.0.8', RELAY)
    for (const msg of signedMsg(DAVE, 'dave', w.clock.now(), 'hi')) relay.send(msg)
    await w.clock.advance(1_000)
    expect(alice.events.bodies()).toEqual(['hi'])
    // A hostile one fills every free place with presences of throwaway keys, refreshed since.
    const raw = await link('127.0.0.9', RAW)
    const key = (i: number) => (0x4000000000000000n + BigInt(i)).toString(16)
    for (let i = 0; i < 10; i++) raw.send(signedHere(key(i), `k${i}`, w.clock.now()))
    await w.clock.advance(1_000)
    expect(alice.node.members()).toHaveLength(6)
    // Erin speaks: someone makes room for her.
    for (const msg of signedMsg(ERIN, 'erin', w.clock.now(), 'hello')) relay.send(msg)
    await w.clock.advance(1_000)
    expect(alice.events.bodies()).toEqual(['hi', 'hello'])
    const ids = alice.node.members().map((m) => m.peer.id)
    expect(ids).toContain(ERIN)
    expect(ids).toContain(DAVE)
    expect(raw.closed).toBe(false)
  })
})
