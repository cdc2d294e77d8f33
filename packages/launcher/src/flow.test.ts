import type { ChatNode, NodeEvent, PeerInfo, PeerState } from '@parley/core'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  BackpressureGrace,
  FlowSummary,
  type FlowSummaryOptions,
  givenUpEverywhere,
  PausedInput,
  refusedEverywhere,
  trustFailures,
  untrustedTargets,
  waitWhileProgressing,
} from './flow.js'
import type { StatusLine } from './session.js'

const bob: PeerInfo = { id: 'b'.repeat(64), name: 'bob' }

/** A summary on a clock the test moves, with its checks kept to run when the test says. */
function harness(options: FlowSummaryOptions) {
  const h = {
    now: 0,
    scheduled: [] as { at: number; run: () => void }[],
    lines: [] as StatusLine[],
    flow: undefined as unknown as FlowSummary,
    /** Moves the clock to `ms` and runs the checks due by then. */
    at(ms: number): void {
      h.now = ms
      const due = h.scheduled.filter((s) => s.at <= ms)
      h.scheduled = h.scheduled.filter((s) => s.at > ms)
      for (const s of due) s.run()
    },
  }
  h.flow = new FlowSummary((line) => h.lines.push(line), {
    ...options,
    now: () => h.now,
    schedule: (run, ms) => h.scheduled.push({ at: h.now + ms, run }),
  })
  return h
}

const blocked: NodeEvent = { type: 'backpressure', peer: bob, blocked: true }
const reading: NodeEvent = { type: 'backpressure', peer: bob, blocked: false }

