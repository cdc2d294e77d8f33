/**
 * What the node lets in, and when: a budget of messages and bytes per turn of the event loop across all
 * links (a flood read in one go cannot keep the process from its other input, a person typing, for long),
 * a slice of that per link per turn while links compete, served round robin (one link's backlog delays
 * another's waiting frames by at most one slice), and a token bucket per peer (a sustained rate and a burst
 * allowance). Timers come from the injected clock.
 */
import type { Clock } from './clock.js'
import { newlinesIn } from './schema.js'
import { utf8Length } from './text-cut.js'

export interface RateLimit {
  /** Messages per second, sustained. */
  readonly perSecond: number
  /** Messages that may arrive at once before the rate applies. */
  readonly burst: number
  /**
   * Bytes per second, sustained (a message counts its body and name, one byte per UTF-16 unit, plus a
   * fixed 160): what the journal and the screen pay for. Absent: no byte limit.
   */
  readonly bytesPerSecond?: number
  /** Bytes that may arrive at once before `bytesPerSecond` applies (default: 4 seconds' worth). */
  readonly byteBurst?: number
}

/**
 * Generous for people and pipes (a 20,000-line file fits in the burst), bounded for a flood: a peer
 * that keeps sending gets 1 MiB a second of journal and screen at most, and 5,000 messages.
 */
export const DEFAULT_RATE_LIMIT: RateLimit = {
  perSecond: 5_000,
  burst: 20_000,
  bytesPerSecond: 1_048_576,
  byteBurst: 8_388_608,
}

/** A msg frame's bytes besides its strings: keys, quotes, a 16-digit seq and ts, the 16-char id and the length prefix. */
export const FIXED_MSG_BYTES = 160

/** Messages taken from all links in one turn of the event loop; the rest wait for the next turn. */
export const TURN_BUDGET = 256

/**
 * Frame bytes taken from all links in one turn. What a message costs (verifying, journaling, showing,
 * relaying) grows with its size: 256 messages of 10,000 characters were a turn of a quarter of a second.
 */
export const TURN_BYTES = 256 * 1024

/**
 * Frame bytes one link may have taken in one turn before it waits for the next, while another link
 * competes for the turn; a link always gets at least one message per turn. Links that waited without being
 * served go first in the next turn. A link alone takes the whole turn: slicing it only split each of its
 * bursts over more turns, each with its own journal write and ack (a durable flood ran at 0.7x).
 */
export const SLICE_BYTES = 32 * 1024

/** One peer's allowance under the rate limit, in messages and in bytes. */
export interface TokenBucket {
  tokens: number
  bytes: number
  refilledAt: number
}

/** What one message costs against a peer's allowance: a token per line it shows, and its bytes. */
export interface Weighed {
  readonly body: string
  readonly name?: string | undefined
  /** Lines carried (`msg.lines`); absent, one more than the newlines in the body. */
  readonly lines?: number | undefined
}

const TAKEN = { ok: true } as const
const WAITING = { ok: false, paused: false } as const
const PAUSED = { ok: false, paused: true } as const

export class InboundGate<L> {
  private taken = 0
  private takenBytes = 0
  private scheduled = false
  private timer?: unknown
  /** Frame bytes each link took this turn. */
  private readonly slices = new Map<L, number>()
  /** Links waiting for the next turn that took nothing in this one: they are served first. */
  private readonly waiting = new Set<L>()
  /** Links waiting for the next turn after they took their share of this one. */
  private readonly servedWaiting = new Set<L>()
  /** Links being served in this turn after they waited: they compete for it before they take anything. */
  private readonly serving = new Set<L>()

  /**
   * `nextTurn` gets the links that waited for the turn, in the order they started waiting; they compete
   * for it until it ends.
   */
  constructor(
    private readonly clock: Clock,
    readonly rateLimit: RateLimit | false,
    private readonly nextTurn: (waited: L[]) => void,
  ) {}

  /**
   * Counts one message of `bytes` frame bytes against this turn's budget and the link's slice of it. False
   * when either is spent: the link waits for the next turn, and `paused` is true the first time it does
   * (the caller pauses it then).
   */
  takeTurn(link: L, bytes = 0): { readonly ok: true } | { readonly ok: false; readonly paused: boolean } {
    this.scheduleTurn()
    if (this.hasRoom(link)) {
      this.taken++
      this.takenBytes += bytes
      // Counted as at least one byte, so a link that took anything goes behind those that took nothing.
      this.slices.set(link, (this.slices.get(link) ?? 0) + Math.max(1, bytes))
      return TAKEN
    }
    return this.wait(link)
  }

  private hasRoom(link: L): boolean {
    if (this.taken >= TURN_BUDGET || this.takenBytes >= TURN_BYTES) return false
    return (this.slices.get(link) ?? 0) < SLICE_BYTES || this.alone(link)
  }

  /** No other link took from this turn, waits for the next or is being served: no one to be fair to. */
  private alone(link: L): boolean {
    return (
      onlyMember(this.slices.keys(), link) &&
      onlyMember(this.serving, link) &&
      onlyMember(this.waiting, link) &&
      onlyMember(this.servedWaiting, link)
    )
  }

  /**
   * Links about to be served one after another outside the gate's own turns (they waited for the journal):
   * each competes from now on, so the first cannot take the whole turn from the others.
   */
  serve(links: readonly L[]): void {
    if (links.length === 0) return
    // Their competing ends with the turn.
    this.scheduleTurn()
    for (const link of links) this.serving.add(link)
  }

