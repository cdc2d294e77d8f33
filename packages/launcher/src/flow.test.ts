import type { NodeEvent, PeerInfo } from '@parley/core'
import { describe, expect, it } from 'vitest'
import { FlowSummary } from './flow.js'
import type { StatusLine } from './session.js'

const bob: PeerInfo = { id: 'b'.repeat(64), name: 'bob' }

describe('flow summary', () => {
  it('turns a storm of throttle and backpressure events into one line per interval', () => {
    let now = 0
    const scheduled: { at: number; run: () => void }[] = []
    const lines: StatusLine[] = []
    const flow = new FlowSummary((line) => lines.push(line), {
      everyMs: 5_000,
      now: () => now,
      schedule: (run, ms) => scheduled.push({ at: now + ms, run }),
      pending: () => 1234,
    })
    const throttled: NodeEvent = { type: 'throttled', peer: bob, retryMs: 5 }
    const blocked: NodeEvent = { type: 'backpressure', peer: bob, blocked: true }
    const reading: NodeEvent = { type: 'backpressure', peer: bob, blocked: false }
    flow.push(throttled)
    for (let i = 0; i < 100; i++) {
      now += 10
      flow.push(i % 2 ? blocked : reading)
      flow.push(throttled)
    }
    expect(lines).toHaveLength(1)
    expect(lines[0]!.text).toBe(
      'sending slower: bob is throttling you; 1,234 message(s) queued; none is lost',
    )
    expect(scheduled).toHaveLength(1)
    now = scheduled[0]!.at
    scheduled[0]!.run()
    expect(lines).toHaveLength(2)
    expect(lines[1]!.text).toMatch(/^sending slower: bob is throttling you, bob is not reading; /)
  })

  it('says a peer is not reading only once its link stayed blocked for the grace, not for a moment', () => {
    let now = 0
    const scheduled: { at: number; run: () => void }[] = []
    const lines: StatusLine[] = []
    const flow = new FlowSummary((line) => lines.push(line), {
      everyMs: 5_000,
      graceMs: 1_000,
      now: () => now,
      schedule: (run, ms) => scheduled.push({ at: now + ms, run }),
      pending: () => 10_922,
    })
    const runDue = () => {
      const due = scheduled.filter((s) => s.at <= now)
      for (const s of due) scheduled.splice(scheduled.indexOf(s), 1)
      for (const s of due) s.run()
    }
    // A piped file's first burst fills the link, and the peer drains it within the grace: no line.
    flow.push({ type: 'backpressure', peer: bob, blocked: true })
    expect(lines).toEqual([])
    expect(scheduled.map((s) => s.at)).toEqual([1_000])
    now = 300
    flow.push({ type: 'backpressure', peer: bob, blocked: false })
    now = 1_000
    runDue()
    expect(lines).toEqual([])
    expect(scheduled).toEqual([])
    // Blocked again at 2 s, and still at 2.5 s: the check moves to the new block's grace.
    now = 2_000
    flow.push({ type: 'backpressure', peer: bob, blocked: true })
    now = 2_500
    flow.push({ type: 'backpressure', peer: bob, blocked: true })
    expect(scheduled.map((s) => s.at)).toEqual([3_000])
    now = 3_000
    runDue()
    expect(lines.map((l) => l.text)).toEqual([
      'sending slower: bob is not reading; 10,922 message(s) queued; none is lost',
    ])
    expect(scheduled).toEqual([])
  })

  it('looks again when a block it was to report cleared and came back before the check', () => {
    let now = 0
    const scheduled: { at: number; run: () => void }[] = []
    const lines: StatusLine[] = []
    const flow = new FlowSummary((line) => lines.push(line), {
      graceMs: 1_000,
      now: () => now,
      schedule: (run, ms) => scheduled.push({ at: now + ms, run }),
    })
    flow.push({ type: 'backpressure', peer: bob, blocked: true })
    now = 600
    flow.push({ type: 'backpressure', peer: bob, blocked: false })
    now = 900
    flow.push({ type: 'backpressure', peer: bob, blocked: true })
    // The check set for the first block finds a block of 100 ms: nothing to say yet, one more check.
    now = 1_000
    scheduled.shift()!.run()
    expect(lines).toEqual([])
    expect(scheduled.map((s) => s.at)).toEqual([1_900])
    now = 1_900
    scheduled.shift()!.run()
    expect(lines.map((l) => l.text)).toEqual(['sending slower: bob is not reading; none is lost'])
  })

  it('says nothing once closed, and takes over only flow events', () => {
    const lines: StatusLine[] = []
    const flow = new FlowSummary((line) => lines.push(line))
    flow.close()
    flow.push({ type: 'throttled', peer: bob, retryMs: 5 })
    expect(lines).toEqual([])
    expect(FlowSummary.handles({ type: 'throttled', peer: bob, retryMs: 5 })).toBe(true)
    expect(FlowSummary.handles({ type: 'closed' })).toBe(false)
  })
})
