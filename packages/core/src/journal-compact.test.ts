import { describe, expect, it } from 'vitest'
import { type JournalRecord, restore } from './journal.js'
import { compactJournal, MAX_JOURNAL_PEERS } from './journal-compact.js'
import type { Msg } from './schema.js'

const self = { id: 'a'.repeat(64), name: 'alice' }
const bob = { id: 'b'.repeat(64), name: 'bob' }
const carol = { id: 'c'.repeat(64), name: 'carol' }
const msg = (seq: number, from = self.id, tag = ''): Msg => ({
  type: 'msg',
  id: `m${from[0]}${seq}${tag}`,
  seq,
  ts: seq,
  from,
  body: `body ${seq}${tag}`,
})
const sent = (seq: number): JournalRecord => ({ t: 'sent', msg: msg(seq) })
const fromBob = (seq: number, tag = ''): JournalRecord => ({
  t: 'received',
  msg: msg(seq, bob.id, tag),
  name: 'bob',
})
const fromCarol = (seq: number): JournalRecord => ({ t: 'received', msg: msg(seq, carol.id), name: 'carol' })

function compactAndCheck(
  records: JournalRecord[],
  historyLimit: number,
  windowSize: number,
): JournalRecord[] {
  const compacted = compactJournal(records, self, historyLimit, windowSize)
  if (!compacted) throw new Error('compaction gave up')
  expect(restore(compacted, self, historyLimit, windowSize)).toStrictEqual(
    restore(records, self, historyLimit, windowSize),
  )
  return compacted
}

