/**
 * The life of one peer this node wants to talk to: dialing with backoff, handshaking, connected,
 * reconnecting after a drop, and closing. Pure: effects are returned as data and the runtime performs them.
 */
import { SAME_KEY } from './same-key.js'

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
  /**
   * After a refusal that redialing soon cannot change (see `REFUSAL_CODES`): the first wait and the cap on
   * the waits, which double with each refusal in a row. Default: `DEFAULT_REFUSAL_BACKOFF`.
   */
  readonly refused?: { readonly baseMs: number; readonly maxMs: number }
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 100, maxMs: 1000, jitter: 0.3, stableMs: 5000 }

/** 10 s after the first refusal, then twice as long after each one in a row, up to 10 minutes. */
export const DEFAULT_REFUSAL_BACKOFF = { baseMs: 10_000, maxMs: 600_000 } as const

/**
 * After a `SAME_KEY` refusal (another node with this key holds the peer's link): the other node may stop
 * any time, and this one should then be let in soon, so the waits stay short.
 */
export const SAME_KEY_REFUSAL_BACKOFF = { baseMs: 2_000, maxMs: 30_000 } as const

/**
 * Close codes that say the peer will turn our messages away until something changes on its side (its
 * disk quota for us is full, another node with our key holds its link): redialing at once would only
 * meet the same refusal.
 */
export const REFUSAL_CODES: ReadonlySet<string> = new Set(['OVER_QUOTA', SAME_KEY])

/** The waits after refusals of `code`: `SAME_KEY`'s own, else the backoff's, else the default. */
export function refusalBackoff(code: string, backoff: Backoff): { baseMs: number; maxMs: number } {
  if (code === SAME_KEY) return SAME_KEY_REFUSAL_BACKOFF
  return backoff.refused ?? DEFAULT_REFUSAL_BACKOFF
}

/** Whether a close `code` means the peer will refuse us again for now (`REFUSAL_CODES`). */
export function isRefusal(code: string | undefined): boolean {
  return code !== undefined && REFUSAL_CODES.has(code)
}

/**
 * The refusals in a row that the dialing backs off from: which end refused (`peer`: it turned our
 * messages away; `self`: this node turned the peer's away), the code and reason of the last one, how
 * many in a row, and how long the wait after the last one is.
 */
export interface Refused {
  readonly by: 'peer' | 'self'
  readonly code: string
  readonly message: string
  readonly times: number
  readonly retryMs: number
}

