import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { REFUSING_BACKOFF } from '../test/refusing-backoff.js'
import {
  type Backoff,
  backoffDelay,
  DEFAULT_BACKOFF,
  initialPeerState,
  type PeerEffect,
  type PeerEvent,
  type PeerInfo,
  type PeerState,
  peerTransition,
} from './peer-machine.js'

const bob: PeerInfo = { id: 'b0b0b0b0b0b0b0b0', name: 'bob' }
const bobRenamed: PeerInfo = { id: 'b0b0b0b0b0b0b0b0', name: 'robert' }

// With random 0.5 the jitter cancels out, so every delay below is exactly baseMs * 2^attempt (capped).
const backoff: Backoff = DEFAULT_BACKOFF

const states = {
  idle: { status: 'idle' },
  'connecting (dialing)': { status: 'connecting', attempt: 2, dialing: true },
  'connecting (waiting to retry)': { status: 'connecting', attempt: 2, dialing: false },
  'handshaking (first contact)': { status: 'handshaking', attempt: 2, link: 7 },
  'handshaking (known peer)': { status: 'handshaking', attempt: 2, link: 7, peer: bob },
  connected: { status: 'connected', link: 7, peer: bob, attempt: 2 },
  'reconnecting (dialing)': { status: 'reconnecting', attempt: 3, dialing: true, peer: bob },
  'reconnecting (waiting to retry)': { status: 'reconnecting', attempt: 3, dialing: false, peer: bob },
  closing: { status: 'closing', reason: 'quit' },
  closed: { status: 'closed', reason: 'quit' },
  failed: { status: 'failed', error: { code: 'SELF', message: 'dialed itself' } },
} satisfies Record<string, PeerState>
type StateName = keyof typeof states

const events = {
  start: { type: 'start' },
  'dialed link 7': { type: 'dialed', link: 7 },
  'dial-failed': { type: 'dial-failed', error: 'ECONNREFUSED', random: 0.5 },
  'retry-timer': { type: 'retry-timer' },
  'handshake-failed on link 7 (fatal)': {
    type: 'handshake-failed',
    link: 7,
    code: 'VERSION',
    message: 'speaks 2.0',
    fatal: true,
    random: 0.5,
  },
  'handshake-failed on link 7': {
    type: 'handshake-failed',
    link: 7,
    code: 'HANDSHAKE_TIMEOUT',
    message: 'too slow',
    fatal: false,
    random: 0.5,
  },
  'handshake-failed on stale link 9': {
    type: 'handshake-failed',
    link: 9,
    code: 'HANDSHAKE_TIMEOUT',
    message: 'too slow',
    fatal: false,
    random: 0.5,
  },
  'session-open on link 8': { type: 'session-open', link: 8, peer: bobRenamed },
  'session-open on link 8 keeping the dial': {
    type: 'session-open',
    link: 8,
    peer: bobRenamed,
    keepDial: true,
  },
  'session-lost on link 7 after a short session': {
    type: 'session-lost',
    link: 7,
    reason: 'bob left',
    lastedMs: 100,
    random: 0.5,
  },
  'session-lost on link 7 after a stable session': {
    type: 'session-lost',
    link: 7,
    reason: 'bob left',
    lastedMs: 60_000,
    random: 0.5,
  },
  'session-lost on stale link 9': {
    type: 'session-lost',
    link: 9,
    reason: 'old link',
    lastedMs: 0,
    random: 0.5,
  },
  close: { type: 'close', reason: 'bye all' },
  closed: { type: 'closed' },
  'renamed robert': { type: 'renamed', peer: bobRenamed },
  'renamed, another peer': { type: 'renamed', peer: { id: 'ca401ca401ca401c', name: 'carol' } },
} satisfies Record<string, PeerEvent>
type EventName = keyof typeof events

interface Accepted {
  readonly state: PeerState
  readonly effects: readonly PeerEffect[]
}

const dial: PeerEffect = { type: 'dial' }
const abortDial: PeerEffect = { type: 'abort-dial' }
const cancelTimer: PeerEffect = { type: 'cancel-timer', timer: 'retry' }
const retryIn = (ms: number): PeerEffect => ({ type: 'start-timer', timer: 'retry', ms })
const closeLink7: PeerEffect = { type: 'close-link', link: 7, reason: 'bye all' }
const closing: PeerState = { status: 'closing', reason: 'bye all' }
const connectedOn8 = (attempt: number): PeerState => ({
  status: 'connected',
  link: 8,
  peer: bobRenamed,
  attempt,
})