describe('compactJournal: the few records that restore the same state', () => {
  it('drops acknowledged messages that left the history and every window', () => {
    const records: JournalRecord[] = [
      { t: 'self', epoch: 'e1' },
      { t: 'peer', peer: bob, epoch: 'b1' },
    ]
    for (let seq = 1; seq <= 100; seq++) {
      records.push(sent(seq), fromBob(seq), { t: 'acked', peer: bob, upTo: seq })
    }
    const compacted = compactAndCheck(records, 4, 3)
    expect(compacted.length).toBeLessThan(15)
    expect(compacted.filter((r) => r.t === 'acked')).toEqual([{ t: 'acked', peer: bob, upTo: 100 }])
  })

  it('keeps a few peer records of a neighbour that flipped its epoch on every one of 10,000 links', () => {
    const records: JournalRecord[] = [
      { t: 'self', epoch: 'e1' },
      { t: 'peer', peer: bob, epoch: 'b1' },
    ]
    for (let link = 0; link < 10_000; link++) {
      records.push({ t: 'peer', peer: carol, epoch: `c${link}` })
      // Now and then it says something, restarting its seqs each time.
      if (link % 1_000 === 0) records.push(fromCarol(1))
    }
    records.push(sent(1), fromBob(1), { t: 'acked', peer: bob, upTo: 1 })
    const compacted = compactAndCheck(records, 4, 3)
    expect(compacted.filter((r) => r.t === 'peer' && r.peer.id === carol.id).length).toBeLessThanOrEqual(9)
    expect(restore(compacted, self, 4, 3).peers.get(carol.id)).toMatchObject({ epoch: 'c9999', received: 0 })
  })

  it('forgets the strangers recorded longest ago past MAX_JOURNAL_PEERS, never a member it keeps messages of', () => {
    const records: JournalRecord[] = [
      { t: 'self', epoch: 'e1' },
      { t: 'peer', peer: bob, epoch: 'b1' },
      fromBob(1),
      sent(1),
      { t: 'acked', peer: bob, upTo: 1 },
      // Carol acked nothing of ours: the outbox is counted from her.
      { t: 'peer', peer: carol, epoch: 'c1' },
    ]
    const strangers = MAX_JOURNAL_PEERS + 500
    const stranger = (n: number) => ({ id: `1${n.toString(16).padStart(63, '0')}`, name: `s${n}` })
    for (let n = 0; n < strangers; n++) {
      records.push({ t: 'peer', peer: stranger(n), epoch: 'x' }, { t: 'acked', peer: stranger(n), upTo: 1 })
    }
    // The first stranger came back at the end: it is among the newest.
    records.push({ t: 'peer', peer: stranger(0), epoch: 'x' })
    const compacted = compactJournal(records, self, 10, 3)
    if (!compacted) throw new Error('compaction gave up')
    const state = restore(compacted, self, 10, 3)
    expect(state.peers.size).toBe(MAX_JOURNAL_PEERS)
    expect(state.peers.get(bob.id)?.received).toBe(1)
    expect(state.peers.get(carol.id)?.acked).toBe(0)
    expect(state.outbox.map((m) => m.seq)).toEqual([1])
    expect(state.peers.has(stranger(0).id)).toBe(true)
    // Bob, carol and the returning stranger take three places: the 502 strangers next in age are gone.
    for (let n = 1; n <= 502; n++) expect(state.peers.has(stranger(n).id)).toBe(false)
    expect(state.peers.get(stranger(503).id)).toMatchObject({ acked: 1, epoch: 'x', neighbor: true })
    // One each, and the returning stranger's second, after the ack it is restored with.
    expect(compacted.filter((r) => r.t === 'peer').length).toBe(MAX_JOURNAL_PEERS + 1)
    // Compacted again, it stays as it is.
    expect(compactJournal(compacted, self, 10, 3)).toEqual(compacted)
  })

  it('keeps every message still in the outbox, however small the history', () => {
    const records: JournalRecord[] = [{ t: 'peer', peer: bob, epoch: 'b1' }]
    for (let seq = 1; seq <= 20; seq++) records.push(sent(seq))
    records.push({ t: 'acked', peer: bob, upTo: 5 })
    const compacted = compactAndCheck(records, 1, 1)
    expect(compacted.filter((r) => r.t === 'sent')).toHaveLength(15)
  })

  it('bridges the receipts it drops with a base record, so the next kept one still counts', () => {
    const records = Array.from({ length: 10 }, (_, i) => fromCarol(i + 1))
    const compacted = compactAndCheck(records, 2, 2)
    expect(compacted).toEqual([{ t: 'base', peer: carol, seq: 8 }, fromCarol(9), fromCarol(10)])
  })

  it('keeps the history across a peer that restarted its seqs under a new epoch', () => {
    const records: JournalRecord[] = [{ t: 'peer', peer: bob, epoch: 'old' }]
    for (let seq = 1; seq <= 5; seq++) records.push(fromBob(seq, 'old'))
    records.push({ t: 'peer', peer: bob, epoch: 'new' })
    for (let seq = 1; seq <= 3; seq++) records.push(fromBob(seq, 'new'))
    const compacted = compactAndCheck(records, 5, 2)
    const history = restore(compacted, self, 5, 2).history
    expect(history.map((h) => h.id)).toEqual(['mb4old', 'mb5old', 'mb1new', 'mb2new', 'mb3new'])
  })

  it('keeps a watermark whose receipts were all dropped', () => {
    const records: JournalRecord[] = [fromCarol(1), { t: 'base', peer: carol, seq: 40 }]
    for (let seq = 1; seq <= 10; seq++) records.push(sent(seq))
    const compacted = compactAndCheck(records, 2, 1)
    expect(restore(compacted, self, 2, 1).peers.get(carol.id)).toMatchObject({ received: 40, log: [] })
  })

  it("keeps each receipt's arrival time (`at`), beside receipts of an earlier release without one", () => {
    const records: JournalRecord[] = []
    for (let seq = 1; seq <= 10; seq++) {
      const record = { t: 'received', msg: msg(seq, bob.id), name: 'bob' } as const
      records.push(seq % 2 === 0 ? { ...record, at: 1_800_000_000_000 + seq } : record)
    }
    const compacted = compactAndCheck(records, 4, 2)
    expect(compacted.filter((r) => r.t === 'received')).toEqual(records.slice(6))
    const history = restore(compacted, self, 4, 2).history
    expect(history.map((h) => h.at)).toEqual([undefined, 1_800_000_000_008, undefined, 1_800_000_000_010])
  })

  it('gives up on a journal holding a record type it does not know', () => {
    const records = [sent(1), { t: 'future', x: 1 } as unknown as JournalRecord]
    expect(compactJournal(records, self, 10, 10)).toBeUndefined()
  })
})
