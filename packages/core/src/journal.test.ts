import { describe, expect, it } from 'vitest'
import { type JournalRecord, restore } from './journal.js'
import { compactJournal } from './journal-compact.js'
import { weigh } from './room-ledger.js'
import { WINDOW_BYTES, WINDOWS_TOTAL_BYTES } from './room-types.js'
import type { Msg } from './schema.js'

const self = { id: 'a'.repeat(64), name: 'alice' }
const bob = { id: 'b'.repeat(64), name: 'bob' }
const msg = (seq: number, from = self.id): Msg => ({
  type: 'msg',
  id: `m${seq}`,
  seq,
  ts: seq,
  from,
  body: `body ${seq}`,
})

describe('restore: the node state rebuilt from its journal', () => {
  it('starts empty with seq 1', () => {
    const state = restore([], self)
    expect(state.nextSeq).toBe(1)
    expect(state.outbox).toEqual([])
    expect(state.history).toEqual([])
  })

  it('keeps every sent message in the outbox until the peer acks it, and continues the seq', () => {
    const records: JournalRecord[] = [
      { t: 'self', epoch: 'e1' },
      { t: 'sent', msg: msg(1) },
      { t: 'sent', msg: msg(2) },
      { t: 'peer', peer: bob, epoch: 'b1' },
      { t: 'acked', peer: bob, upTo: 1 },
      { t: 'sent', msg: msg(3) },
    ]
    const state = restore(records, self)
    expect(state.nextSeq).toBe(4)
    expect(state.outbox.map((m) => m.seq)).toEqual([2, 3])
    expect(state.epoch).toBe('e1')
    expect(state.peers.get(bob.id)).toMatchObject({ acked: 1, received: 0, epoch: 'b1' })
  })

  it('gives our own history entries the name each was sent with, and theirs the name they signed', () => {
    const records: JournalRecord[] = [
      { t: 'sent', msg: { ...msg(1), name: 'alice' } },
      { t: 'sent', msg: { ...msg(2), name: 'zed' } },
      { t: 'received', msg: { ...msg(1, bob.id), name: 'alice' }, name: 'alice' },
      { t: 'sent', msg: msg(3) },
    ]
    const history = restore(records, self).history
    expect(history.map((h) => [h.direction, h.from])).toEqual([
      ['out', self],
      ['out', { id: self.id, name: 'zed' }],
      ['in', { id: bob.id, name: 'alice' }],
      ['out', self],
    ])
  })

  it('rebuilds the dedup watermark from contiguous receipts and ignores a gap or a repeat', () => {
    const records: JournalRecord[] = [
      { t: 'received', msg: msg(1, bob.id), name: 'bob' },
      { t: 'received', msg: msg(2, bob.id), name: 'bob' },
      { t: 'received', msg: msg(2, bob.id), name: 'bob' },
      { t: 'received', msg: msg(4, bob.id), name: 'bob' },
    ]
    const state = restore(records, self)
    expect(state.peers.get(bob.id)?.received).toBe(2)
    expect(state.history.map((h) => h.seq)).toEqual([1, 2])
  })

  it('resets what it knows of a peer whose seq epoch changed (it restarted without its journal)', () => {
    const records: JournalRecord[] = [
      { t: 'peer', peer: bob, epoch: 'old' },
      { t: 'received', msg: msg(1, bob.id), name: 'bob' },
      { t: 'acked', peer: bob, upTo: 5 },
      { t: 'peer', peer: bob, epoch: 'new' },
    ]
    expect(restore(records, self).peers.get(bob.id)).toMatchObject({ acked: 0, received: 0, epoch: 'new' })
  })

  it('recalls that a restarted peer sent nothing of its new numbering yet, until a message of it comes', () => {
    const records: JournalRecord[] = [
      { t: 'peer', peer: bob, epoch: 'old' },
      { t: 'received', msg: msg(1, bob.id), name: 'bob' },
      { t: 'peer', peer: bob, epoch: 'new' },
    ]
    expect(restore(records, self).peers.get(bob.id)?.reset).toBe(true)
    const since: JournalRecord[] = [...records, { t: 'received', msg: msg(1, bob.id), name: 'bob' }]
    expect(restore(since, self).peers.get(bob.id)).toMatchObject({ received: 1, reset: false })
    // Its first epoch is no restart.
    expect(restore(records.slice(0, 2), self).peers.get(bob.id)?.reset).toBeFalsy()
    // How far its old numbering went, when the record says.
    const after: JournalRecord[] = [
      ...records.slice(0, 2),
      { t: 'peer', peer: bob, epoch: 'new', after: 1234 },
    ]
    expect(restore(after, self).peers.get(bob.id)).toMatchObject({ reset: true, resetAfter: 1234 })
  })

  it("works out how far a restarted peer's old numbering went when an earlier release's record does not say, and a compaction keeps it", () => {
    const last = msg(1, bob.id)
    const records: JournalRecord[] = [
      { t: 'peer', peer: bob, epoch: 'old' },
      { t: 'received', msg: last, name: 'bob' },
      { t: 'peer', peer: bob, epoch: 'new' },
    ]
    expect(restore(records, self).peers.get(bob.id)).toMatchObject({ reset: true, resetAfter: last.ts })
    // With no history kept, the receipt it was worked out from is dropped; the kept reset says it.
    const compacted = compactJournal(records, self, 0)
    expect(compacted?.filter((r) => r.t === 'received')).toEqual([])
    expect(restore(compacted ?? [], self, 0).peers.get(bob.id)).toMatchObject({
      reset: true,
      resetAfter: last.ts,
    })
  })

  it('keeps out of the outbox what a settled record says left it, even below a peer that never acked', () => {
    const sent = (seq: number): JournalRecord => ({ t: 'sent', msg: msg(seq) })
    const carol = { id: 'c'.repeat(16), name: 'carol' }
    const records: JournalRecord[] = [
      { t: 'peer', peer: carol, epoch: 'c1' },
      { t: 'peer', peer: bob, epoch: 'b1' },
      sent(1),
      sent(2),
      sent(3),
      { t: 'acked', peer: bob, upTo: 3 },
    ]
    expect(restore(records, self).outbox.map((m) => m.seq)).toEqual([1, 2, 3])
    const settled: JournalRecord[] = [...records, { t: 'settled', upTo: 2 }, { t: 'settled', upTo: 1 }]
    expect(restore(settled, self).outbox.map((m) => m.seq)).toEqual([3])
    // Nor does it grow back when a neighbour restarts without its journal (its ack starts over).
    const restarted: JournalRecord[] = [...settled, { t: 'peer', peer: bob, epoch: 'b2' }]
    expect(restore(restarted, self).outbox.map((m) => m.seq)).toEqual([3])
  })

  it('moves the watermark forward on a base record, so the next receipt after it counts', () => {
    const records: JournalRecord[] = [
      { t: 'base', peer: bob, seq: 10 },
      { t: 'received', msg: msg(11, bob.id), name: 'bob' },
    ]
    expect(restore(records, self).peers.get(bob.id)?.received).toBe(11)
  })

  it('keeps only the newest history entries', () => {
    const records: JournalRecord[] = Array.from({ length: 50 }, (_, i) => ({
      t: 'sent' as const,
      msg: msg(i + 1),
    }))
    const state = restore(records, self, 10)
    expect(state.history.map((h) => h.seq)).toEqual([41, 42, 43, 44, 45, 46, 47, 48, 49, 50])
    expect(state.outbox).toHaveLength(50)
  })

  it('skips a record type written by a newer version', () => {
    const records = [
      { t: 'sent', msg: msg(1) },
      { t: 'future', x: 1 },
      { t: 'sent', msg: msg(2) },
    ] as unknown as JournalRecord[]
    expect(restore(records, self).nextSeq).toBe(3)
  })

  describe('the room: members reached through relays', () => {
    const carol = { id: 'c'.repeat(64), name: 'carol' }
    const fromCarol = (seq: number): Msg => ({ ...msg(seq, carol.id), name: 'carol', prev: `p${seq}` })

    it('rebuilds each origin’s window of recent messages, so a restarted node can catch others up', () => {
      const records: JournalRecord[] = Array.from({ length: 7 }, (_, i) => ({
        t: 'received' as const,
        msg: fromCarol(i + 1),
        name: 'carol',
      }))
      const state = restore(records, self, 100, 3)
      const p = state.peers.get(carol.id)
      expect(p?.received).toBe(7)
      expect(p?.log.map((m) => m.seq)).toEqual([5, 6, 7])
      expect(p?.log[2]?.prev).toBe('p7')
      expect(p?.neighbor).toBe(false)
    })

    it('keeps the outbox for neighbours only: a relayed member never acks our stream', () => {
      const records: JournalRecord[] = [
        { t: 'peer', peer: bob, epoch: 'b1' },
        { t: 'sent', msg: msg(1) },
        { t: 'received', msg: fromCarol(1), name: 'carol' },
        { t: 'acked', peer: bob, upTo: 1 },
      ]
      const state = restore(records, self)
      expect(state.outbox).toEqual([])
      expect(state.recent.map((m) => m.seq)).toEqual([1])
      expect(state.lastSent?.seq).toBe(1)
      expect(state.peers.get(bob.id)?.neighbor).toBe(true)
    })

    it('starts an origin’s window over after a jump, so it stays contiguous', () => {
      const records: JournalRecord[] = [
        { t: 'received', msg: fromCarol(1), name: 'carol' },
        { t: 'base', peer: carol, seq: 10 },
        { t: 'received', msg: fromCarol(11), name: 'carol' },
      ]
      const p = restore(records, self).peers.get(carol.id)
      expect(p?.received).toBe(11)
      expect(p?.log.map((m) => m.seq)).toEqual([11])
    })

    it('forgets a neighbour’s window when it restarted without its journal', () => {
      const records: JournalRecord[] = [
        { t: 'peer', peer: bob, epoch: 'old' },
        { t: 'received', msg: msg(1, bob.id), name: 'bob' },
        { t: 'peer', peer: bob, epoch: 'new' },
      ]
      expect(restore(records, self).peers.get(bob.id)?.log).toEqual([])
    })
  })

  it('gives a received entry the time it arrived (`at`) where its record has it, and none to the rest', () => {
    const records: JournalRecord[] = [
      // An earlier release's receipt, then this one's; our own lines never have one (`ts` is our clock).
      { t: 'received', msg: msg(1, bob.id), name: 'bob' },
      { t: 'received', msg: msg(2, bob.id), name: 'bob', at: 1_800_000_000_000 },
      { t: 'sent', msg: msg(1) },
      {
        t: 'received',
        msg: { ...msg(3, bob.id), body: 'a\nb', lines: 2 },
        name: 'bob',
        at: 1_800_000_000_001,
      },
    ]
    const history = restore(records, self).history
    expect(history.map((h) => [h.id, h.ts, h.at])).toEqual([
      ['m1', 1, undefined],
      ['m2', 2, 1_800_000_000_000],
      ['m1', 1, undefined],
      ['m3', 3, 1_800_000_000_001],
      ['m3.1', 3, 1_800_000_000_001],
    ])
    expect(history.map((h) => 'at' in h)).toEqual([false, true, false, true, true])
  })
})