/** Every accepted (state, event) pair and what it must do; every pair missing here must be rejected. */
const accepted: { [S in StateName]: Partial<Record<EventName, Accepted>> } = {
  idle: {
    start: { state: { status: 'connecting', attempt: 0, dialing: true }, effects: [dial] },
    close: { state: { status: 'closed', reason: 'bye all' }, effects: [] },
  },
  'connecting (dialing)': {
    'dialed link 7': { state: { status: 'handshaking', attempt: 2, link: 7 }, effects: [] },
    'dial-failed': { state: { status: 'connecting', attempt: 2, dialing: false }, effects: [retryIn(400)] },
    'session-open on link 8': { state: connectedOn8(2), effects: [cancelTimer, abortDial] },
    'session-open on link 8 keeping the dial': { state: connectedOn8(2), effects: [cancelTimer] },
    close: { state: closing, effects: [cancelTimer, abortDial] },
  },
  'connecting (waiting to retry)': {
    'retry-timer': { state: { status: 'connecting', attempt: 3, dialing: true }, effects: [dial] },
    'session-open on link 8': { state: connectedOn8(2), effects: [cancelTimer] },
    'session-open on link 8 keeping the dial': { state: connectedOn8(2), effects: [cancelTimer] },
    close: { state: closing, effects: [cancelTimer] },
  },
  'handshaking (first contact)': {
    'handshake-failed on link 7 (fatal)': {
      state: { status: 'failed', error: { code: 'VERSION', message: 'speaks 2.0' } },
      effects: [],
    },
    'handshake-failed on link 7': {
      state: { status: 'connecting', attempt: 2, dialing: false },
      effects: [retryIn(400)],
    },
    'session-open on link 8': { state: connectedOn8(2), effects: [] },
    'session-open on link 8 keeping the dial': { state: connectedOn8(2), effects: [] },
    close: { state: closing, effects: [cancelTimer, closeLink7] },
  },
  'handshaking (known peer)': {
    'handshake-failed on link 7 (fatal)': {
      state: { status: 'failed', error: { code: 'VERSION', message: 'speaks 2.0' } },
      effects: [],
    },
    'handshake-failed on link 7': {
      state: { status: 'reconnecting', attempt: 2, dialing: false, peer: bob },
      effects: [retryIn(400)],
    },
    'session-open on link 8': { state: connectedOn8(2), effects: [] },
    'session-open on link 8 keeping the dial': { state: connectedOn8(2), effects: [] },
    close: { state: closing, effects: [cancelTimer, closeLink7] },
    'renamed robert': {
      state: { status: 'handshaking', attempt: 2, link: 7, peer: bobRenamed },
      effects: [],
    },
  },
  connected: {
    'session-open on link 8': { state: connectedOn8(2), effects: [] },
    'session-open on link 8 keeping the dial': { state: connectedOn8(2), effects: [] },
    'session-lost on link 7 after a short session': {
      state: { status: 'reconnecting', attempt: 3, dialing: false, peer: bob },
      effects: [retryIn(800)],
    },
    'session-lost on link 7 after a stable session': {
      state: { status: 'reconnecting', attempt: 0, dialing: false, peer: bob },
      effects: [retryIn(100)],
    },
    close: { state: closing, effects: [closeLink7] },
    'renamed robert': { state: { status: 'connected', link: 7, peer: bobRenamed, attempt: 2 }, effects: [] },
  },
  'reconnecting (dialing)': {
    'dialed link 7': { state: { status: 'handshaking', attempt: 3, link: 7, peer: bob }, effects: [] },
    'dial-failed': {
      state: { status: 'reconnecting', attempt: 3, dialing: false, peer: bob },
      effects: [retryIn(800)],
    },
    'session-open on link 8': { state: connectedOn8(3), effects: [cancelTimer, abortDial] },
    'session-open on link 8 keeping the dial': { state: connectedOn8(3), effects: [cancelTimer] },
    close: { state: closing, effects: [cancelTimer, abortDial] },
    'renamed robert': {
      state: { status: 'reconnecting', attempt: 3, dialing: true, peer: bobRenamed },
      effects: [],
    },
  },
  'reconnecting (waiting to retry)': {
    'retry-timer': {
      state: { status: 'reconnecting', attempt: 4, dialing: true, peer: bob },
      effects: [dial],
    },
    'session-open on link 8': { state: connectedOn8(3), effects: [cancelTimer] },
    'session-open on link 8 keeping the dial': { state: connectedOn8(3), effects: [cancelTimer] },
    close: { state: closing, effects: [cancelTimer] },
    'renamed robert': {
      state: { status: 'reconnecting', attempt: 3, dialing: false, peer: bobRenamed },
      effects: [],
    },
  },
  closing: {
    closed: { state: { status: 'closed', reason: 'quit' }, effects: [] },
  },
  closed: {},
  failed: {},
}

