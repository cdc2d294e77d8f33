/**
 * A node's catch-up on link open, end to end over the in-memory transport and a manual clock: throwaway
 * keys from one host that reconnect and say they have nothing are served that host's allowance, not every
 * window each time; an honest member new to the room still gets every message, once and in order, paced
 * by the node's own timer, and its own messages are taken meanwhile.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { flushMicrotasks, ManualClock } from '../test/manual-clock.js'
import { MemoryNetwork } from '../test/memory-transport.js'
import { RawPeer } from '../test/raw-peer.js'
import type { CatchUpBudget } from './link-table.js'
import { ROOM_CAP } from './links.js'
import { ParleyNode } from './node.js'
import type { NodeEvent } from './node-types.js'
import { weigh } from './room.js'
import type { Msg } from './schema.js'

/** Lower than every peer's id, so the node sends `accept` and a raw end only says hello and acks. */
const NODE_ID = '1000000000000000'
const NODE_AT = '127.0.0.1:5300'
const MEMBERS = Array.from({ length: 4 }, (_, i) => `d${i.toString(16).padStart(15, '0')}`)
const PER_MEMBER = 20
const BUDGET: CatchUpBudget = {
  perKey: { perSecond: 10_000, burst: 20_000 },
  perSource: { perSecond: 20_000, burst: 40_000 },
  total: { perSecond: 40_000, burst: 80_000 },
}

const msgOf = (from: string, seq: number, body = `${seq} ${'x'.repeat(1_000)}`): Msg => ({
  type: 'msg',
  id: `${from.slice(0, 4)}-${seq}`,
  seq,
  ts: seq,
  from,
  body,
  name: `m${from.slice(1, 4)}`,
})
const WINDOWS = MEMBERS.flatMap((m) =>
  Array.from({ length: PER_MEMBER }, (_, i) => weigh(msgOf(m, i + 1))),
).reduce((a, b) => a + b)

const nodes: ParleyNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.close('test over')))
})

async function join(network: MemoryNetwork, host: string, id: string, name: string): Promise<RawPeer> {
  const raw = await RawPeer.dial(network, NODE_AT, host)
  raw.hello(id, name, [ROOM_CAP])
  raw.send({ type: 'ack', upTo: 0, base: 0 })
  await flushMicrotasks()
  return raw
}

const msgs = (raw: RawPeer) => raw.received.filter((m): m is Msg => m.type === 'msg')
const bytesOf = (list: Msg[]) => list.reduce((sum, m) => sum + weigh(m), 0)

describe('catch-up a node serves when links open', () => {
  it('serves throwaway keys from one host that host’s allowance, and an honest newcomer everything, paced', async () => {
    const network = new MemoryNetwork()
    const clock = new ManualClock(1_000)
    const node = new ParleyNode({
      transport: network.transport(),
      clock,
      id: NODE_ID,
      name: 'node',
      listen: NODE_AT,
      random: () => 0.5,
      rateLimit: false,
      budgets: { catchUp: BUDGET },
    })
    nodes.push(node)
    const events: NodeEvent[] = []
    node.on((e) => events.push(e))
    await node.start()
    // A relay fills the node's windows with four members' messages.
    const filler = await join(network, '10.0.0.1', 'f000000000000000', 'filler')
    for (const member of MEMBERS) for (let seq = 1; seq <= PER_MEMBER; seq++) filler.send(msgOf(member, seq))
    await clock.advance(10)
    expect(events.filter((e) => e.type === 'message')).toHaveLength(MEMBERS.length * PER_MEMBER)
    filler.link.destroy()
    await clock.advance(10)

    // Ten throwaway keys from one host link, say they have nothing, and go, while no time passes.
    let served = 0
    for (let i = 0; i < 10; i++) {
      const raw = await join(network, '10.0.0.9', `e${i.toString(16).padStart(15, '0')}`, `pull${i}`)
      served += bytesOf(msgs(raw))
      raw.link.destroy()
      await flushMicrotasks()
    }
    // The host's allowance, not ten times every window.
    expect(served).toBeLessThanOrEqual(BUDGET.perSource.burst)
    expect(served).toBeGreaterThan(0)
    expect(10 * WINDOWS).toBeGreaterThan(8 * BUDGET.perSource.burst)

    // An honest member new to the room, from another host: served its key's allowance at once, ...
    const honest = await join(network, '10.0.0.2', 'c000000000000000', 'honest')
    const first = msgs(honest).length
    expect(bytesOf(msgs(honest))).toBeLessThanOrEqual(BUDGET.perKey.burst)
    expect(first).toBeLessThan(MEMBERS.length * PER_MEMBER)
    // ... its own words are taken while the rest waits, ...
    honest.send(msgOf('c000000000000000', 1, 'still here'))
    await flushMicrotasks()
    expect(events).toContainEqual(expect.objectContaining({ type: 'message', body: 'still here' }))
    expect(msgs(honest).length).toBeLessThan(MEMBERS.length * PER_MEMBER)
    // ... and the rest comes as the allowance refills, by the node's own timer, each message once, in order.
    for (let i = 0; i < 100 && msgs(honest).length < MEMBERS.length * PER_MEMBER; i++)
      await clock.advance(100)
    const got = msgs(honest)
    for (const member of MEMBERS)
      expect(got.filter((m) => m.from === member).map((m) => m.seq)).toEqual(
        Array.from({ length: PER_MEMBER }, (_, i) => i + 1),
      )
    expect(got).toHaveLength(MEMBERS.length * PER_MEMBER)
    expect(honest.closed).toBe(false)
    await node.close('test over')
    expect(clock.pendingTimers).toBe(0)
  })
})
