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
  /** Body lengths of the messages sent and maybe still waiting, oldest first, from `head` on. */
  private lengths: number[] = []
  private head = 0
  private chars = 0

  constructor(private readonly limits: OutboxLimits = OUTBOX_LIMITS) {}

  sent(body: string): void {
    this.lengths.push(body.length)
    this.chars += body.length
  }

  /** `sent` for each body, in order. */
  sentLines(bodies: readonly string[]): void {
    for (const body of bodies) this.sent(body)
  }

  /** Follows the node's outbox size (`node.pending`) down: the oldest messages were released. */
  settle(pending: number): void {
    while (this.lengths.length - this.head > pending) this.chars -= this.lengths[this.head++]!
    // Drop the released prefix now and then, so the array does not grow with everything ever sent.
    if (this.head > 1_024 && this.head * 2 > this.lengths.length) {
      this.lengths = this.lengths.slice(this.head)
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
