import type { HistoryEntry } from '@parley/core'
import { describe, expect, it } from 'vitest'
import { recentHistory } from './history-order.js'

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

const ids = (entries: readonly HistoryEntry[]) => entries.map((e) => e.id)

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
})
