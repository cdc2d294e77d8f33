/**
 * A member reached through relays goes by the name of what it signed last: its presence, written after its
 * messages, renames it (told, never silently), as a message under a new name does.
 */
import { createHash } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { fakeAuth } from '../test/fake-auth.js'
import { closeNodes, nodeWorld, rawNeighbour } from '../test/node-world.js'
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

/** A `here` of carol's, under `name`, signed as `fakeAuth` signs. */
function carolHere(name: string, ts: number): Here {
  const fields = { from: CAROL, name, ts, state: 'here' } as const
  const hash = createHash('sha256').update(canonicalHere(fields)).digest('hex')
  return { type: 'here', ...fields, sig: `sig:${CAROL}:${hash}` }
}

/** Carol's messages, one per `[name, ts, body]`, chained and signed as her node signs them. */
function carolSays(...lines: [string, number, string][]): Msg[] {
  const room = new Room({ self: { id: CAROL, name: lines[0]![0] }, auth: fakeAuth(CAROL) })
  for (const [i, [name, ts, body]] of lines.entries()) room.compose({ id: `carol-${i}`, ts, body, name })
  const sealed = room.seal()
  room.ownDurable(room.nextSeq - 1)
  return sealed
}

async function aliceBehindRelay() {
  const w = nodeWorld()
  const alice = w.node('alice', A, { id: ALICE, auth: fakeAuth(ALICE), deadAfterMs: 3_600_000 })
  await w.clock.advance(60_000)
  await alice.node.start()
  const raw = await rawNeighbour(w, A, { host: '127.0.0.9', id: RAW, caps: [ROOM_CAP, HERE_CAP] })
  await w.clock.advance(10)
  const carol = () => alice.node.members().find((m) => m.peer.id === CAROL)?.peer.name
  const told = () => alice.events.of('member').filter((e) => e.peer.id === CAROL)
  return { w, alice, raw, carol, told }
}

describe('the name of a member reached through relays', () => {
  it('follows a presence written after its messages, and the rename is told', async () => {
    const { w, alice, raw, carol, told } = await aliceBehindRelay()
    const t = w.clock.now()
    for (const msg of carolSays(['carol', t - 1_000, 'hi'])) raw.send(msg)
    raw.send(carolHere('carol', t))
    await w.clock.advance(10)
    expect(alice.events.bodies()).toEqual(['hi'])
    expect(carol()).toBe('carol')
    // She took another name and says she is there under it: she goes by it now, and alice is told.
    raw.send(carolHere('caroline', t + 5))
    await w.clock.advance(10)
    expect(carol()).toBe('caroline')
    expect(told().map((e) => [e.peer.name, e.renamedFrom])).toEqual([
      ['carol', undefined],
      ['caroline', 'carol'],
    ])
    expect(raw.closed).toBe(false)
  })
})