describe('restore: windows of a journal of long messages from many members', () => {
  it('keeps each member within WINDOW_BYTES and all of them within WINDOWS_TOTAL_BYTES, as the room does', () => {
    // What a flood of members made up by a hostile relay leaves in a journal: 80 members, each with 110
    // of the longest messages (one body string shared, so this test itself holds little).
    const long = 'z'.repeat(10_000)
    const records: JournalRecord[] = []
    for (let o = 0; o < 80; o++) {
      const from = (o + 1).toString(16).padStart(64, '0')
      for (let seq = 1; seq <= 110; seq++)
        records.push({
          t: 'received',
          msg: { ...msg(seq, from), id: `${o}-${seq}`, body: long },
          name: `m${o}`,
        })
    }
    const state = restore(records, self)
    const bytes = (log: readonly Msg[]) => log.reduce((sum, m) => sum + weigh(m), 0)
    let total = 0
    for (const peer of state.peers.values()) {
      // Every message was received; the window keeps the newest of them.
      expect(peer.received).toBe(110)
      expect(bytes(peer.log)).toBeLessThanOrEqual(WINDOW_BYTES)
      expect(peer.log.at(-1)?.seq).toBe(110)
      total += bytes(peer.log)
    }
    expect(total).toBeLessThanOrEqual(WINDOWS_TOTAL_BYTES)
  })
})
