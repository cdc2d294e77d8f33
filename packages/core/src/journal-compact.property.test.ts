/**
 * Properties of journal compaction over random journals: any mix of sent, received, acked, peer, base and
 * self records from a few origins, with gaps, repeats, seqs going back, and peers that restart their
 * seqs under a new epoch, replayed with small history and window sizes so that most records fall out.
 */
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { type JournalRecord, type RestoredState, restore } from './journal.js'
import { compactJournal } from './journal-compact.js'
import type { PeerInfo } from './peer-machine.js'

let cases = 0
const RUNS = { same: 3_000, shrinks: 300 } as const
const SEED = 20_240_611
afterAll(() => {
  expect(cases).toBeGreaterThanOrEqual(RUNS.same + RUNS.shrinks)
})

const self: PeerInfo = { id: 'a'.repeat(16), name: 'alice' }
const ORIGINS = ['b'.repeat(16), 'c'.repeat(16), 'd'.repeat(16)] as const
const NAMES = ['bob', 'bobby', 'carol'] as const
const EPOCHS = ['e1', 'e2', 'e3', ''] as const

type Kind = 'sent' | 'received' | 'acked' | 'peer' | 'base' | 'self'
const kind = fc.oneof(
  { weight: 5, arbitrary: fc.constant<Kind>('sent') },
  { weight: 8, arbitrary: fc.constant<Kind>('received') },
  { weight: 2, arbitrary: fc.constant<Kind>('acked') },
  { weight: 1, arbitrary: fc.constant<Kind>('peer') },
  { weight: 1, arbitrary: fc.constant<Kind>('base') },
  { weight: 1, arbitrary: fc.constant<Kind>('self') },
)
/** Mostly the next seq; sometimes a repeat, a gap or a step back. */
const step = fc.oneof(
  { weight: 8, arbitrary: fc.constant(1) },
  { weight: 2, arbitrary: fc.integer({ min: -3, max: 4 }) },
)
const command = fc.record({
  kind,
  origin: fc.nat(ORIGINS.length - 1),
  name: fc.nat(NAMES.length - 1),
  epoch: fc.nat(EPOCHS.length - 1),
  step,
})
type Command = typeof command extends fc.Arbitrary<infer C> ? C : never

/** Turns commands into records, keeping per-origin counters so that most seqs look like real traffic. */
function journalOf(commands: readonly Command[]): JournalRecord[] {
  let sentSeq = 0
  let unique = 0
  const received = new Map<string, number>()
  const records: JournalRecord[] = []
  for (const c of commands) {
    const id = ORIGINS[c.origin] as string
    const peer = { id, name: NAMES[c.name] as string }
    const epoch = EPOCHS[c.epoch] as string
    unique++
    switch (c.kind) {
      case 'sent':
        sentSeq = Math.max(0, sentSeq + c.step)
        records.push({ t: 'sent', msg: msgOf(self.id, sentSeq, unique) })
        break
      case 'received': {
        const seq = Math.max(1, (received.get(id) ?? 0) + c.step)
        received.set(id, seq)
        records.push({ t: 'received', msg: msgOf(id, seq, unique), name: peer.name })
        break
      }
      case 'acked':
        records.push({ t: 'acked', peer, upTo: Math.max(0, sentSeq - 2 + c.step) })
        break
      case 'peer':
        // A new epoch usually means the peer lost its journal: its seqs start over.
        if (c.step !== 1) received.set(id, 0)
        records.push({ t: 'peer', peer, epoch })
        break
      case 'base':
        records.push({ t: 'base', peer, seq: Math.max(0, (received.get(id) ?? 0) + c.step) })
        break
      case 'self':
        records.push({ t: 'self', epoch: `s${c.epoch}` })
        break
    }
  }
  return records
}

function msgOf(from: string, seq: number, unique: number) {
  return { type: 'msg' as const, id: `m${unique}`, seq, ts: unique, from, body: `body ${unique}` }
}

function expectSameState(actual: RestoredState, expected: RestoredState): void {
  expect(actual).toStrictEqual(expected)
  expect([...actual.peers.keys()]).toEqual([...expected.peers.keys()])
}

describe('journal compaction properties', () => {
  it('restores exactly the state the whole journal restores', () => {
    fc.assert(
      fc.property(
        fc.array(command, { maxLength: 120 }),
        fc.nat(6),
        fc.nat(4),
        (commands, historyLimit, windowSize) => {
          cases++
          const records = journalOf(commands)
          const compacted = compactJournal(records, self, historyLimit, windowSize)
          expect(compacted).toBeDefined()
          expectSameState(
            restore(compacted ?? [], self, historyLimit, windowSize),
            restore(records, self, historyLimit, windowSize),
          )
        },
      ),
      { numRuns: RUNS.same, seed: SEED },
    )
  })

  it('keeps no more than the history, the windows, the outbox and the peer records need', () => {
    fc.assert(
      fc.property(
        fc.array(command, { minLength: 400, maxLength: 800 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 4 }),
        (commands, historyLimit, windowSize) => {
          cases++
          const records = journalOf(commands)
          const compacted = compactJournal(records, self, historyLimit, windowSize) ?? []
          const state = restore(records, self, historyLimit, windowSize)
          const fixed = records.filter((r) => r.t === 'self' || r.t === 'peer').length
          // Each kept receipt may need a `base` before it; each peer an `acked` and two name or order fixes.
          const receipts = 2 * (historyLimit + windowSize * ORIGINS.length)
          const sent = historyLimit + Math.max(windowSize, state.outbox.length) + 1
          const bound = fixed + receipts + sent + 3 * ORIGINS.length
          expect(compacted.length).toBeLessThanOrEqual(bound)
          expect(compacted.length).toBeLessThan(records.length)
        },
      ),
      { numRuns: RUNS.shrinks, seed: SEED },
    )
  })
})