const table = (Object.keys(states) as StateName[]).flatMap((stateName) =>
  (Object.keys(events) as EventName[]).map((eventName) => ({
    stateName,
    eventName,
    expected: accepted[stateName][eventName],
  })),
)

describe('peerTransition', () => {
  it('starts idle', () => {
    expect(initialPeerState).toEqual({ status: 'idle' })
  })

  it('lists only real state and event names in its table of accepted transitions', () => {
    for (const [stateName, row] of Object.entries(accepted)) {
      expect(Object.keys(states)).toContain(stateName)
      for (const eventName of Object.keys(row)) expect(Object.keys(events)).toContain(eventName)
    }
    expect(table).toHaveLength(Object.keys(states).length * Object.keys(events).length)
  })

  it.each(table.filter((row) => row.expected))(
    'while $stateName, accepts $eventName',
    ({ stateName, eventName, expected }) => {
      const before = structuredClone(states[stateName])
      const step = peerTransition(states[stateName], events[eventName], backoff)
      expect(step).toEqual({ ok: true, ...expected })
      expect(states[stateName]).toEqual(before)
    },
  )

  it.each(table.filter((row) => !row.expected))(
    'while $stateName, rejects $eventName and keeps the state',
    ({ stateName, eventName }) => {
      const state = states[stateName]
      const step = peerTransition(state, events[eventName], backoff)
      expect(step.ok).toBe(false)
      expect(step.state).toBe(state)
      if (!step.ok)
        expect(step.reason).toContain(`${events[eventName].type} is not valid while ${state.status}`)
    },
  )

  it('follows a peer from first dial through failures, a session, a drop and a shutdown', () => {
    const script: [PeerEvent, PeerStatus, PeerEffect[]][] = [
      [{ type: 'start' }, 'connecting', [dial]],
      [{ type: 'dial-failed', error: 'refused', random: 0.5 }, 'connecting', [retryIn(100)]],
      [{ type: 'retry-timer' }, 'connecting', [dial]],
      [{ type: 'dial-failed', error: 'refused', random: 0.5 }, 'connecting', [retryIn(200)]],
      [{ type: 'retry-timer' }, 'connecting', [dial]],
      [{ type: 'dialed', link: 1 }, 'handshaking', []],
      [{ type: 'session-open', link: 1, peer: bob }, 'connected', []],
      [
        { type: 'session-lost', link: 1, reason: 'reset', lastedMs: 60_000, random: 0.5 },
        'reconnecting',
        [retryIn(100)],
      ],
      [{ type: 'retry-timer' }, 'reconnecting', [dial]],
      [{ type: 'dial-failed', error: 'refused', random: 0.5 }, 'reconnecting', [retryIn(200)]],
      [{ type: 'close', reason: 'quit' }, 'closing', [cancelTimer]],
      [{ type: 'closed' }, 'closed', []],
    ]
    let state: PeerState = initialPeerState
    for (const [event, status, effects] of script) {
      const step = peerTransition(state, event, backoff)
      expect(step.ok, `${event.type} while ${state.status}`).toBe(true)
      if (!step.ok) return
      expect(step.state.status).toBe(status)
      expect(step.effects).toEqual(effects)
      state = step.state
    }
  })

  it('uses the default backoff when none is given', () => {
    const step = peerTransition(states['connecting (dialing)'], events['dial-failed'])
    expect(step).toMatchObject({ ok: true, effects: [retryIn(400)] })
  })

  it('never throws and only ever moves to a known status, whatever the sequence of events', () => {
    const eventArb = fc.constantFrom(...Object.values(events))
    const statuses = [
      'idle',
      'connecting',
      'handshaking',
      'connected',
      'reconnecting',
      'closing',
      'closed',
      'failed',
    ]
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 40 }), (script) => {
        let state: PeerState = initialPeerState
        for (const event of script) {
          const step = peerTransition(state, event, backoff)
          if (!step.ok) expect(step.state).toBe(state)
          state = step.state
          expect(statuses).toContain(state.status)
        }
      }),
      { numRuns: 500 },
    )
  })
})

type PeerStatus = PeerState['status']