/** States that dial, handshake or hold a session carry `refused` while the peer keeps refusing us. */
export type PeerState =
  | { readonly status: 'idle' }
  | {
      readonly status: 'connecting'
      readonly attempt: number
      readonly dialing: boolean
      readonly refused?: Refused
    }
  | {
      readonly status: 'handshaking'
      readonly attempt: number
      readonly link: number
      readonly peer?: PeerInfo
      readonly refused?: Refused
    }
  | {
      readonly status: 'connected'
      readonly link: number
      readonly peer: PeerInfo
      readonly attempt: number
      readonly refused?: Refused
    }
  | {
      readonly status: 'reconnecting'
      readonly attempt: number
      readonly dialing: boolean
      readonly peer: PeerInfo
      readonly refused?: Refused
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
  /**
   * The handshake on our dialed link failed; `fatal` stops redialing (the peer can never be talked to).
   * A `code` in `REFUSAL_CODES` backs off as a refusal, by the end `by` names.
   */
  | {
      readonly type: 'handshake-failed'
      readonly link: number
      readonly code: string
      readonly message: string
      readonly fatal: boolean
      readonly random: number
      readonly by?: 'peer' | 'self'
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
  /**
   * `lastedMs` is how long the session was up; `random` drives the jitter of the redial delay. `code` is
   * why it ended when that is a refusal (`REFUSAL_CODES`), and `by` which end refused. A session that
   * lasted `stableMs` ends the refusals before it: the peer took what we sent meanwhile. `fatal`: the
   * peer refused this node in a way redialing cannot change (its trust in this node's key), so the peer
   * is given up on with `code`.
   */
  | {
      readonly type: 'session-lost'
      readonly link: number
      readonly reason: string
      readonly lastedMs: number
      readonly random: number
      readonly code?: string
      readonly by?: 'peer' | 'self'
      readonly fatal?: boolean
    }
  | { readonly type: 'close'; readonly reason: string }
  /** Everything this peer held is released. */
  | { readonly type: 'closed' }
  /** The peer goes by another name now (it renamed itself): a state that names it names it so. */
  | { readonly type: 'renamed'; readonly peer: PeerInfo }

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

/** The next refusal in a row: its wait doubles from `backoff.refused`, up to its cap, with the jitter. */
function nextRefusal(
  backoff: Backoff,
  previous: Refused | undefined,
  refusal: { by: 'peer' | 'self'; code: string; message: string; random: number },
): Refused {
  const times = (previous?.times ?? 0) + 1
  const { baseMs, maxMs } = refusalBackoff(refusal.code, backoff)
  const retryMs = backoffDelay({ ...backoff, baseMs, maxMs }, times - 1, refusal.random)
  return { by: refusal.by, code: refusal.code, message: refusal.message, times, retryMs }
}

/** `refused` as an optional field: absent rather than undefined. */
function refusedField(refused: Refused | undefined): { refused?: Refused } {
  return refused ? { refused } : {}
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

  if (event.type === 'renamed') {
    if (state.status !== 'connected' && state.status !== 'reconnecting' && state.status !== 'handshaking')
      return reject('it names no peer')
    if (state.peer?.id !== event.peer.id) return reject('it names another peer')
    return ok({ ...state, peer: event.peer })
  }

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
            ...refusedField(state.refused),
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
            {
              status: 'connected',
              link: event.link,
              peer: event.peer,
              attempt: state.attempt,
              ...refusedField(state.refused),
            },
            { type: 'cancel-timer', timer: 'retry' },
            ...(state.dialing && !event.keepDial ? [{ type: 'abort-dial' } as const] : []),
          )
        default:
          return reject('the peer is not connected')
      }

    case 'handshaking':
      switch (event.type) {
        case 'session-open':
          return ok({
            status: 'connected',
            link: event.link,
            peer: event.peer,
            attempt: state.attempt,
            ...refusedField(state.refused),
          })
        case 'handshake-failed': {
          if (event.link !== state.link) return reject(`link ${event.link} is not the one handshaking`)
          if (event.fatal)
            return ok({ status: 'failed', error: { code: event.code, message: event.message } })
          const refusal = isRefusal(event.code)
          const refused = refusal
            ? nextRefusal(backoff, state.refused, { ...event, by: event.by ?? 'peer' })
            : state.refused
          const ms = refusal && refused ? refused.retryMs : backoffDelay(backoff, state.attempt, event.random)
          const wait: PeerEffect = { type: 'start-timer', timer: 'retry', ms }
          const next = { attempt: state.attempt, dialing: false, ...refusedField(refused) }
          return state.peer
            ? ok({ status: 'reconnecting', ...next, peer: state.peer }, wait)
            : ok({ status: 'connecting', ...next }, wait)
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
          if (event.fatal)
            return ok({ status: 'failed', error: { code: event.code ?? 'REFUSED', message: event.reason } })
          // A peer that drops every session right away must not be redialed in a tight loop.
          const stable = event.lastedMs >= backoff.stableMs
          const attempt = stable ? 0 : state.attempt + 1
          // A session that lasted that long was an exchange: earlier refusals are over.
          const previous = stable ? undefined : state.refused
          if (isRefusal(event.code)) {
            // Redialing soon would meet the same refusal: wait longer after each one in a row.
            const refused = nextRefusal(backoff, previous, {
              by: event.by ?? 'peer',
              code: event.code ?? '',
              message: event.reason,
              random: event.random,
            })
            return ok(
              { status: 'reconnecting', attempt, dialing: false, peer: state.peer, refused },
              { type: 'start-timer', timer: 'retry', ms: refused.retryMs },
            )
          }
          return ok(
            { status: 'reconnecting', attempt, dialing: false, peer: state.peer, ...refusedField(previous) },
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