  /** The link waits for the next turn; `paused` the first time it does in this one. */
  private wait(link: L): { readonly ok: false; readonly paused: boolean } {
    if (this.waiting.has(link) || this.servedWaiting.has(link)) return WAITING
    ;((this.slices.get(link) ?? 0) > 0 ? this.servedWaiting : this.waiting).add(link)
    return PAUSED
  }

  /**
   * Whether this turn has room for the link to take a message, without counting one: bytes are decoded
   * only when they may be taken, so a crowd of links waiting their turn costs no parsing. When there is
   * no room the link waits for the next turn, as with `takeTurn`.
   */
  room(link: L): { readonly ok: true } | { readonly ok: false; readonly paused: boolean } {
    this.scheduleTurn()
    if (this.hasRoom(link)) return TAKEN
    return this.wait(link)
  }

  /**
   * Whether this turn has room for one more paused link to be read again, when `resumed` already were:
   * each may bring a slice. The first always may, so every turn moves on.
   */
  roomToResume(resumed: number): boolean {
    return resumed === 0 || this.takenBytes + (resumed + 1) * SLICE_BYTES <= TURN_BYTES
  }

  /** Keeps a paused link waiting for the next turn, in its round-robin place. */
  park(link: L): void {
    this.scheduleTurn()
    if (this.waiting.has(link) || this.servedWaiting.has(link)) return
    ;((this.slices.get(link) ?? 0) > 0 ? this.servedWaiting : this.waiting).add(link)
  }

  /** Stops counting a link (it closed): it is not served again. */
  forget(link: L): void {
    this.waiting.delete(link)
    this.servedWaiting.delete(link)
    this.serving.delete(link)
    this.slices.delete(link)
  }

  /** A full bucket for a peer met now. */
  newBucket(): TokenBucket {
    const limit = this.rateLimit
    return {
      tokens: limit ? limit.burst : 0,
      bytes: limit ? byteBurstOf(limit) : 0,
      refilledAt: this.clock.now(),
    }
  }

  /**
   * Takes a token per line of the message and its bytes: 0 when allowed, else how long (ms) until both
   * suffice. A message of more lines than the whole burst waits for a full bucket.
   */
  takeToken(bucket: TokenBucket, message: Weighed): number {
    const limit = this.rateLimit
    if (!limit) return 0
    const now = this.clock.now()
    const elapsed = now - bucket.refilledAt
    bucket.tokens = Math.min(limit.burst, bucket.tokens + (elapsed * limit.perSecond) / 1000)
    bucket.refilledAt = now
    const byteRate = limit.bytesPerSecond
    const byteBurst = byteBurstOf(limit)
    // In bytes of UTF-8, as --rate-bytes says: a body of three-byte characters costs three a character.
    const cost = FIXED_MSG_BYTES + utf8Length(message.body) + (message.name ? utf8Length(message.name) : 0)
    if (byteRate) bucket.bytes = Math.min(byteBurst, bucket.bytes + (elapsed * byteRate) / 1000)
    // A message larger than the whole byte burst could never pass: it waits for a full bucket instead.
    const byteCost = Math.min(cost, byteBurst)
    // A token per line shown: a body of many lines (carried as `lines` or not) costs each of them, so a
    // peer cannot paint a screenful for the price of one message.
    const lines = message.lines ?? 1 + newlinesIn(message.body)
    const tokenCost = Math.min(lines, Math.max(1, limit.burst))
    if (bucket.tokens >= tokenCost && (!byteRate || bucket.bytes >= byteCost)) {
      bucket.tokens -= tokenCost
      if (byteRate) bucket.bytes -= byteCost
      return 0
    }
    const waitMessages =
      bucket.tokens >= tokenCost ? 0 : ((tokenCost - bucket.tokens) * 1000) / limit.perSecond
    const waitBytes = byteRate && bucket.bytes < byteCost ? ((byteCost - bucket.bytes) * 1000) / byteRate : 0
    return Math.max(1, Math.ceil(Math.max(waitMessages, waitBytes)))
  }

  close(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer)
    this.timer = undefined
    this.scheduled = false
    this.waiting.clear()
    this.servedWaiting.clear()
    this.serving.clear()
    this.slices.clear()
  }

  private scheduleTurn(): void {
    if (this.scheduled) return
    this.scheduled = true
    const next = () => this.turn()
    if (this.clock.defer) this.clock.defer(next)
    else this.timer = this.clock.setTimeout(next, 0)
  }

  private turn(): void {
    this.scheduled = false
    this.timer = undefined
    this.taken = 0
    this.takenBytes = 0
    this.slices.clear()
    this.serving.clear()
    // Round robin: those that got nothing last turn first, then those that had their share.
    const waited = [...this.waiting, ...this.servedWaiting]
    this.waiting.clear()
    this.servedWaiting.clear()
    for (const link of waited) this.serving.add(link)
    this.nextTurn(waited)
  }
}

function onlyMember<L>(links: Iterable<L>, link: L): boolean {
  for (const other of links) if (other !== link) return false
  return true
}

function byteBurstOf(limit: RateLimit): number {
  return limit.byteBurst ?? (limit.bytesPerSecond ?? 0) * 4
}
