import type { HistoryEntry } from '@parley/core'
import { describe, expect, it } from 'vitest'
import { type HistoryLine, recentHistory } from './history-order.js'

/** A history entry from `who` with its `seq` and send time `ts`. */
function entry(who: string, seq: number, ts: number): HistoryEntry {
  return {
    direction: 'in',
    id: `${who}-${seq}`,
    seq,
    ts,
    from: { id: who, name: who },
    body: `${who} ${seq}`,
  }
}

/** `entry`, a part of a line that goes on in the sender's next message. */
const goesOn = (who: string, seq: number, ts: number): HistoryEntry => ({
  ...entry(who, seq, ts),
  more: true,
})

/** `entry`, received at `at` (this node's clock). */
const arrived = (who: string, seq: number, ts: number, at: number): HistoryEntry => ({
  ...entry(who, seq, ts),
  at,
})

const ids = (lines: readonly HistoryLine[]) => lines.map((line) => line.map((e) => e.id).join('+'))

describe('recentHistory', () => {
  it('orders a caught-up backlog, which arrived in one block per sender, by time across senders', () => {
    // Arrival order: alice's messages, then bob's backlog caught up after a restart.
    const history = [
      entry('alice', 1, 100),
      entry('alice', 2, 300),
      entry('bob', 1, 200),
      entry('bob', 2, 400),
    ]
    expect(ids(recentHistory(history, 10))).toEqual(['alice-1', 'bob-1', 'alice-2', 'bob-2'])
  })

  it('takes the last N by time, not the last N to arrive', () => {
    const history = [
      entry('bob', 1, 400),
      entry('bob', 2, 500),
      entry('alice', 1, 100),
      entry('alice', 2, 200),
    ]
    expect(ids(recentHistory(history, 2))).toEqual(['bob-1', 'bob-2'])
  })

  it("keeps a sender's own order when its clock stepped back", () => {
    const history = [entry('alice', 1, 300), entry('alice', 2, 100), entry('bob', 1, 200)]
    expect(ids(recentHistory(history, 10))).toEqual(['bob-1', 'alice-1', 'alice-2'])
  })

  it('breaks a tie in time by arrival, and gives nothing for a count of 0', () => {
    const history = [entry('bob', 1, 100), entry('alice', 1, 100)]
    expect(ids(recentHistory(history, 10))).toEqual(['bob-1', 'alice-1'])
    expect(recentHistory(history, 0)).toEqual([])
  })

  it('gives the parts of a line sent in parts as one line, counted once, never starting with its tail', () => {
    const history = [
      entry('alice', 1, 100),
      goesOn('bob', 1, 200),
      goesOn('bob', 2, 200),
      entry('bob', 3, 200),
      entry('alice', 2, 300),
    ]
    expect(ids(recentHistory(history, 10))).toEqual(['alice-1', 'bob-1+bob-2+bob-3', 'alice-2'])
    expect(ids(recentHistory(history, 2))).toEqual(['bob-1+bob-2+bob-3', 'alice-2'])
  })

  it("joins a sender's parts when another sender's message arrived between them", () => {
    const history = [goesOn('alice', 1, 100), entry('bob', 1, 100), entry('alice', 2, 100)]
    expect(ids(recentHistory(history, 10))).toEqual(['alice-1+alice-2', 'bob-1'])
  })

  it('ends a line at a part whose next part is missing: the next message from its sender is a line of its own', () => {
    const history = [
      goesOn('alice', 1, 100),
      entry('alice', 3, 200),
      goesOn('bob', 1, 300),
      entry('bob', 2, 300),
    ]
    expect(ids(recentHistory(history, 10))).toEqual(['alice-1', 'alice-3', 'bob-1+bob-2'])
  })

  it('joins only parts of one direction, and a part only to one that said the line goes on', () => {
    const mine = { ...goesOn('alice', 1, 100), direction: 'out' as const }
    const history = [mine, entry('alice', 2, 100), entry('bob', 1, 200), entry('bob', 2, 200)]
    expect(ids(recentHistory(history, 10))).toEqual(['alice-1', 'alice-2', 'bob-1', 'bob-2'])
  })

  it('continues a line with the first of the lines of one message, whose last line may go on again', () => {
    const line = (seq: number, k: number, more?: true): HistoryEntry => ({
      ...entry('alice', seq, 100),
      id: k === 0 ? `alice-${seq}` : `alice-${seq}.${k}`,
      ...(more ? { more } : {}),
    })
    const history = [line(1, 0, true), line(2, 0), line(2, 1), line(2, 2, true), line(3, 0)]
    expect(ids(recentHistory(history, 10))).toEqual(['alice-1+alice-2', 'alice-2.1', 'alice-2.2+alice-3'])
  })

  it('places a line dated ahead of its arrival where it arrived, so later lines are not pushed out', () => {
    const now = Date.UTC(2026, 11, 7, 21)
    const ahead = now + 10 * 365 * 86_400_000
    const history = [
      arrived('mallory', 1, ahead, now),
      arrived('mallory', 2, ahead + 1, now + 1),
      arrived('alice', 1, now + 1000, now + 1000),
      arrived('bob', 1, now + 2000, now + 2000),
    ]
    expect(ids(recentHistory(history, 2))).toEqual(['alice-1', 'bob-1'])
    expect(ids(recentHistory(history, 10))).toEqual(['mallory-1', 'mallory-2', 'alice-1', 'bob-1'])
  })

  it('still places a backlog that arrived late back at its send times, each sender in its own order', () => {
    // Bob's lines were written while this node was away, and arrived after alice's later ones.
    const history = [
      arrived('alice', 1, 100, 100),
      arrived('alice', 2, 300, 300),
      arrived('bob', 1, 200, 900),
      arrived('bob', 2, 400, 900),
      // Its clock stepped back: still after its line before.
      arrived('bob', 3, 50, 950),
    ]
    expect(ids(recentHistory(history, 10))).toEqual(['alice-1', 'bob-1', 'alice-2', 'bob-2', 'bob-3'])
  })

  it("orders entries with arrival times and entries without (an earlier release's journal) together", () => {
    const history = [
      entry('alice', 1, 100),
      entry('mallory', 1, 10_000),
      arrived('mallory', 2, 10_001, 400),
      arrived('bob', 1, 300, 500),
    ]
    // Without an arrival time, a line is placed by its send time as before; one with it, never after it.
    expect(ids(recentHistory(history, 10))).toEqual(['alice-1', 'bob-1', 'mallory-1', 'mallory-2'])
  })
})
