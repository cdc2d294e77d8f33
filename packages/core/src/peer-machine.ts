/**
 * The life of one peer this node wants to talk to: dialing with backoff, handshaking, connected,
 * reconnecting after a drop, and closing. Pure: effects are returned as data and the runtime performs them.
 */

export interface PeerInfo {
  readonly id: string
  readonly name: string
}

export interface Backoff {
  /** First retry delay (ms). */
  readonly baseMs: number
  /** Cap on the retry delay (ms), so a returning peer is reached within about this long. */
  readonly maxMs: number
  /** Fraction of the delay that is randomised, 0..1, so two nodes don't redial in lockstep. */
  readonly jitter: number
  /** A session that lasted this long resets the backoff; a shorter one counts as a failed attempt. */
  readonly stableMs: number
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 100, maxMs: 1000, jitter: 0.3, stableMs: 5000 }

export type PeerState =
  | { readonly status: 'idle' }
  | { readonly status: 'connecting'; readonly attempt: number; readonly dialing: boolean }
  | {
      readonly status: 'handshaking'
      readonly attempt: number
      readonly link: number
      readonly peer?: PeerInfo
    }
  | { readonly status: 'connected'; readonly link: number; readonly peer: PeerInfo; readonly attempt: number }
  | {
      readonly status: 'reconnecting'
      readonly attempt: number
      readonly dialing: boolean
      readonly peer: PeerInfo
    }
  | { readonly status: 'closing'; readonly reason: string }
  | { readonly status: 'closed'; readonly reason: string }
  | { readonly status: 'failed'; readonly error: { readonly code: string; readonly message: string } }

export type PeerStatus = PeerState['status']

export type PeerEvent =
  | { readonly type: 'start' }
  /** Our dial reached the peer's transport; the handshake on `link` begins. */
  | { readonly type: 'dialed'; readonly link: number }
  /**
   * `random` is in [0, 1) and drives the jitter. `fatal` (for example the peer proved a key this node
   * does not trust) stops redialing; `code` says why.
   */
  | {
      readonly type: 'dial-failed'
      readonly error: string
      readonly random: number
      readonly code?: string
      readonly fatal?: boolean
    }
  | { readonly type: 'retry-timer' }
  /** The handshake on our dialed link failed; `fatal` stops redialing (the peer can never be talked to). */
  | {
      readonly type: 'handshake-failed'
      readonly link: number
      readonly code: string
      readonly message: string
      readonly fatal: boolean
      readonly random: number
    }
  /**
   * A link to this peer (dialed by either side) became the session's link. A dial still in flight is
   * aborted, unless `keepDial`: a plain peer has no identity to tell links apart and may keep either
   * end of a crossing dial, so its node lets the dial finish and adopts that link too.
   */
  | {
      readonly type: 'session-open'
      readonly link: number
      readonly peer: PeerInfo
      readonly keepDial?: boolean
    }
  /** `lastedMs` is how long the session was up; `random` drives the jitter of the redial delay. */
  | {
      readonly type: 'session-lost'
      readonly link: number
      readonly reason: string
      readonly lastedMs: number
      readonly random: number
    }
  | { readonly type: 'close'; readonly reason: string }
  /** Everything this peer held is released. */
  | { readonly type: 'closed' }

export type PeerEffect =
  | { readonly type: 'dial' }
  | { readonly type: 'abort-dial' }
  | { readonly type: 'start-timer'; readonly timer: 'retry'; readonly ms: number }
  | { readonly type: 'cancel-timer'; readonly timer: 'retry' }
  | { readonly type: 'close-link'; readonly link: number; readonly reason: string }

export type Step<S, E> =
  | { readonly ok: true; readonly state: S; readonly effects: readonly E[] }
  | { readonly ok: false; readonly state: S; readonly reason: string }

export const initialPeerState: PeerState = { status: 'idle' }

/** The delay before retry number `attempt` (0-based): exponential, capped, with jitter from `random`. */
export function backoffDelay(backoff: Backoff, attempt: number, random: number): number {
  const raw = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(attempt, 30))
  const spread = raw * backoff.jitter
  return Math.max(0, Math.round(raw - spread + 2 * spread * random))
}

/**
 * Advances a peer's state. Events that make no sense in the current state are rejected with `ok: false`
 * and leave the state as it was.
 */
