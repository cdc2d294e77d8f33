/**
 * What the node lets in, and when: a budget of messages per turn of the event loop across all links (a
 * flood read in one go cannot keep the process from its other input, a person typing, for long), and a
 * token bucket per peer (a sustained rate and a burst allowance). Timers come from the injected clock.
 */
import type { Clock } from './clock.js'

export interface RateLimit {
  /** Messages per second, sustained. */
  readonly perSecond: number
  /** Messages that may arrive at once before the rate applies. */
  readonly burst: number
}

export const DEFAULT_RATE_LIMIT: RateLimit = { perSecond: 200, burst: 1000 }

/** Messages taken from all links in one turn of the event loop; the rest wait for the next turn. */
export const TURN_BUDGET = 256

/** One peer's allowance under the rate limit. */
export interface TokenBucket {
  tokens: number
  refilledAt: number
}

const TAKEN = { ok: true } as const
const WAITING = { ok: false, paused: false } as const
const PAUSED = { ok: false, paused: true } as const

export class InboundGate<L> {
  private taken = 0
  private timer?: unknown
  private readonly waiting = new Set<L>()

  /** `nextTurn` gets the links that waited for the turn, in the order they started waiting. */
  constructor(
    private readonly clock: Clock,
    readonly rateLimit: RateLimit | false,
    private readonly nextTurn: (waited: L[]) => void,
  ) {}

  /**
   * Counts one message against this turn's budget. False when it is spent: the link waits for the next
   * turn, and `paused` is true the first time it does (the caller pauses it then).
   */
  takeTurn(link: L): { readonly ok: true } | { readonly ok: false; readonly paused: boolean } {
    if (this.taken === 0) {
      const next = () => this.turn()
      if (this.clock.defer) this.clock.defer(next)
      else this.timer = this.clock.setTimeout(next, 0)
    }
    if (this.taken < TURN_BUDGET) {
      this.taken++
      return TAKEN
    }
    if (this.waiting.has(link)) return WAITING
    this.waiting.add(link)
    return PAUSED
  }

  /** A full bucket for a peer met now. */
  newBucket(): TokenBucket {
    return { tokens: this.rateLimit ? this.rateLimit.burst : 0, refilledAt: this.clock.now() }
  }

  /** Takes one token for a message: 0 when allowed, else how long (ms) until the next token. */
  takeToken(bucket: TokenBucket): number {
    const limit = this.rateLimit
    if (!limit) return 0
    const now = this.clock.now()
    bucket.tokens = Math.min(
      limit.burst,
      bucket.tokens + ((now - bucket.refilledAt) * limit.perSecond) / 1000,
    )
    bucket.refilledAt = now
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return 0
    }
    return Math.ceil(((1 - bucket.tokens) * 1000) / limit.perSecond)
  }

  close(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer)
    this.timer = undefined
    this.waiting.clear()
  }

  private turn(): void {
    this.timer = undefined
    this.taken = 0
    const waited = [...this.waiting]
    this.waiting.clear()
    this.nextTurn(waited)
  }
}
