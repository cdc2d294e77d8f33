/**
 * Properties of journal compaction over random journals: any mix of sent, received, acked, peer, base and
 * self records from a few origins, with gaps, repeats, seqs going back, and peers that restart their
 * seqs under a new epoch, replayed with small history and window sizes so that most records fall out.
 */
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import {
  type Command,
  command,
  journalOf,
  ORIGINS,
  restartingCommand,
  self,
} from '../test/journal-arbitraries.js'
import { type JournalRecord, type PeerProgress, type RestoredState, restore } from './journal.js'
import { compactJournal } from './journal-compact.js'

let cases = 0
const RUNS = { same: 3_000, shrinks: 300, restarts: 1_000, forgets: 1_000 } as const
const SEED = 20_240_611
afterAll(() => {
  expect(cases).toBeGreaterThanOrEqual(RUNS.same + 2 * RUNS.shrinks + RUNS.restarts + RUNS.forgets)
})

function expectSameState(actual: RestoredState, expected: RestoredState): void {
  expect(actual).toStrictEqual(expected)
  expect([...actual.peers.keys()]).toEqual([...expected.peers.keys()])
}

/** Random journals of `commands` restore from their compaction exactly what they restore whole. */
function restoresTheSameState(commands: fc.Arbitrary<Command[]>, numRuns: number): void {
  fc.assert(
    fc.property(commands, fc.nat(6), fc.nat(4), (commands, historyLimit, windowSize) => {
      cases++
      const records = journalOf(commands)
      const compacted = compactJournal(records, self, historyLimit, windowSize)
      expect(compacted).toBeDefined()
      expectSameState(
        restore(compacted ?? [], self, historyLimit, windowSize),
        restore(records, self, historyLimit, windowSize),
      )
    }),
    { numRuns, seed: SEED },
  )
}

/**
 * Long random journals of `commands`, with a history and window of at least 1, compacted: `check` sees the
 * records, their compaction and the sizes used.
 */
function longJournals(
  commands: fc.Arbitrary<Command>,
  length: { minLength: number; maxLength: number },
  check: (
    records: JournalRecord[],
    compacted: JournalRecord[],
    historyLimit: number,
    windowSize: number,
  ) => void,
): void {
  fc.assert(
    fc.property(
      fc.array(commands, length),
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 1, max: 4 }),
      (commands, historyLimit, windowSize) => {
        cases++
        const records = journalOf(commands)
        check(
          records,
          compactJournal(records, self, historyLimit, windowSize) ?? [],
          historyLimit,
          windowSize,
        )
      },
    ),
    { numRuns: RUNS.shrinks, seed: SEED },
  )
}

describe('journal compaction properties', () => {
  it('restores exactly the state the whole journal restores', () => {
    restoresTheSameState(fc.array(command, { maxLength: 120 }), RUNS.same)
  })

  it('restores the same state from journals where peers restart all the time', () => {
    restoresTheSameState(fc.array(restartingCommand, { maxLength: 150 }), RUNS.restarts)
  })

  it('keeps at most three peer records per peer and per kept record about it, however often it restarted', () => {
    longJournals(restartingCommand, { minLength: 300, maxLength: 600 }, (records, compacted) => {
      const peerRecords = compacted.filter((r) => r.t === 'peer').length
      const about = compacted.filter((r) => r.t === 'received' || r.t === 'acked').length
      expect(peerRecords).toBeLessThanOrEqual(3 * (ORIGINS.length + about))
      expect(peerRecords).toBeLessThan(records.filter((r) => r.t === 'peer').length)
    })
  })

  it('past its bound of peers, forgets the longest silent ones, and nothing else', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(command, restartingCommand), { maxLength: 150 }),
        fc.nat(6),
        fc.nat(4),
        fc.nat(ORIGINS.length),
        (commands, historyLimit, windowSize, maxPeers) => {
          cases++
          const records = journalOf(commands)
          const compacted = compactJournal(records, self, historyLimit, windowSize, maxPeers)
          expect(compacted).toBeDefined()
          const whole = restore(records, self, historyLimit, windowSize)
          const state = restore(compacted ?? [], self, historyLimit, windowSize)
          // Everything but the forgotten peers comes back as it was, in the same order.
          const peers = new Map([...whole.peers].filter(([id]) => state.peers.has(id)))
          expectSameState(state, { ...whole, peers })
          const forgotten = [...whole.peers.values()].filter((p) => !state.peers.has(p.peer.id))
          if (forgotten.length === 0) return
          expect(state.peers.size).toBeGreaterThanOrEqual(maxPeers)
          // Never one whose messages the state keeps, nor one the outbox waits for.
          const shown = new Set(whole.history.filter((h) => h.direction === 'in').map((h) => h.from.id))
          const lowestAck = (ps: Iterable<PeerProgress>) =>
            Math.min(...[...ps].filter((p) => p.neighbor).map((p) => p.acked))
          for (const p of forgotten) {
            expect(shown.has(p.peer.id) || p.log.length > 0).toBe(false)
          }
          // Past the bound, only peers that must stay.
          const mustStay = [...state.peers.values()].filter(
            (p) =>
              shown.has(p.peer.id) ||
              p.log.length > 0 ||
              (p.neighbor && p.acked === lowestAck(whole.peers.values())),
          )
          if (state.peers.size > maxPeers) expect(mustStay.length).toBeGreaterThanOrEqual(state.peers.size)
          if (forgotten.some((p) => p.neighbor)) {
            expect(lowestAck(state.peers.values())).toBe(lowestAck(whole.peers.values()))
          }
        },
      ),
      { numRuns: RUNS.forgets, seed: SEED },
    )
  })

  it('keeps no more than the history, the windows, the outbox and the peer records need', () => {
    longJournals(
      command,
      { minLength: 400, maxLength: 800 },
      (records, compacted, historyLimit, windowSize) => {
        const state = restore(records, self, historyLimit, windowSize)
        const fixed = records.filter((r) => r.t === 'self' || r.t === 'peer').length
        // Each kept receipt may need a `base` before it; each peer an `acked` and two name or order fixes.
        const receipts = 2 * (historyLimit + windowSize * ORIGINS.length)
        const sent = historyLimit + Math.max(windowSize, state.outbox.length) + 1
        const bound = fixed + receipts + sent + 3 * ORIGINS.length
        expect(compacted.length).toBeLessThanOrEqual(bound)
        expect(compacted.length).toBeLessThan(records.length)
      },
    )
  })
})
