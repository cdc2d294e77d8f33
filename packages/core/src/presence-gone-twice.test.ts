import { afterEach, describe, expect, it } from 'vitest'
import { fakeAuth, signedHere, signedMsgs } from '../test/fake-auth.js'
import { closeNodes, nodeWorld } from '../test/node-world.js'
import { RawPeer } from '../test/raw-peer.js'
import type { Address } from './address.js'
import { HERE_CAP, ROOM_CAP } from './links.js'

afterEach(closeNodes)

const A: Address = '127.0.0.1:4001'
const ALICE = '1111111111111111'
const CAROL = '3333333333333333'
const RAW = 'eeeeeeeeeeeeeeee'

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
    for (const msg of signedMsgs(CAROL, ['carol', t, 'hi'])) raw.send(msg)
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
