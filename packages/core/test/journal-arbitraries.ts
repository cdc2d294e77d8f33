/**
 * Random journals for property tests: any mix of sent, received, acked, peer, base, self and settled records from a
 * few origins, with gaps, repeats, seqs going back, and peers that restart their seqs under a new epoch.
 */
import fc from 'fast-check'
import type { JournalRecord } from '../src/journal.js'
import type { PeerInfo } from '../src/peer-machine.js'

export const self: PeerInfo = { id: 'a'.repeat(16), name: 'alice' }
export const ORIGINS = ['b'.repeat(16), 'c'.repeat(16), 'd'.repeat(16)] as const
const NAMES = ['bob', 'bobby', 'carol'] as const
const EPOCHS = ['e1', 'e2', 'e3', ''] as const

type Kind = 'sent' | 'received' | 'acked' | 'peer' | 'base' | 'self' | 'settled'
const kind = fc.oneof(
  { weight: 5, arbitrary: fc.constant<Kind>('sent') },
  { weight: 8, arbitrary: fc.constant<Kind>('received') },
  { weight: 2, arbitrary: fc.constant<Kind>('acked') },
  { weight: 1, arbitrary: fc.constant<Kind>('peer') },
  { weight: 1, arbitrary: fc.constant<Kind>('base') },
  { weight: 1, arbitrary: fc.constant<Kind>('self') },
  { weight: 1, arbitrary: fc.constant<Kind>('settled') },
)
/** Mostly the next seq; sometimes a repeat, a gap or a step back. */
const step = fc.oneof(
  { weight: 8, arbitrary: fc.constant(1) },
  { weight: 2, arbitrary: fc.integer({ min: -3, max: 4 }) },
)
export const command = fc.record({
  kind,
  origin: fc.nat(ORIGINS.length - 1),
  name: fc.nat(NAMES.length - 1),
  epoch: fc.nat(EPOCHS.length - 1),
  step,
})
/** Commands where peers restart (a `peer` record, often with a new epoch) as often as anything happens. */
export const restartingCommand = fc.record({
  kind: fc.oneof(
    { weight: 6, arbitrary: fc.constant<Kind>('peer') },
    { weight: 3, arbitrary: fc.constant<Kind>('received') },
    { weight: 2, arbitrary: fc.constant<Kind>('sent') },
    { weight: 2, arbitrary: fc.constant<Kind>('acked') },
    { weight: 1, arbitrary: fc.constant<Kind>('base') },
  ),
  origin: fc.nat(ORIGINS.length - 1),
  name: fc.nat(NAMES.length - 1),
  epoch: fc.nat(EPOCHS.length - 1),
  step,
})
export type Command = typeof command extends fc.Arbitrary<infer C> ? C : never

/** Turns commands into records, keeping per-origin counters so that most seqs look like real traffic. */
export function journalOf(commands: readonly Command[]): JournalRecord[] {
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
      case 'settled':
        records.push({ t: 'settled', upTo: Math.max(0, sentSeq - 3 + c.step) })
        break
    }
  }
  return records
}

export function msgOf(from: string, seq: number, unique: number) {
  return { type: 'msg' as const, id: `m${unique}`, seq, ts: unique, from, body: `body ${unique}` }
}
