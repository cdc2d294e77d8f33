/**
 * Catch-up paced by the allowance for all is shared among the neighbours that wait for it: one that
 * linked later is not held behind every earlier one until they have all been served whole.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { flushMicrotasks, ManualClock } from '../test/manual-clock.js'
import { MemoryNetwork } from '../test/memory-transport.js'
import { RawPeer } from '../test/raw-peer.js'
import type { CatchUpBudget } from './link-table.js'
import { ROOM_CAP } from './links.js'
import { ParleyNode } from './node.js'
import type { Msg } from './schema.js'

const NODE_ID = '1000000000000000'
const NODE_AT = '127.0.0.1:5301'
const MEMBERS = Array.from({ length: 4 }, (_, i) => `d${i.toString(16).padStart(15, '0')}`)
const PER_MEMBER = 20
// Every key and every source may take as much as the allowance for all: only that one is short.
const BUDGET: CatchUpBudget = {
  perKey: { perSecond: 10_000, burst: 10_000 },
  perSource: { perSecond: 10_000, burst: 10_000 },
  total: { perSecond: 10_000, burst: 10_000 },
}
const msgOf = (from: string, seq: number): Msg => ({
  type: 'msg',
  id: `${from.slice(0, 4)}-${seq}`,
  seq,
  ts: seq,
  from,
  body: `${seq} ${'x'.repeat(1_000)}`,
  name: `m${from.slice(1, 4)}`,
})

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
const msgs = (raw: RawPeer) => raw.received.filter((m): m is Msg => m.type === 'msg').length

describe('catch-up paced by the allowance for all', () => {
  it('gives a neighbour that waits behind others a share, not nothing until they are all done', async () => {
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
    await node.start()
    const filler = await join(network, '10.0.0.1', 'f000000000000000', 'filler')
    for (const member of MEMBERS) for (let seq = 1; seq <= PER_MEMBER; seq++) filler.send(msgOf(member, seq))
    await clock.advance(10)
    filler.link.destroy()
    await clock.advance(10)
    const whole = MEMBERS.length * PER_MEMBER
    // Two neighbours (each its own host) link first and stay, then a third.
    const first = await join(network, '10.0.0.2', 'e000000000000001', 'first')
    const second = await join(network, '10.0.0.3', 'e000000000000002', 'second')
    const third = await join(network, '10.0.0.4', 'c000000000000003', 'third')
    // About a third of all the windows' worth of allowance: each of three waiting would get some.
    for (let i = 0; i < 30; i++) await clock.advance(100)
    const got = [msgs(first), msgs(second), msgs(third)]
    expect(got[0]).toBeLessThan(whole)
    expect(got[2]).toBeGreaterThan(0)
    expect(got[1]).toBeGreaterThan(0)
  })
})
