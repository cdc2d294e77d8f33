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
