/**
 * What stays in the outbox across restarts: every message a peer we dial has not acknowledged, never a
 * message only a stranger that dialed in once and left did not acknowledge.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { closeNodes, nodeWorld, type TestNode } from '../test/node-world.js'
import type { Address } from './address.js'
import { type JournalRecord, restore } from './journal.js'
import type { NodeOptions } from './node-types.js'

const ALICE = `a11ce${'0'.repeat(11)}`
const BOB = `b0b${'0'.repeat(13)}`
const CAROL = `ca201${'0'.repeat(11)}`
const A: Address = '127.0.0.1:4101'
const B: Address = '127.0.0.1:4102'
const C: Address = '127.0.0.1:4103'

afterEach(closeNodes)

/** A journal in memory, and a node that restores from it and appends to it. */
function durable(w: ReturnType<typeof nodeWorld>, name: string, id: string, listen: Address) {
  const records: JournalRecord[] = []
  const journal = { append: async (r: readonly JournalRecord[]) => void records.push(...r) }
  return {
    records,
    start: async (extra: Partial<NodeOptions> = {}): Promise<TestNode> => {
      const restored = records.length > 0 ? restore(records, { id, name }) : undefined
      const n = w.node(name, listen, { id, journal, ...(restored ? { restored } : {}), ...extra })
      await n.node.start()
      return n
    },
    outbox: () => restore(records, { id, name }).outbox.map((m) => m.body),
  }
}

const bodies = (n: TestNode) => n.events.events.flatMap((e) => (e.type === 'message' ? [e.body] : []))
const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `m${from + i}`)

async function say(w: ReturnType<typeof nodeWorld>, n: TestNode, texts: string[]) {
  for (const text of texts) n.node.send(text)
  await w.clock.advance(0)
  await w.clock.advance(100)
}

describe('the outbox across restarts', () => {
  it('is not pinned by a stranger that dialed in once and left', async () => {
    const w = nodeWorld()
    const alice = durable(w, 'alice', ALICE, A)
    const bob = w.node('bob', B, { id: BOB })
    await bob.node.start()
    let a = await alice.start({ peers: [B] })
    const carol = w.node('carol', C, { id: CAROL, peers: [A] })
    await carol.node.start()
    await w.clock.advance(100)
    await say(w, a, ['m1'])
    expect(bodies(carol)).toEqual(['m1'])
    await carol.node.close()
    await w.clock.advance(100)
    await say(w, a, lines(2, 2_500))
    expect(bodies(bob)).toEqual(lines(1, 2_500))
    await a.node.close()
    // Carol acknowledged m1 only, but alice does not dial her: nothing waits for her.
    expect(alice.outbox()).toEqual([])
    a = await alice.start({ peers: [B] })
    expect(a.node.pending).toBe(0)
  })

  it('keeps for a peer we dial, offline across a restart, what a stranger acknowledged meanwhile', async () => {
    const w = nodeWorld()
    const alice = durable(w, 'alice', ALICE, A)
    const bob = durable(w, 'bob', BOB, B)
    let b = await bob.start()
    let a = await alice.start({ peers: [B] })
    await w.clock.advance(100)
    await say(w, a, ['m1'])
    expect(bodies(b)).toEqual(['m1'])
    await b.node.close()
    await a.node.close()
    // Alice comes back while bob is away: her dial does not know it is bob until he answers.
    a = await alice.start({ peers: [B] })
    const carol = w.node('carol', C, { id: CAROL, peers: [A] })
    await carol.node.start()
    await w.clock.advance(100)
    await say(w, a, lines(2, 1_501))
    expect(bodies(carol)).toEqual(lines(1, 1_501))
    await a.node.close()
    expect(alice.outbox()).toEqual(lines(2, 1_501))
    // And in the next run, bob gets every line once, in order, though carol is still there.
    a = await alice.start({ peers: [B] })
    await w.clock.advance(100)
    await say(w, a, ['m1502'])
    b = await bob.start()
    for (let i = 0; i < 20 && bodies(b).length < 1_501; i++) await w.clock.advance(1_000)
    expect(bodies(b)).toEqual(lines(2, 1_502))
  })

  it('keeps for a peer we dial, within one run after a restart, what a stranger acknowledged before he answered', async () => {
    const w = nodeWorld()
    const alice = durable(w, 'alice', ALICE, A)
    const bob = durable(w, 'bob', BOB, B)
    let b = await bob.start()
    let a = await alice.start({ peers: [B] })
    await w.clock.advance(100)
    await say(w, a, ['m1'])
    await b.node.close()
    await a.node.close()
    a = await alice.start({ peers: [B] })
    const carol = w.node('carol', C, { id: CAROL, peers: [A] })
    await carol.node.start()
    await w.clock.advance(100)
    await say(w, a, lines(2, 1_501))
    expect(bodies(carol)).toEqual(lines(1, 1_501))
    b = await bob.start()
    for (let i = 0; i < 20 && bodies(b).length < 1_500; i++) await w.clock.advance(1_000)
    expect(bodies(b)).toEqual(lines(2, 1_501))
  })
})
