/**
 * A member's leave is relayed even once its allowance of relayed presences is spent (a flapping link, quick
 * restarts): a node behind the relay would otherwise show it in the room for the whole expiry after it left.
 */
import { createHash } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { fakeAuth } from '../test/fake-auth.js'
import { closeNodes, nodeWorld, rawNeighbour } from '../test/node-world.js'
import type { Address } from './address.js'
import { HERE_CAP, ROOM_CAP } from './links.js'
import { canonicalHere } from './room-types.js'
import type { Here } from './schema.js'

afterEach(closeNodes)

const A: Address = '127.0.0.1:4001'
const ALICE = '1111111111111111'
const CAROL = '3333333333333333'
const IN = 'dddddddddddddddd'
const OUT = 'eeeeeeeeeeeeeeee'

/** A `here` of `from`, signed as `fakeAuth` signs. */
function signedHere(from: string, ts: number, state: 'here' | 'gone' = 'here'): Here {
  const hash = createHash('sha256')
    .update(canonicalHere({ from, name: 'carol', ts, state }))
    .digest('hex')
  return { type: 'here', from, name: 'carol', ts, state, sig: `sig:${from.slice(0, 16)}:${hash}` }
}

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
    for (let i = 1; i <= 8; i++) from.send(signedHere(CAROL, t + i))
    await w.clock.advance(10)
    const told = carolsTo()
    expect(told.length).toBeLessThan(8)
    from.send(signedHere(CAROL, t + 9, 'gone'))
    await w.clock.advance(10)
    expect(carolsTo()).toEqual([...told, 'gone'])
    // Saying it left again and again, with nothing relayed since, goes no further.
    for (let i = 10; i < 20; i += 2) {
      from.send(signedHere(CAROL, t + i))
      from.send(signedHere(CAROL, t + i + 1, 'gone'))
    }
    await w.clock.advance(10)
    expect(carolsTo()).toEqual([...told, 'gone'])
    expect(from.closed).toBe(false)
  })
})
