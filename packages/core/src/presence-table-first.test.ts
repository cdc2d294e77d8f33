import { afterEach, describe, expect, it } from 'vitest'
import { fakeAuth, signedHere, signedMsgs } from '../test/fake-auth.js'
import { closeNodes, nodeWorld } from '../test/node-world.js'
import { RawPeer } from '../test/raw-peer.js'
import type { Address } from './address.js'
import { HERE_CAP, ROOM_CAP } from './links.js'

afterEach(closeNodes)

const A: Address = '127.0.0.1:4001'
const ALICE = '1111111111111111'
const DAVE = '4444444444444444'
const ERIN = '5555555555555555'
const RELAY = 'dddddddddddddddd'
const RAW = 'eeeeeeeeeeeeeeee'

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
    for (const msg of signedMsgs(DAVE, ['dave', w.clock.now(), 'hi'])) relay.send(msg)
    await w.clock.advance(1_000)
    expect(alice.events.bodies()).toEqual(['hi'])
    // A hostile one fills every free place with presences of throwaway keys, refreshed since.
    const raw = await link('127.0.0.9', RAW)
    const key = (i: number) => (0x4000000000000000n + BigInt(i)).toString(16)
    for (let i = 0; i < 10; i++) raw.send(signedHere(key(i), `k${i}`, w.clock.now()))
    await w.clock.advance(1_000)
    expect(alice.node.members()).toHaveLength(6)
    // Erin speaks: someone makes room for her.
    for (const msg of signedMsgs(ERIN, ['erin', w.clock.now(), 'hello'])) relay.send(msg)
    await w.clock.advance(1_000)
    expect(alice.events.bodies()).toEqual(['hi', 'hello'])
    const ids = alice.node.members().map((m) => m.peer.id)
    expect(ids).toContain(ERIN)
    expect(ids).toContain(DAVE)
    expect(raw.closed).toBe(false)
  })
})
