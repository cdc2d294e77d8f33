import type { NodeEvent } from '@parley/core'
import { describe, expect, it } from 'vitest'
import { Inbox } from './inbox.js'
import type { FromNode } from './protocol.js'

const delivered = (seq: number): NodeEvent => ({
  type: 'delivered',
  id: `m${seq}`,
  seq,
  to: { id: 'peer', name: 'bob' },
})
const batch = (from: number, count: number, pending: number): FromNode => ({
  type: 'events',
  events: Array.from({ length: count }, (_, i) => [delivered(from + i), undefined] as const),
  state: { pending },
})

function inbox(perTurn: number) {
  const seen: string[] = []
  const turns: (() => void)[] = []
  const box = new Inbox(
    {
      message: (m) => seen.push(m.type === 'answer' ? `answer ${m.ask}` : m.type),
      state: (s) => seen.push(`state ${s.pending}`),
      event: (e) => seen.push(`event ${e.type === 'delivered' ? e.seq : e.type}`),
    },
    perTurn,
    (rest) => turns.push(rest),
  )
  const nextTurn = () => turns.shift()?.()
  return { box, seen, turns, nextTurn }
}

describe('the inbox of the screen thread', () => {
  it('hands a large batch on a slice per turn, its state before its first event', () => {
    const { box, seen, turns, nextTurn } = inbox(3)
    box.push(batch(1, 7, 4))
    expect(seen).toEqual(['state 4', 'event 1', 'event 2', 'event 3'])
    nextTurn()
    expect(seen.slice(4)).toEqual(['event 4', 'event 5', 'event 6'])
    nextTurn()
    expect(seen.slice(7)).toEqual(['event 7'])
    expect(box.waiting).toBe(0)
    // The turn that took the last event still starts the next one's budget afresh, and then no more.
    nextTurn()
    expect(turns).toHaveLength(0)
  })

  it('keeps an answer after the events sent before it, and later messages after it', () => {
    const { box, seen, nextTurn } = inbox(2)
    box.push(batch(1, 3, 1))
    // Arrives while the batch is still being handed on: it waits its turn.
    box.push({ type: 'answer', ask: 9 })
    box.push(batch(4, 1, 0))
    expect(seen).toEqual(['state 1', 'event 1', 'event 2'])
    nextTurn()
    expect(seen.slice(3)).toEqual(['event 3', 'answer 9', 'state 0', 'event 4'])
    expect(box.waiting).toBe(0)
  })

  it('hands everything on at once while it fits in one turn', () => {
    const { box, seen, turns, nextTurn } = inbox(256)
    box.push({
      type: 'started',
      info: { id: 'a', name: 'alice', secure: true, notes: [], history: [] },
      state: { pending: 0 },
    })
    box.push(batch(1, 2, 0))
    box.push({ type: 'events', events: [], state: { pending: 3 } })
    expect(seen).toEqual(['started', 'state 0', 'event 1', 'event 2', 'state 3'])
    // One next turn is asked for, to start its budget afresh; it finds nothing left to take.
    expect(turns).toHaveLength(1)
    nextTurn()
    expect(seen).toHaveLength(5)
    expect(turns).toHaveLength(0)
  })

  it('counts every batch of one turn against its budget', () => {
    // Node.js hands a worker's queued messages over one after another in one task: many small batches,
    // each under the budget, must not add up to more than a turn's worth before the keyboard is read.
    const { box, seen, turns, nextTurn } = inbox(3)
    box.push(batch(1, 2, 5))
    box.push(batch(3, 2, 3))
    box.push(batch(5, 2, 1))
    box.push({ type: 'answer', ask: 7 })
    expect(seen).toEqual(['state 5', 'event 1', 'event 2', 'state 3', 'event 3'])
    expect(turns).toHaveLength(1)
    expect(box.waiting).toBe(3)
    nextTurn()
    // An answer is not an event: it costs no budget, and follows the events before it at once.
    expect(seen.slice(5)).toEqual(['event 4', 'state 1', 'event 5', 'event 6', 'answer 7'])
    expect(box.waiting).toBe(0)
    nextTurn()
    expect(turns).toHaveLength(0)
    // A batch in a later turn gets that turn's whole budget.
    box.push(batch(7, 3, 0))
    expect(seen.slice(10)).toEqual(['state 0', 'event 7', 'event 8', 'event 9'])
  })

  it('takes a batch at once when the turn that spent its budget is over', () => {
    const { box, seen, nextTurn } = inbox(2)
    box.push(batch(1, 2, 0))
    box.push(batch(3, 1, 0))
    expect(seen).toEqual(['state 0', 'event 1', 'event 2'])
    nextTurn()
    expect(seen.slice(3)).toEqual(['state 0', 'event 3'])
    nextTurn()
    box.push(batch(4, 1, 0))
    expect(seen.slice(5)).toEqual(['state 0', 'event 4'])
  })
})