describe('backoffDelay', () => {
  const noJitter: Backoff = { baseMs: 100, maxMs: 1000, jitter: 0, stableMs: 5000 }

  it('doubles the delay with each attempt, from baseMs', () => {
    expect([0, 1, 2, 3].map((attempt) => backoffDelay(noJitter, attempt, 0.5))).toEqual([100, 200, 400, 800])
  })

  it('caps the delay at maxMs, however many attempts were made', () => {
    for (const attempt of [4, 5, 10, 30, 31, 1000, Number.MAX_SAFE_INTEGER]) {
      expect(backoffDelay(noJitter, attempt, 0.5)).toBe(1000)
    }
  })

  it('spreads a capped delay by the jitter fraction around maxMs', () => {
    const b: Backoff = { baseMs: 100, maxMs: 1000, jitter: 0.3, stableMs: 5000 }
    expect(backoffDelay(b, 50, 0)).toBe(700)
    expect(backoffDelay(b, 50, 0.5)).toBe(1000)
    expect(backoffDelay(b, 50, 0.999_999)).toBe(1300)
  })

  it('keeps every delay within raw × (1 ± jitter) for random in [0, 1)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 100 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (baseMs, extra, jitter, attempt, random) => {
          const b: Backoff = { baseMs, maxMs: baseMs + extra, jitter, stableMs: 5000 }
          const raw = Math.min(b.maxMs, baseMs * 2 ** Math.min(attempt, 30))
          const delay = backoffDelay(b, attempt, random)
          expect(delay).toBeGreaterThanOrEqual(Math.floor(raw * (1 - jitter)))
          expect(delay).toBeLessThanOrEqual(Math.ceil(raw * (1 + jitter)))
          expect(Number.isInteger(delay)).toBe(true)
        },
      ),
      { numRuns: 1000 },
    )
  })

  it('waits exactly baseMs for the first retry when jitter is off', () => {
    expect(backoffDelay(noJitter, 0, 0)).toBe(100)
    expect(backoffDelay(noJitter, 0, 0.99)).toBe(100)
  })
})

describe('a dial refused for good', () => {
  it('fails the peer, with the code and reason, when a dial fails fatally (an untrusted key)', () => {
    for (const state of [
      { status: 'connecting', attempt: 1, dialing: true },
      { status: 'reconnecting', attempt: 1, dialing: true, peer: { id: 'b0b0b0b0b0b0b0b0', name: 'bob' } },
    ] satisfies PeerState[]) {
      const step = peerTransition(state, {
        type: 'dial-failed',
        error: 'key mismatch',
        code: 'UNTRUSTED',
        fatal: true,
        random: 0.5,
      })
      expect(step).toEqual({
        ok: true,
        state: { status: 'failed', error: { code: 'UNTRUSTED', message: 'key mismatch' } },
        effects: [],
      })
    }
  })
})

describe('a session the peer ends by refusing this node for good', () => {
  it("fails the peer with the refusal instead of reconnecting: it distrusts this node's key", () => {
    const step = peerTransition(states.connected, {
      type: 'session-lost',
      link: 7,
      reason: "it refused this node's key: the key at this address has CHANGED",
      lastedMs: 20,
      random: 0.5,
      code: 'REFUSED',
      by: 'peer',
      fatal: true,
    })
    expect(step).toEqual({
      ok: true,
      state: {
        status: 'failed',
        error: {
          code: 'REFUSED',
          message: "it refused this node's key: the key at this address has CHANGED",
        },
      },
      effects: [],
    })
  })
})

