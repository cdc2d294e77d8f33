import { describe, expect, it } from 'vitest'
import { FlowGate, IN_FLIGHT_LIMIT, weightOf } from './flow-gate.js'

describe('the flow gate between the node thread and the screen', () => {
  it('lets the node post while the screen keeps up, and holds it while too much is in flight', () => {
    const waited: number[] = []
    // Each time the node waits, the screen takes 5 units, as its inbox would.
    const gate: FlowGate = new FlowGate(new SharedArrayBuffer(8), 10, (_cells, _index, taken) => {
      waited.push(taken)
      gate.taken(5)
    })
    gate.sent(8)
    expect(waited).toEqual([])
    gate.sent(8)
    // 16 in flight: it waits until the screen has taken enough to bring it to the limit or under.
    expect(waited).toEqual([0, 5])
    expect(gate.inFlight).toBe(6)
    gate.taken(6)
    expect(gate.inFlight).toBe(0)
  })

  it('shares its counters through the buffer, as two threads do', () => {
    const node = new FlowGate(new SharedArrayBuffer(8), 100, () => {
      throw new Error('must not wait')
    })
    const screen = new FlowGate(node.shared)
    node.sent(60)
    expect(screen.inFlight).toBe(60)
    screen.taken(60)
    expect(node.inFlight).toBe(0)
  })

  it('weighs a message by its body, so that a few huge ones are bounded as well as many small ones', () => {
    const from = { id: 'peer', name: 'bob' }
    expect(weightOf({ type: 'delivered', id: 'm1', seq: 1, to: from })).toBe(1)
    expect(weightOf({ type: 'message', id: 'm1', seq: 1, ts: 0, from, body: 'hi' })).toBe(2)
    const huge = { type: 'message', id: 'm2', seq: 2, ts: 0, from, body: 'x'.repeat(64 * 1024) } as const
    expect(weightOf(huge)).toBe(1025)
    // What may wait between the threads: at most this many characters of message text.
    expect(IN_FLIGHT_LIMIT * 64).toBeLessThanOrEqual(512 * 1024)
  })
})
