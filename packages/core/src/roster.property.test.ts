/**
 * The member table under any mix of throwaway keys (dial in, repeat an old line, say new ones, leave),
 * members relayed by a long-lived neighbour, idle time and restarts from the journal: the table stays
 * within its cap, nobody is refused for too many members, and every member's messages are shown exactly
 * once, in order, whether it was forgotten in between or not.
 */
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../test/manual-clock.js'
import { MemoryNetwork } from '../test/memory-transport.js'
import { RawPeer } from '../test/raw-peer.js'
import type { Address } from './address.js'
import { type JournalRecord, restore } from './journal.js'
import { makeHello } from './link-machine.js'
import { ParleyNode } from './node.js'
import type { NodeEvent } from './node-types.js'

const ALICE = '0000000000000000'
const RELAY = 'd000000000000000'
const A: Address = '127.0.0.1:4001'
const CAP = 4
const keyId = (k: number) => `f${k.toString(16).padStart(15, '0')}`
const relayedId = (k: number) => `e${k.toString(16).padStart(15, '0')}`

type Step =
  | { readonly t: 'key'; readonly k: number; readonly lines: number; readonly replay: boolean }
  | { readonly t: 'relayed'; readonly k: number; readonly lines: number }
  | { readonly t: 'idle'; readonly ms: number }
  | { readonly t: 'restart' }

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    t: fc.constant('key' as const),
    k: fc.nat(7),
    lines: fc.integer({ min: 0, max: 2 }),
    replay: fc.boolean(),
  }),
  fc.record({ t: fc.constant('relayed' as const), k: fc.nat(2), lines: fc.integer({ min: 1, max: 2 }) }),
  fc.record({ t: fc.constant('idle' as const), ms: fc.integer({ min: 0, max: 90_000 }) }),
  fc.constant({ t: 'restart' as const }),
)

const nodes: ParleyNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.close('test over')))
})

async function run(steps: readonly Step[]): Promise<void> {
  const network = new MemoryNetwork()
  const clock = new ManualClock()
  const records: JournalRecord[] = []
  const journal = { append: async (r: readonly JournalRecord[]) => void records.push(...r) }
  const shown: NodeEvent[] = []
  /** Seqs each origin has said so far. */
  const said = new Map<string, number>()

  const startAlice = async () => {
    const restored = records.length > 0 ? restore(records, { id: ALICE, name: 'alice' }) : undefined
    const node = new ParleyNode({
      transport: network.transport(),
      clock,
      name: 'alice',
      id: ALICE,
      listen: A,
      random: () => 0.5,
      maxOrigins: CAP,
      memberIdleMs: 120_000,
      // The raw ends answer no pings: only the steps decide who leaves.
      keepaliveMs: 1e9,
      deadAfterMs: 1e9,
      journal,
      ...(restored ? { restored } : {}),
    })
    nodes.push(node)
    node.on((e) => shown.push(e))
    expect(node.members().length).toBeLessThanOrEqual(CAP)
    await node.start()
    return node
  }
  const join = async (id: string, instance: string, relays: boolean) => {
    const peer = new RawPeer(await network.transport(relays ? '127.0.0.2' : '127.0.0.3').dial(A))
    peer.send(makeHello({ id, name: `n-${id.slice(-2)}`, instance }, relays ? ['room'] : []))
    await clock.advance(0)
    peer.send({ type: 'ack', upTo: 0, base: 0 })
    return peer
  }
  const say = (peer: RawPeer, from: string, seq: number) =>
    peer.send({ type: 'msg', id: `${from}-${seq}`, seq, ts: clock.now(), from, body: `${from} ${seq}` })
  const next = (from: string) => {
    const seq = (said.get(from) ?? 0) + 1
    said.set(from, seq)
    return seq
  }

  let alice = await startAlice()
  let relay = await join(RELAY, 'relay-1', true)
  await clock.advance(61_000)
  for (const s of steps) {
    switch (s.t) {
      case 'key': {
        const id = keyId(s.k)
        const peer = await join(id, 'raw-1', false)
        const before = said.get(id) ?? 0
        if (s.replay && before > 0) say(peer, id, before)
        for (let i = 0; i < s.lines; i++) say(peer, id, next(id))
        await clock.advance(0)
        peer.link.destroy()
        break
      }
      case 'relayed': {
        const id = relayedId(s.k)
        const before = said.get(id) ?? 0
        if (before > 0) say(relay, id, before)
        for (let i = 0; i < s.lines; i++) say(relay, id, next(id))
        break
      }
      case 'idle':
        await clock.advance(s.ms)
        break
      case 'restart':
        await alice.close()
        alice = await startAlice()
        relay = await join(RELAY, 'relay-1', true)
        break
      default: {
        const _exhaustive: never = s
      }
    }
    await clock.advance(0)
    expect(alice.members().length).toBeLessThanOrEqual(CAP)
  }
  await clock.advance(0)

  expect(shown.filter((e) => e.type === 'link-error' && e.code === 'TOO_MANY_ORIGINS')).toEqual([])
  const messages = shown.flatMap((e) => (e.type === 'message' ? [`${e.from.id} ${e.seq}`] : []))
  const expected: string[] = []
  for (const [from, count] of said) for (let seq = 1; seq <= count; seq++) expected.push(`${from} ${seq}`)
  expect([...messages].sort()).toEqual(expected.sort())
  for (const [from] of said) {
    const seqs = shown.flatMap((e) => (e.type === 'message' && e.from.id === from ? [e.seq] : []))
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
  }
}

describe('the member table, whatever strangers and members do', () => {
  it('stays within its cap, refuses nobody, and shows every line exactly once, in order, across forgetting and restarts', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 24 }), async (steps) => {
        await run(steps)
        await Promise.all(nodes.splice(0).map((n) => n.close('case over')))
      }),
      { numRuns: 150 },
    )
  })
})