describe('a peer that refuses us until something changes on its side', () => {
  const refusing = REFUSING_BACKOFF
  const overQuota = (link: number, lastedMs = 50): Extract<PeerEvent, { type: 'session-lost' }> => ({
    type: 'session-lost',
    link,
    reason: 'its messages fill its share of this node’s disk',
    lastedMs,
    random: 0.5,
    code: 'OVER_QUOTA',
    by: 'peer',
  })

  /** Runs `events` from `state`, each of which must be accepted; returns the states and effects. */
  function run(state: PeerState, events: PeerEvent[]) {
    const steps: { state: PeerState; effects: readonly PeerEffect[] }[] = []
    for (const event of events) {
      const step = peerTransition(state, event, refusing)
      expect(step.ok, `${event.type} while ${state.status}`).toBe(true)
      state = step.state
      steps.push({ state, effects: step.ok ? step.effects : [] })
    }
    return { state, steps }
  }

  /** One redial after a refusal: the retry timer, the dial, its handshake, the session, refused again. */
  const redialRefused = (link: number): PeerEvent[] => [
    { type: 'retry-timer' },
    { type: 'dialed', link },
    { type: 'session-open', link, peer: bob },
    overQuota(link),
  ]

  it('waits longer after each refusal in a row, from the refusal base up to its cap, and counts them', () => {
    const connected: PeerState = { status: 'connected', link: 1, peer: bob, attempt: 0 }
    const { steps } = run(connected, [
      overQuota(1),
      ...redialRefused(2),
      ...redialRefused(3),
      ...redialRefused(4),
      ...redialRefused(5),
    ])
    const refusals = steps.filter(
      (s) => s.state.status === 'reconnecting' && !('dialing' in s.state && s.state.dialing),
    )
    expect(refusals.map((s) => s.effects)).toEqual([
      [retryIn(10_000)],
      [retryIn(20_000)],
      [retryIn(40_000)],
      [retryIn(40_000)],
      [retryIn(40_000)],
    ])
    expect(refusals.map((s) => (s.state.status === 'reconnecting' ? s.state.refused : undefined))).toEqual(
      [1, 2, 3, 4, 5].map((times) => ({
        by: 'peer',
        code: 'OVER_QUOTA',
        message: 'its messages fill its share of this node’s disk',
        times,
        retryMs: Math.min(40_000, 10_000 * 2 ** (times - 1)),
      })),
    )
  })

  it('carries the refusals through the redial, its handshake and the session it opens', () => {
    const connected: PeerState = { status: 'connected', link: 1, peer: bob, attempt: 0 }
    const { steps } = run(connected, [overQuota(1), ...redialRefused(2).slice(0, 3)])
    for (const { state } of steps) expect(state).toMatchObject({ refused: { times: 1 } })
  })

  /** Connected again after a row of three refusals, the last with the longest wait. */
  const refused: PeerState = {
    status: 'connected',
    link: 1,
    peer: bob,
    attempt: 0,
    refused: { by: 'peer', code: 'OVER_QUOTA', message: 'full', times: 3, retryMs: 40_000 },
  }

  it('ends the refusals after a session that lasted without one, and keeps them after a short one', () => {
    const lost = (lastedMs: number): PeerEvent => ({
      type: 'session-lost',
      link: 1,
      reason: 'reset',
      lastedMs,
      random: 0.5,
    })
    expect(peerTransition(refused, lost(60_000), refusing).state).not.toHaveProperty('refused')
    expect(peerTransition(refused, lost(50), refusing).state).toMatchObject({ refused: { times: 3 } })
  })

  it('counts a refusal after a session that lasted as the first of a new row', () => {
    expect(peerTransition(refused, overQuota(1, 60_000), refusing)).toMatchObject({
      state: { refused: { times: 1, retryMs: 10_000 } },
      effects: [retryIn(10_000)],
    })
  })

  it('backs off the same way from a refusal that ends the handshake, ours or the peer’s', () => {
    for (const by of ['peer', 'self'] as const) {
      const step = peerTransition(
        { status: 'handshaking', attempt: 0, link: 7, peer: bob },
        {
          type: 'handshake-failed',
          link: 7,
          code: 'OVER_QUOTA',
          message: 'full',
          fatal: false,
          random: 0.5,
          by,
        },
        refusing,
      )
      expect(step).toEqual({
        ok: true,
        state: {
          status: 'reconnecting',
          attempt: 0,
          dialing: false,
          peer: bob,
          refused: { by, code: 'OVER_QUOTA', message: 'full', times: 1, retryMs: 10_000 },
        },
        effects: [retryIn(10_000)],
      })
    }
  })

  it('redials as usual after a close whose code is not a refusal', () => {
    const connected: PeerState = { status: 'connected', link: 1, peer: bob, attempt: 0 }
    const step = peerTransition(connected, { ...overQuota(1), code: 'OVER_BUDGET' }, refusing)
    expect(step).toEqual({
      ok: true,
      state: { status: 'reconnecting', attempt: 1, dialing: false, peer: bob },
      effects: [retryIn(200)],
    })
  })

  it('waits 10 s after a first refusal by default, and at most 10 minutes', () => {
    const connected: PeerState = { status: 'connected', link: 1, peer: bob, attempt: 0 }
    expect(peerTransition(connected, overQuota(1), DEFAULT_BACKOFF)).toMatchObject({
      effects: [retryIn(10_000)],
    })
    const many: PeerState = {
      ...connected,
      refused: { by: 'peer', code: 'OVER_QUOTA', message: 'full', times: 30, retryMs: 600_000 },
    }
    expect(peerTransition(many, overQuota(1), DEFAULT_BACKOFF)).toMatchObject({ effects: [retryIn(600_000)] })
  })
})
