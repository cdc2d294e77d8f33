/**
 * The outbox waits for an address this node dials until it answers: a first contact, or a neighbour the
 * member table forgot to make room while it was away, is never settled past.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { closeNodes, nodeWorld, type TestNode } from '../test/node-world.js'
import type { Address } from './address.js'
import { type JournalRecord, restore } from './journal.js'
import type { NodeOptions } from './node-types.js'

const ALICE = `a11ce${'0'.repeat(11)}`
const BOB = `b0b${'0'.repeat(13)}`
const CAROL = `ca201${'0'.repeat(11)}`
const DAVE = `da7e${'0'.repeat(12)}`
const A: Address = '127.0.0.1:4101'
const B: Address = '127.0.0.1:4102'
const C: Address = '127.0.0.1:4103'
const D: Address = '127.0.0.1:4104'

afterEach(closeNodes)

function durable(
  w: ReturnType<typeof nodeWorld>,
  name: string,
  id: string,
  listen: Address,
  base: Partial<NodeOptions> = {},
) {
  const records: JournalRecord[] = []
  const journal = { append: async (r: readonly JournalRecord[]) => void records.push(...r) }
  return {
    records,
    start: async (extra: Partial<NodeOptions> = {}): Promise<TestNode> => {
      const restored =
        records.length > 0 ? restore(records, { id, name }, undefined, base.windowSize) : undefined
      const n = w.node(name, listen, { id, journal, ...base, ...(restored ? { restored } : {}), ...extra })
      await n.node.start()
      return n
    },
    outbox: () => restore(records, { id, name }, undefined, base.windowSize).outbox.map((m) => m.body),
  }
}

const bodies = (n: TestNode) => n.events.events.flatMap((e) => (e.type === 'message' ? [e.body] : []))
const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `m${from + i}`)

async function say(w: ReturnType<typeof nodeWorld>, n: TestNode, texts: string[]) {
  for (const text of texts) n.node.send(text)
  await w.clock.advance(0)
  await w.clock.advance(100)
}

describe('the outbox and dialed addresses that have not answered', () => {
  it('first contact: a dialed peer never met yet, away while a stranger acks', async () => {
    const w = nodeWorld()
    const alice = durable(w, 'alice', ALICE, A)
    const a = await alice.start({ peers: [B] })
    const carol = w.node('carol', C, { id: CAROL, peers: [A] })
    await carol.node.start()
    await w.clock.advance(100)
    await say(w, a, lines(1, 1_500))
    expect(bodies(carol)).toEqual(lines(1, 1_500))
    // alice dials B and bob has not answered yet: nothing should count as delivered to him
    const pendingBeforeBob = a.node.pending
    const bob = w.node('bob', B, { id: BOB })
    await bob.node.start()
    for (let i = 0; i < 20 && bodies(bob).length < 1_500; i++) await w.clock.advance(1_000)
    expect({ pendingBeforeBob, bob: bodies(bob).length, first: bodies(bob)[0] }).toEqual({
      pendingBeforeBob: 1_500,
      bob: 1_500,
      first: 'm1',
    })
  })

  it('after a restart, a dialed neighbour not answered yet is forgotten to make room, and settled past', async () => {
    const w = nodeWorld()
    const alice = durable(w, 'alice', ALICE, A, { maxOrigins: 2, windowSize: 10 })
    const bob = durable(w, 'bob', BOB, B)
    let b = await bob.start()
    let a = await alice.start({ peers: [B] })
    await w.clock.advance(100)
    await say(w, a, ['m1'])
    expect(bodies(b)).toEqual(['m1'])
    await b.node.close()
    await a.node.close()
    a = await alice.start({ peers: [B] })
    const carol = w.node('carol', C, { id: CAROL, peers: [A] })
    await carol.node.start()
    const dave = w.node('dave', D, { id: DAVE, peers: [A] })
    await dave.node.start()
    await w.clock.advance(100)
    await say(w, a, lines(2, 50))
    expect(bodies(carol)).toEqual(lines(1, 50))
    const pendingWhileBobAway = a.node.pending
    await a.node.close()
    const outboxOnDisk = alice.outbox().length
    a = await alice.start({ peers: [B] })
    b = await bob.start()
    for (let i = 0; i < 20 && bodies(b).length < 50; i++) await w.clock.advance(1_000)
    expect({ pendingWhileBobAway, outboxOnDisk, bob: bodies(b) }).toEqual({
      pendingWhileBobAway: 49,
      outboxOnDisk: 49,
      bob: lines(2, 50),
    })
  })
})
