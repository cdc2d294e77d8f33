/**
 * A member's `gone` is told once: a member that already said it left, and said nothing since, is not told
 * as leaving again by another `gone` of its key (a hostile member, or a relay holding several).
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
const CAROL = '3333333333333333'
const RAW = 'eeeeeeeeeeeeeeee'

/** A `here` of `from`, signed as `fakeAuth` signs. */
function signedHere(from: string, name: string, ts: number, state: 'here' | 'gone' = 'here'): Here {
  const hash = createHash('sha256').update(canonicalHere({ from, name, ts, state })).digest('hex')
  return { type: 'here', from, name, ts, state, sig: `sig:${from.slice(0, 16)}:${hash}` }
}

/** One message of `id`, signed as its node signs it. */
function signedMsg(id: string, name: string, ts: number, body: string): Msg[] {
  const room = new Room({ self: { id, name }, auth: fakeAuth(id) })
  room.compose({ id: `${name}-1`, ts, body, name })
  const sealed = room.seal()
  room.ownDurable(room.nextSeq - 1)
  return sealed
}

describe('a member that said it left', () => {
  it('is told as leaving once, however many more of its gone frames come', async () => {
    const w = nodeWorld()
    const alice = w.node('alice', A, { id: ALICE, auth: fakeAuth(ALICE), deadAfterMs: 3_600_000 })
    await w.clock.advance(60_000)
    await alice.node.start()
    const raw = new RawPeer(await w.network.transport('127.0.0.9', RAW).dial(A))
    raw.hello(RAW, 'raw', [ROOM_CAP, HERE_CAP])
    await w.clock.advance(0)
    raw.send({ type: 'ack', upTo: 0, base: 0 })
    await w.clock.advance(0)
    // Carol, reached through the raw neighbour, speaks, and is there.
    const t = w.clock.now()
    for (const msg of signedMsg(CAROL, 'carol', t, 'hi')) raw.send(msg)
    raw.send(signedHere(CAROL, 'carol', t))
    await w.clock.advance(10)
    expect(alice.events.bodies()).toEqual(['hi'])
    raw.send(signedHere(CAROL, 'carol', t + 1, 'gone'))
    await w.clock.advance(10)
    expect(alice.events.of('member-left').map((e) => e.peer.id)).toEqual([CAROL])
    // Her key says it left again, and again: she left once.
    for (let i = 2; i < 12; i++) raw.send(signedHere(CAROL, 'carol', t + i, 'gone'))
    // Then she is there and leaves once more: told once more.
    raw.send(signedHere(CAROL, 'carol', t + 20))
    raw.send(signedHere(CAROL, 'carol', t + 21, 'gone'))
    await w.clock.advance(10)
    expect(alice.events.of('member-left').map((e) => e.peer.id)).toEqual([CAROL, CAROL])
    expect(raw.closed).toBe(false)
  })
})
