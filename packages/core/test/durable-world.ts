/**
 * Nodes of the in-memory world with a journal in memory, for tests of what survives a restart: each start
 * restores from what earlier starts appended, as the launcher's journal does.
 */
import type { Address } from '../src/address.js'
import { type JournalRecord, restore } from '../src/journal.js'
import type { NodeOptions } from '../src/node-types.js'
import type { nodeWorld, TestNode } from './node-world.js'

export const ALICE = `a11ce${'0'.repeat(11)}`
export const BOB = `b0b${'0'.repeat(13)}`
export const CAROL = `ca201${'0'.repeat(11)}`
export const DAVE = `da7e${'0'.repeat(12)}`
export const A: Address = '127.0.0.1:4101'
export const B: Address = '127.0.0.1:4102'
export const C: Address = '127.0.0.1:4103'
export const D: Address = '127.0.0.1:4104'

type World = ReturnType<typeof nodeWorld>

/** A journal in memory, and a node that restores from it and appends to it; `base` goes to every start. */
export function durable(
  w: World,
  name: string,
  id: string,
  listen: Address,
  base: Partial<NodeOptions> = {},
) {
  const records: JournalRecord[] = []
  const journal = { append: async (r: readonly JournalRecord[]) => void records.push(...r) }
  const restored = () => restore(records, { id, name }, undefined, base.windowSize)
  return {
    records,
    start: async (extra: Partial<NodeOptions> = {}): Promise<TestNode> => {
      const from = records.length > 0 ? { restored: restored() } : {}
      const n = w.node(name, listen, { id, journal, ...base, ...from, ...extra })
      await n.node.start()
      return n
    },
    /** The bodies the next start would find in its outbox. */
    outbox: () => restored().outbox.map((m) => m.body),
  }
}

/** The bodies a node showed, in order. */
export const bodies = (n: TestNode) => n.events.events.flatMap((e) => (e.type === 'message' ? [e.body] : []))

/** `m{from}` … `m{to}`. */
export const lines = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => `m${from + i}`)

/** Sends each text, then lets the world deliver and acknowledge them. */
export async function say(w: World, n: TestNode, texts: readonly string[]) {
  for (const text of texts) n.node.send(text)
  await w.clock.advance(0)
  await w.clock.advance(100)
}