describe('flow summary', () => {
  it('turns a storm of throttle and backpressure events into one line per interval', () => {
    const h = harness({ everyMs: 5_000, pending: () => 1234 })
    const throttled: NodeEvent = { type: 'throttled', peer: bob, retryMs: 5 }
    h.flow.push(throttled)
    for (let i = 0; i < 100; i++) {
      h.now += 10
      h.flow.push(i % 2 ? blocked : reading)
      h.flow.push(throttled)
    }
    expect(h.lines).toHaveLength(1)
    expect(h.lines[0]!.text).toBe(
      'sending slower: bob is throttling you; 1,234 message(s) queued; none is lost',
    )
    expect(h.scheduled).toHaveLength(1)
    h.at(h.scheduled[0]!.at)
    expect(h.lines).toHaveLength(2)
    expect(h.lines[1]!.text).toMatch(/^sending slower: bob is throttling you, bob is not reading; /)
  })

  it('does not name a peer that throttled and then left', () => {
    const h = harness({ everyMs: 5_000, pending: () => 0 })
    h.flow.push({ type: 'throttled', peer: bob, retryMs: 5 })
    h.at(100)
    h.flow.push({ type: 'throttled', peer: bob, retryMs: 5 })
    h.flow.observe({ type: 'disconnected', peer: bob, reason: 'bob left (input ended)', left: true })
    for (const { at } of h.scheduled) h.at(at)
    expect(h.lines).toHaveLength(1)
  })

  it('says that none of yours waits when what is slowed is only what this node passes on', () => {
    const h = harness({ everyMs: 5_000, pending: () => 0 })
    h.flow.push({ type: 'throttled', peer: bob, retryMs: 5 })
    expect(h.lines.map((l) => l.text)).toEqual([
      'sending slower: bob is throttling you; none of yours waits, only messages this node passes on; none is lost',
    ])
  })

  it('does not say none of yours waits when your messages were queued as it was slowed, and drained since', () => {
    let pending = 40
    const h = harness({ everyMs: 5_000, pending: () => pending })
    h.flow.push({ type: 'throttled', peer: bob, retryMs: 5 })
    h.at(100)
    h.flow.push({ type: 'throttled', peer: bob, retryMs: 5 })
    pending = 0
    h.at(h.scheduled[0]!.at)
    expect(h.lines.map((l) => l.text)).toEqual([
      'sending slower: bob is throttling you; 40 message(s) queued; none is lost',
      'sending slower: bob is throttling you; none is lost',
    ])
  })

  it('says a peer is not reading only once its link stayed blocked for the grace, not for a moment', () => {
    const h = harness({ everyMs: 5_000, graceMs: 1_000, pending: () => 10_922 })
    // A piped file's first burst fills the link, and the peer drains it within the grace: no line.
    h.flow.push(blocked)
    expect(h.lines).toEqual([])
    expect(h.scheduled.map((s) => s.at)).toEqual([1_000])
    h.at(300)
    h.flow.push(reading)
    h.at(1_000)
    expect(h.lines).toEqual([])
    expect(h.scheduled).toEqual([])
    // Blocked again at 2 s, and still at 2.5 s: the check moves to the new block's grace.
    h.at(2_000)
    h.flow.push(blocked)
    h.at(2_500)
    h.flow.push(blocked)
    expect(h.scheduled.map((s) => s.at)).toEqual([3_000])
    h.at(3_000)
    expect(h.lines.map((l) => l.text)).toEqual([
      'sending slower: bob is not reading; 10,922 message(s) queued; none is lost',
    ])
    expect(h.scheduled).toEqual([])
  })

  it('looks again when a block it was to report cleared and came back before the check', () => {
    const h = harness({ graceMs: 1_000 })
    h.flow.push(blocked)
    h.at(600)
    h.flow.push(reading)
    h.at(900)
    h.flow.push(blocked)
    // The check set for the first block finds a block of 100 ms: nothing to say yet, one more check.
    h.at(1_000)
    expect(h.lines).toEqual([])
    expect(h.scheduled.map((s) => s.at)).toEqual([1_900])
    h.at(1_900)
    expect(h.lines.map((l) => l.text)).toEqual(['sending slower: bob is not reading; none is lost'])
  })

  it('forgets the block of a link that closed or was replaced, and tells namesakes apart', () => {
    const h = harness({ graceMs: 1_000 })
    const other: PeerInfo = { id: 'c'.repeat(64), name: 'bob' }
    // Peers that stop reading and leave, one after another: none is kept once its link is gone.
    for (let i = 0; i < 300_000; i++) {
      const peer: PeerInfo = { id: i.toString(16).padStart(64, '0'), name: `p${i}` }
      h.flow.push({ type: 'backpressure', peer, blocked: true })
      h.flow.observe({ type: 'disconnected', peer, reason: 'gone' })
    }
    h.flow.push(blocked)
    h.flow.push({ type: 'backpressure', peer: other, blocked: true })
    h.flow.observe({ type: 'connected', peer: other, address: '127.0.0.1:1', direction: 'inbound' })
    h.at(h.scheduled.at(-1)!.at)
    expect(h.lines.map((l) => l.text)).toEqual(['sending slower: bob is not reading; none is lost'])
    h.flow.observe({ type: 'disconnected', peer: bob, reason: 'gone' })
    h.flow.push({ type: 'throttled', peer: other, retryMs: 5 })
    h.at(20_000)
    expect(h.lines.map((l) => l.text).at(-1)).toBe('sending slower: bob is throttling you; none is lost')
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

describe('paused input', () => {
  it('gives up once, after idleMs paused without an acknowledgement; progress and resuming start it over', () => {
    vi.useFakeTimers()
    try {
      let stalls = 0
      const paused = new PausedInput(1_000, () => stalls++)
      paused.pause()
      vi.advanceTimersByTime(900)
      paused.progress()
      vi.advanceTimersByTime(900)
      expect(stalls).toBe(0)
      paused.resume()
      vi.advanceTimersByTime(5_000)
      expect(stalls).toBe(0)
      // Progress while input is read means nothing.
      paused.progress()
      vi.advanceTimersByTime(5_000)
      expect(stalls).toBe(0)
      paused.pause()
      paused.pause()
      vi.advanceTimersByTime(999)
      expect(stalls).toBe(0)
      vi.advanceTimersByTime(1)
      expect(stalls).toBe(1)
      paused.resume()
      paused.pause()
      vi.advanceTimersByTime(10_000)
      expect(stalls).toBe(1)
    } finally {
      vi.useRealTimers()
    }
  })

  it('waits as long as it takes with idleMs 0, and never calls once closed', () => {
    vi.useFakeTimers()
    try {
      let stalls = 0
      const forever = new PausedInput(0, () => stalls++)
      forever.pause()
      vi.advanceTimersByTime(3_600_000)
      const closed = new PausedInput(1_000, () => stalls++)
      closed.pause()
      closed.close()
      vi.advanceTimersByTime(5_000)
      expect(stalls).toBe(0)
      expect(vi.getTimerCount()).toBe(0)
    } finally {
      vi.useRealTimers()
    }
  })
})

describe('paused input nothing can drain', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('is given up at once while every peer dialed refused on its key, when it pauses or is paused', () => {
    let stalls = 0
    const paused = new PausedInput(60_000, () => stalls++)
    // Refused before the outbox filled: the pause gives up at once.
    paused.hopeless(true)
    expect(stalls).toBe(0)
    paused.pause()
    expect(stalls).toBe(1)
    // Once only, and no timer left behind.
    paused.hopeless(true)
    vi.advanceTimersByTime(120_000)
    expect(stalls).toBe(1)
    expect(vi.getTimerCount()).toBe(0)
    // Refused while paused: given up then.
    const later = new PausedInput(60_000, () => stalls++)
    later.pause()
    vi.advanceTimersByTime(1_000)
    later.hopeless(true)
    expect(stalls).toBe(2)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('waits idleMs as before once a peer can drain it again, and never gives up a closed one', () => {
    let stalls = 0
    const paused = new PausedInput(1_000, () => stalls++)
    paused.hopeless(true)
    // Someone connected: hope again before the outbox filled.
    paused.hopeless(false)
    paused.pause()
    vi.advanceTimersByTime(999)
    expect(stalls).toBe(0)
    vi.advanceTimersByTime(1)
    expect(stalls).toBe(1)
    const closed = new PausedInput(1_000, () => stalls++)
    closed.pause()
    closed.close()
    closed.hopeless(true)
    expect(stalls).toBe(1)
  })
})

describe('waiting while acknowledgements come', () => {
  /** A node whose outbox and events the test sets. */
  function fakeNode(pending: number) {
    const listeners = new Set<(event: NodeEvent) => void>()
    const fake = {
      pending,
      /** The dialed targets' states, and the peers connected, as `peerStates` and `sessionsSnapshot` give them. */
      targets: [] as { target: string; state: PeerState }[],
      connected: [] as PeerInfo[],
      peerStates() {
        return fake.targets
      },
      sessionsSnapshot() {
        return fake.connected.map((peer) => ({ peer, connected: true }))
      },
      on(listener: (event: NodeEvent) => void) {
        listeners.add(listener)
        return () => listeners.delete(listener)
      },
      emit(event: NodeEvent, left: number) {
        fake.pending = left
        for (const listener of [...listeners]) listener(event)
      },
    }
    return fake
  }

  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  /** Starts the wait; what it resolved with, once it has. */
  function waiting(node: ReturnType<typeof fakeNode>, idleMs: number): () => number | undefined {
    let left: number | undefined
    void waitWhileProgressing(node as unknown as ChatNode, idleMs, new Promise(() => {})).then((n) => {
      left = n
    })
    return () => left
  }

  it('ends when the outbox empties with no acknowledgement of its own (`settled`), not after idleMs', async () => {
    const node = fakeNode(3)
    const left = waiting(node, 60_000)
    node.emit({ type: 'delivered', id: 'a-1', seq: 1, to: bob }, 3)
    // A dialed address answered: the acks that came before let the outbox empty.
    node.emit({ type: 'settled', upTo: 3, pending: 0 }, 0)
    await vi.advanceTimersByTimeAsync(0)
    expect(left()).toBe(0)
  })

  it('counts a `settled` that leaves messages waiting as progress, and gives up idleMs after the last', async () => {
    const node = fakeNode(5)
    const left = waiting(node, 1_000)
    await vi.advanceTimersByTimeAsync(900)
    node.emit({ type: 'settled', upTo: 2, pending: 3 }, 3)
    await vi.advanceTimersByTimeAsync(900)
    expect(left()).toBeUndefined()
    await vi.advanceTimersByTimeAsync(100)
    expect(left()).toBe(3)
  })

  const untrusted: PeerState = { status: 'failed', error: { code: 'UNTRUSTED', message: 'another key' } }
  const retrying: PeerState = { status: 'connecting', attempt: 2, dialing: false }
  /** A dialed target on loopback `port`, as `peerStates` gives it. */
  const at = (port: number, state: PeerState) => ({ target: `127.0.0.1:${port}`, state })

  it('ends at once when every peer it dials refused on its key and nobody is connected', async () => {
    const node = fakeNode(2)
    node.targets = [at(1, retrying), at(2, untrusted)]
    const left = waiting(node, 60_000)
    await vi.advanceTimersByTimeAsync(0)
    // One target still dials: it may answer.
    expect(left()).toBeUndefined()
    node.targets = [node.targets[1]!, at(1, untrusted)]
    node.emit({ type: 'peer-state', target: '127.0.0.1:1', state: untrusted }, 2)
    await vi.advanceTimersByTimeAsync(0)
    expect(left()).toBe(2)
    expect(untrustedTargets(node)).toEqual(['127.0.0.1:2', '127.0.0.1:1'])
  })

  it("counts a peer that refused this node's key as a trust failure, and says which kind each was", async () => {
    const refusedUs: PeerState = { status: 'failed', error: { code: 'REFUSED', message: 'not allowed' } }
    const node = fakeNode(1)
    node.targets = [at(1, refusedUs), at(2, untrusted)]
    const left = waiting(node, 60_000)
    await vi.advanceTimersByTimeAsync(0)
    expect(left()).toBe(1)
    expect(trustFailures(node)).toEqual([
      { target: '127.0.0.1:1', refusedUs: true },
      { target: '127.0.0.1:2', refusedUs: false },
    ])
    node.targets = [at(1, refusedUs), at(2, retrying)]
    expect(trustFailures(node)).toEqual([])
  })

  it('keeps waiting while a peer is connected, and ends once it leaves, if every dial was refused', async () => {
    const node = fakeNode(1)
    node.targets = [at(2, untrusted)]
    node.connected = [bob]
    const left = waiting(node, 60_000)
    await vi.advanceTimersByTimeAsync(0)
    expect(refusedEverywhere(node)).toBe(false)
    expect(left()).toBeUndefined()
    node.connected = []
    node.emit({ type: 'disconnected', peer: bob, reason: 'bob left' }, 1)
    await vi.advanceTimersByTimeAsync(0)
    expect(left()).toBe(1)
  })

  it('does not wait at all when the refusal came before the wait', async () => {
    const node = fakeNode(1)
    node.targets = [at(2, untrusted)]
    expect(refusedEverywhere(node)).toBe(true)
    const left = waiting(node, 60_000)
    await vi.advanceTimersByTimeAsync(0)
    expect(left()).toBe(1)
  })

  it('waits for a node that dials nobody (only listens), and for other failures than a refused key', async () => {
    const node = fakeNode(1)
    const left = waiting(node, 1_000)
    node.emit({ type: 'peer-state', target: 'x', state: retrying }, 1)
    await vi.advanceTimersByTimeAsync(0)
    expect(left()).toBeUndefined()
    // A dial given up on for another reason still leaves a peer that links to this node to acknowledge.
    const plainPeer: PeerState = { status: 'failed', error: { code: 'PLAIN_PEER', message: 'plain' } }
    node.targets = [at(3, plainPeer)]
    node.emit({ type: 'peer-state', target: '127.0.0.1:3', state: plainPeer }, 1)
    await vi.advanceTimersByTimeAsync(999)
    expect(givenUpEverywhere(node)).toBe(true)
    expect(refusedEverywhere(node)).toBe(false)
    expect(left()).toBeUndefined()
    await vi.advanceTimersByTimeAsync(1)
    expect(left()).toBe(1)
  })

  it('says every dial was given up on, whatever the failure, only while none still dials or is connected', () => {
    const node = fakeNode(1)
    const self: PeerState = { status: 'failed', error: { code: 'SELF', message: 'this node dialed itself' } }
    node.targets = [at(3, self), at(4, retrying)]
    expect(givenUpEverywhere(node)).toBe(false)
    node.targets = [at(3, self)]
    expect(givenUpEverywhere(node)).toBe(true)
    node.connected = [bob]
    expect(givenUpEverywhere(node)).toBe(false)
    node.targets = []
    node.connected = []
    expect(givenUpEverywhere(node)).toBe(false)
  })
})

describe('BackpressureGrace', () => {
  function grace() {
    const told: boolean[] = []
    const timers: { run: () => void; cancelled: boolean }[] = []
    const g = new BackpressureGrace((e) => told.push(e.blocked), {
      schedule: (run) => {
        const timer = { run, cancelled: false }
        timers.push(timer)
        return () => {
          timer.cancelled = true
        }
      },
    })
    const bob = { id: 'b'.repeat(64), name: 'bob' }
    const event = (blocked: boolean): NodeEvent => ({ type: 'backpressure', peer: bob, blocked })
    const graceEnds = () => {
      for (const t of timers.splice(0)) if (!t.cancelled) t.run()
    }
    return { g, told, event, graceEnds, bob }
  }

  it('tells nothing of a peer that pauses and resumes faster than the grace, however often', () => {
    const { g, told, event, graceEnds } = grace()
    for (let i = 0; i < 1_000; i++) {
      g.push(event(true))
      g.push(event(false))
    }
    graceEnds()
    expect(told).toEqual([])
  })

  it('tells a block that lasted the grace, and its end, once each', () => {
    const { g, told, event, graceEnds } = grace()
    g.push(event(true))
    g.push(event(true))
    graceEnds()
    g.push(event(false))
    expect(told).toEqual([true, false])
  })

  it('forgets a block when the link closes, without a word', () => {
    const { g, told, event, graceEnds, bob } = grace()
    g.push(event(true))
    g.push({ type: 'disconnected', peer: bob, reason: 'gone' })
    graceEnds()
    expect(told).toEqual([])
  })
})