export function peerTransition(
  state: PeerState,
  event: PeerEvent,
  backoff: Backoff = DEFAULT_BACKOFF,
): Step<PeerState, PeerEffect> {
  const ok = (next: PeerState, ...effects: PeerEffect[]): Step<PeerState, PeerEffect> => ({
    ok: true,
    state: next,
    effects,
  })
  const reject = (why: string): Step<PeerState, PeerEffect> => ({
    ok: false,
    state,
    reason: `${event.type} is not valid while ${state.status}: ${why}`,
  })

  if (event.type === 'close') {
    switch (state.status) {
      case 'closing':
      case 'closed':
      case 'failed':
        return reject('already shutting down')
      case 'idle':
        return ok({ status: 'closed', reason: event.reason })
      case 'connected':
        return ok(
          { status: 'closing', reason: event.reason },
          { type: 'close-link', link: state.link, reason: event.reason },
        )
      case 'handshaking':
        return ok(
          { status: 'closing', reason: event.reason },
          { type: 'cancel-timer', timer: 'retry' },
          { type: 'close-link', link: state.link, reason: event.reason },
        )
      case 'connecting':
      case 'reconnecting':
        return ok(
          { status: 'closing', reason: event.reason },
          { type: 'cancel-timer', timer: 'retry' },
          ...(state.dialing ? [{ type: 'abort-dial' } as const] : []),
        )
      default:
        return exhaustive(state)
    }
  }

  switch (state.status) {
    case 'idle':
      if (event.type === 'start')
        return ok({ status: 'connecting', attempt: 0, dialing: true }, { type: 'dial' })
      return reject('the peer has not been started')

    case 'connecting':
    case 'reconnecting':
      switch (event.type) {
        case 'dialed':
          if (!state.dialing) return reject('no dial is in flight')
          return ok({
            status: 'handshaking',
            attempt: state.attempt,
            link: event.link,
            ...(state.status === 'reconnecting' ? { peer: state.peer } : {}),
          })
        case 'dial-failed':
          if (!state.dialing) return reject('no dial is in flight')
          if (event.fatal)
            return ok({ status: 'failed', error: { code: event.code ?? 'DIAL', message: event.error } })
          return ok(
            { ...state, dialing: false },
            { type: 'start-timer', timer: 'retry', ms: backoffDelay(backoff, state.attempt, event.random) },
          )
        case 'retry-timer':
          if (state.dialing) return reject('a dial is already in flight')
          return ok({ ...state, attempt: state.attempt + 1, dialing: true }, { type: 'dial' })
        case 'session-open':
          return ok(
            { status: 'connected', link: event.link, peer: event.peer, attempt: state.attempt },
            { type: 'cancel-timer', timer: 'retry' },
            ...(state.dialing && !event.keepDial ? [{ type: 'abort-dial' } as const] : []),
          )
        default:
          return reject('the peer is not connected')
      }

    case 'handshaking':
      switch (event.type) {
        case 'session-open':
          return ok({ status: 'connected', link: event.link, peer: event.peer, attempt: state.attempt })
        case 'handshake-failed': {
          if (event.link !== state.link) return reject(`link ${event.link} is not the one handshaking`)
          if (event.fatal)
            return ok({ status: 'failed', error: { code: event.code, message: event.message } })
          const wait: PeerEffect = {
            type: 'start-timer',
            timer: 'retry',
            ms: backoffDelay(backoff, state.attempt, event.random),
          }
          return state.peer
            ? ok({ status: 'reconnecting', attempt: state.attempt, dialing: false, peer: state.peer }, wait)
            : ok({ status: 'connecting', attempt: state.attempt, dialing: false }, wait)
        }
        default:
          return reject('a handshake is under way')
      }

    case 'connected':
      switch (event.type) {
        case 'session-open':
          // The peer's session moved to a newer link, for example after the peer restarted.
          return ok({ ...state, link: event.link, peer: event.peer })
        case 'session-lost': {
          if (event.link !== state.link) return reject(`link ${event.link} is not the session's link`)
          // A peer that drops every session right away must not be redialed in a tight loop.
          const attempt = event.lastedMs >= backoff.stableMs ? 0 : state.attempt + 1
          return ok(
            { status: 'reconnecting', attempt, dialing: false, peer: state.peer },
            { type: 'start-timer', timer: 'retry', ms: backoffDelay(backoff, attempt, event.random) },
          )
        }
        default:
          return reject('the peer is already connected')
      }

    case 'closing':
      if (event.type === 'closed') return ok({ status: 'closed', reason: state.reason })
      return reject('the peer is closing')

    case 'closed':
    case 'failed':
      return reject('the peer is finished')

    default:
      return exhaustive(state)
  }
}

function exhaustive(state: never): never {
  throw new Error(`unhandled peer state ${JSON.stringify(state)}`)
}
