/**
 * How much of what this CLI sent still waits in the node's outbox, in messages and in characters, so stdin
 * can be paused before either grows too large (10,000 lines of 10,000 characters would be 100 M characters).
 * The node releases its outbox oldest first, so the messages still waiting are always the newest ones sent.
 */
export interface OutboxLimits {
  /** Pause at this many messages waiting, or at this many characters of their bodies. */
  readonly highMessages: number
  readonly highChars: number
  /** Resume once both are at or below these. */
  readonly lowMessages: number
  readonly lowChars: number
}

export const OUTBOX_LIMITS: OutboxLimits = {
  highMessages: 10_000,
  highChars: 8_000_000,
  lowMessages: 5_000,
  lowChars: 4_000_000,
}

export class OutboxWatch {
  /**
   * What was sent and may still wait, oldest first, from `head` on: runs of messages handed over
   * together (`counts[i]` messages of `sizes[i]` characters in all); a single message is a run of one.
   */
  private counts: number[] = []
  private sizes: number[] = []
  private head = 0
  /** Messages and characters in the runs from `head` on. */
  private messages = 0
  private chars = 0

  constructor(private readonly limits: OutboxLimits = OUTBOX_LIMITS) {}

  sent(body: string): void {
    this.sentRun(1, body.length)
  }

  /** `count` messages handed over together, `chars` characters in all (`sendLines`). */
  sentRun(count: number, chars: number): void {
    if (count === 0) return
    this.counts.push(count)
    this.sizes.push(chars)
    this.messages += count
    this.chars += chars
  }

  /**
   * Follows the node's outbox size (`node.pending`) down: the oldest messages were released. Part of a run
   * released counts its share of the run's characters.
   */
  settle(pending: number): void {
    let released = this.messages - pending
    while (released > 0 && this.head < this.counts.length) {
      const count = this.counts[this.head] as number
      const size = this.sizes[this.head] as number
      if (count <= released) {
        this.messages -= count
        this.chars -= size
        released -= count
        this.head++
        continue
      }
      const share = Math.round((size * released) / count)
      this.counts[this.head] = count - released
      this.sizes[this.head] = size - share
      this.messages -= released
      this.chars -= share
      released = 0
    }
    // Drop the released prefix now and then, so the arrays do not grow with everything ever sent.
    if (this.head > 1_024 && this.head * 2 > this.counts.length) {
      this.counts = this.counts.slice(this.head)
      this.sizes = this.sizes.slice(this.head)
      this.head = 0
    }
  }

  get waitingChars(): number {
    return this.chars
  }

  full(pending: number): boolean {
    this.settle(pending)
    return pending >= this.limits.highMessages || this.chars >= this.limits.highChars
  }

  drained(pending: number): boolean {
    this.settle(pending)
    return pending <= this.limits.lowMessages && this.chars <= this.limits.lowChars
  }
}
