/**
 * The world of the catch-up tests: a node whose windows a relay has filled with four members' messages and
 * then left, and raw ends that link to it from a host of their choosing, as newcomers that hold nothing.
 * Call `closeNodes` after each test (`afterEach(closeNodes)`).
 */
import { expect } from 'vitest'
import type { Address } from '../src/address.js'
import type { CatchUpBudget } from '../src/link-table.js'
import { ROOM_CAP } from '../src/links.js'
import { weigh } from '../src/room.js'
import type { Msg } from '../src/schema.js'
import { flushMicrotasks } from './manual-clock.js'
import { nodeWorld } from './node-world.js'
import { RawPeer } from './raw-peer.js'

/** Lower than every raw end's id, so the node sends `accept` and a raw end only says hello and acks. */
export const SERVING_ID = '1000000000000000'
export const MEMBERS = Array.from({ length: 4 }, (_, i) => `d${i.toString(16).padStart(15, '0')}`)
export const PER_MEMBER = 20
/** Every message the relay filled the windows with. */
export const WHOLE = MEMBERS.length * PER_MEMBER

/** Message `seq` of member `from`: a kilobyte and a little unless `body` says otherwise. */
export const msgOf = (from: string, seq: number, body = `${seq} ${'x'.repeat(1_000)}`): Msg => ({
  type: 'msg',
  id: `${from.slice(0, 4)}-${seq}`,
  seq,
  ts: seq,
  from,
  body,
  name: `m${from.slice(1, 4)}`,
})

/** What the node's windows hold once filled, weighed as the catch-up allowance weighs. */
export const WINDOWS = MEMBERS.flatMap((m) =>
  Array.from({ length: PER_MEMBER }, (_, i) => weigh(msgOf(m, i + 1))),
).reduce((a, b) => a + b)

/** The messages a raw end was sent, in order. */
export const msgsOf = (raw: RawPeer): Msg[] => raw.received.filter((m): m is Msg => m.type === 'msg')
export const bytesOf = (list: Msg[]): number => list.reduce((sum, m) => sum + weigh(m), 0)

/**
 * A node at `listen` with catch-up allowance `budget` and no rate limit, its windows filled by a relay from
 * 10.0.0.1 that has gone again; the clock starts at 1 s. `join(host, id, name)` links a raw end that holds
 * nothing.
 */
export async function filledNode(listen: Address, budget: CatchUpBudget) {
  const w = nodeWorld({}, 1_000)
  const serving = w.node('node', listen, { id: SERVING_ID, rateLimit: false, budgets: { catchUp: budget } })
  await serving.node.start()
  const join = async (host: string, id: string, name: string): Promise<RawPeer> => {
    const raw = await RawPeer.dial(w.network, listen, host)
    raw.hello(id, name, [ROOM_CAP])
    raw.send({ type: 'ack', upTo: 0, base: 0 })
    await flushMicrotasks()
    return raw
  }
  const filler = await join('10.0.0.1', 'f000000000000000', 'filler')
  for (const member of MEMBERS) for (let seq = 1; seq <= PER_MEMBER; seq++) filler.send(msgOf(member, seq))
  await w.clock.advance(10)
  expect(serving.events.of('message')).toHaveLength(WHOLE)
  filler.link.destroy()
  await w.clock.advance(10)
  return { ...w, serving, join }
}
