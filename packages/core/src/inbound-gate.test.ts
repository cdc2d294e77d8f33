/**
 * The inbound gate's turns: a budget of messages and bytes per turn, a slice per link while links compete
 * (a link alone takes the whole turn), served round robin.
 */
import { describe, expect, it } from 'vitest'
import { ManualClock } from '../test/manual-clock.js'
import { InboundGate, SLICE_BYTES, TURN_BUDGET, TURN_BYTES } from './inbound-gate.js'

/** A gate whose turns the test runs by hand; `served` lists the links each turn handed back, in order. */
function gate() {
  const deferred: (() => void)[] = []
  const clock = Object.assign(Object.create(new ManualClock()) as ManualClock, {
    defer: (callback: () => void) => deferred.push(callback),
  })
  const served: string[][] = []
  const g = new InboundGate<string>(clock, false, (waited) => served.push(waited))
  const nextTurn = () => {
    for (const callback of deferred.splice(0)) callback()
  }
  /** How many messages of `bytes` the link takes before it must wait. */
  const takeAll = (link: string, bytes: number, max = 10_000) => {
    for (let n = 0; n < max; n++) if (!g.takeTurn(link, bytes).ok) return n
    return max
  }
  return { g, served, nextTurn, takeAll }
}

describe('InboundGate turns', () => {
  it('lets a link alone take the whole turn, more than a slice', () => {
    const { takeAll, nextTurn, served } = gate()
    const size = 4_096
    expect(takeAll('a', size)).toBe(Math.min(TURN_BUDGET, TURN_BYTES / size))
    expect(TURN_BYTES / size).toBeGreaterThan(SLICE_BYTES / size)
    // Still alone on the next turn: the whole of it again.
    nextTurn()
    expect(served).toEqual([['a']])
    expect(takeAll('a', size)).toBe(TURN_BYTES / size)
  })

  it('gives each of two busy links a slice per turn, in alternation, once they compete', () => {
    const { takeAll, nextTurn, served } = gate()
    const size = 4_096
    const slice = SLICE_BYTES / size
    // a came first and had the turn to itself; b got nothing and goes first on the next.
    expect(takeAll('a', size)).toBe(TURN_BYTES / size)
    expect(takeAll('b', size)).toBe(0)
    for (let turn = 0; turn < 4; turn++) {
      nextTurn()
      const [first, second] = served.at(-1)!
      expect(served.at(-1)).toHaveLength(2)
      expect(takeAll(first!, size)).toBe(slice)
      expect(takeAll(second!, size)).toBe(slice)
    }
    expect(served).toEqual([
      ['b', 'a'],
      ['b', 'a'],
      ['b', 'a'],
      ['b', 'a'],
    ])
  })

  it('counts a link that is served as competing before it takes anything', () => {
    const { g, takeAll } = gate()
    g.serve(['a', 'b'])
    expect(takeAll('a', 4_096)).toBe(SLICE_BYTES / 4_096)
    // Once the other link is forgotten (it closed), the turn is a's again.
    g.forget('b')
    expect(takeAll('a', 4_096)).toBe((TURN_BYTES - SLICE_BYTES) / 4_096)
  })

  it('lets each competing link take a slice of a turn, and at least one message however large', () => {
    const { g, takeAll } = gate()
    g.serve(['a', 'b'])
    expect(takeAll('a', 10_000)).toBe(Math.ceil(SLICE_BYTES / 10_000))
    expect(takeAll('b', SLICE_BYTES * 2)).toBe(1)
  })

  it('stops every link once the turn has its bytes or its messages', () => {
    const bytes = gate()
    let taken = 0
    for (let i = 0; i < 100; i++) taken += bytes.takeAll(`link${i}`, 8_192)
    expect(taken).toBe(TURN_BYTES / 8_192)
    const messages = gate()
    taken = 0
    for (let i = 0; i < 1_000; i++) taken += messages.takeAll(`link${i}`, 1, 10)
    expect(taken).toBe(TURN_BUDGET)
  })

  it('serves first, on the next turn, the links that got nothing, then those that had their slice', () => {
    const { g, takeAll, nextTurn, served } = gate()
    const links = Array.from({ length: TURN_BYTES / SLICE_BYTES + 2 }, (_, i) => `link${i}`)
    g.serve(links)
    for (const link of links) takeAll(link, 4_096)
    nextTurn()
    const starved = links.slice(-2)
    expect(served).toEqual([[...starved, ...links.slice(0, -2)]])
  })

  it('has room to read again as many paused links as the rest of the turn has slices for, and at least one', () => {
    const { g, takeAll, nextTurn, served } = gate()
    const free = TURN_BYTES / SLICE_BYTES
    expect(g.roomToResume(free - 1)).toBe(true)
    expect(g.roomToResume(free)).toBe(false)
    const busy = Array.from({ length: free - 1 }, (_, i) => `busy${i}`)
    g.serve(busy)
    for (const link of busy) takeAll(link, 4_096)
    expect(g.roomToResume(0)).toBe(true)
    expect(g.roomToResume(1)).toBe(false)
    // A link left paused keeps its place: it got nothing, so it goes first on the next turn.
    g.park('parked')
    nextTurn()
    expect(served.at(-1)![0]).toBe('parked')
  })
})
