import { afterEach, describe, expect, it } from 'vitest'
import { fakeAuth, signedHere } from '../test/fake-auth.js'
import { closeNodes, nodeWorld, rawNeighbour } from '../test/node-world.js'
import type { Address } from './address.js'
import { HERE_CAP, ROOM_CAP } from './links.js'
import type { Here } from './schema.js'

afterEach(closeNodes)

const A: Address = '127.0.0.1:4001'
const ALICE = '1111111111111111'
const CAROL = '3333333333333333'
const IN = 'dddddddddddddddd'
const OUT = 'eeeeeeeeeeeeeeee'

describe("a member's leave at a relay", () => {
  it('goes on after the member said it is there more often than its allowance, once per time it was told there', async () => {
    const w = nodeWorld()
    const alice = w.node('alice', A, { id: ALICE, auth: fakeAuth(ALICE), deadAfterMs: 3_600_000 })
    await w.clock.advance(60_000)
    await alice.node.start()
    const caps = [ROOM_CAP, HERE_CAP]
    const from = await rawNeighbour(w, A, { host: '127.0.0.8', id: IN, caps })
    const to = await rawNeighbour(w, A, { host: '127.0.0.9', id: OUT, caps })
    await w.clock.advance(10)
    const carolsTo = () =>
      to.received.filter((m): m is Here => m.type === 'here' && m.from === CAROL).map((m) => m.state)
    // Carol's link to the relay flaps: she says she is there eight times within a few seconds, then quits.
    const t = w.clock.now()
    for (let i = 1; i <= 8; i++) from.send(signedHere(CAROL, 'carol', t + i))
    await w.clock.advance(10)
    const told = carolsTo()
    expect(told.length).toBeLessThan(8)
    from.send(signedHere(CAROL, 'carol', t + 9, 'gone'))
    await w.clock.advance(10)
    expect(carolsTo()).toEqual([...told, 'gone'])
    // Saying it left again and again, with nothing relayed since, goes no further.
    for (let i = 10; i < 20; i += 2) {
      from.send(signedHere(CAROL, 'carol', t + i))
      from.send(signedHere(CAROL, 'carol', t + i + 1, 'gone'))
    }
    await w.clock.advance(10)
    expect(carolsTo()).toEqual([...told, 'gone'])
    expect(from.closed).toBe(false)
  })
})
