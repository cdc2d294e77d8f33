/**
 * How far the links may read ahead of the journal: message bytes taken and not yet durable, who waits for
 * the journal to catch up, and the light links still read while it lags. Generic over the link type, and
 * free of timers: the journal's own `settled` paces it.
 */

/**
 * Message bytes taken from all links that may wait for the journal at once. Past this, links stop being
 * read (TCP pushes back on their senders) until it catches up: what is taken during one disk flush is
 * then shown and relayed in one go, so a flood that outruns the disk would make that go, and the memory
 * it holds, grow without end, and every other link's lines wait behind it. Under a signed flood of the
 * longest messages, 256 KiB put 17-19 ms of the node's CPU (p50) between an honest line's arrival and its
 * flush being shown, 128 KiB 8-13 ms; a window of small lines in bulk still fits in one flush.
 */
export const JOURNAL_LAG_BYTES = 128 * 1024

/**
 * The same for a link that is the only one read since the last wait for the journal ended: no one else's
 * lines wait behind what it brings, and a window of a thousand short lines (about 240 KiB) then fits in the
 * journal's pipeline, instead of each flush carrying half of it. Once another link brings anything,
 * `JOURNAL_LAG_BYTES` holds for both.
 */
export const LONE_LINK_JOURNAL_LAG_BYTES = 256 * 1024

/**
 * While the journal lags, a link that brought at most this many message bytes since the last wait for it
 * ended is still read: a person's lines do not wait behind a flood they have no part in.
 */
export const LIGHT_LINK_BYTES = 16 * 1024

/** What such light links may take past the journal lag together, so that many of them cannot undo it. */
export const JOURNAL_OVERRUN_BYTES = 64 * 1024

export class JournalLag<L> {
  /** Message bytes taken and not yet known durable, and whether a wait for the journal is under way. */
  private unsettled = 0
  private settling = false
  /** Links that stopped reading until the journal catches up, in the order they stopped. */
  private readonly awaiting = new Set<L>()
  /** Message bytes each link took since the last wait for the journal ended. */
  private readonly sinceWait = new Map<L, number>()
  /** Message bytes light links took past the journal lag since the last wait for the journal ended. */
  private overrun = 0

  /**
   * `settled` resolves once everything appended so far is durable (undefined: there is no journal);
   * `caughtUp` gets the links that waited for it, in the order they started waiting.
   */
  constructor(
    private readonly settled: () => Promise<void> | undefined,
    private readonly running: () => boolean,
    private readonly caughtUp: (waited: L[]) => void,
  ) {}

  /**
   * Whether a message of `bytes` from the link must wait for the journal: it lags, and the link is not a
   * light one (at most `LIGHT_LINK_BYTES` since the last wait, within `JOURNAL_OVERRUN_BYTES` in all).
   */
  holds(link: L, bytes: number): boolean {
    if (this.unsettled < this.lagFor(link)) return false
    const own = (this.sinceWait.get(link) ?? 0) + bytes
    return own > LIGHT_LINK_BYTES || this.overrun + bytes > JOURNAL_OVERRUN_BYTES
  }

  /** A message of `bytes` from the link was taken: it is on its way to the journal. */
  took(link: L, bytes: number): void {
    if (this.unsettled >= this.lagFor(link)) this.overrun += bytes
    this.unsettled += bytes
    this.sinceWait.set(link, (this.sinceWait.get(link) ?? 0) + bytes)
  }

  /** The link reads no more until the journal catches up (the caller pauses it). */
  wait(link: L): void {
    this.awaiting.add(link)
  }

  isWaiting(link: L): boolean {
    return this.awaiting.has(link)
  }

  /** The link closed. */
  forget(link: L): void {
    this.awaiting.delete(link)
    this.sinceWait.delete(link)
  }

  /**
   * Waits for what was taken so far to be durable, then hands over the links that waited for it. Called
   * after each read, once what it took is appended.
   */
  watch(): void {
    if (this.settling || this.unsettled === 0) return
    const settled = this.settled()
    if (!settled) {
      this.unsettled = 0
      this.sinceWait.clear()
      this.overrun = 0
      return
    }
    this.settling = true
    const counted = this.unsettled
    void settled.then(() => {
      this.settling = false
      this.unsettled = Math.max(0, this.unsettled - counted)
      this.sinceWait.clear()
      this.overrun = 0
      const waited = [...this.awaiting]
      this.awaiting.clear()
      if (!this.running()) return
      // Links that waited together compete from the start: the first read is not a lone one.
      if (waited.length > 1) for (const link of waited) this.sinceWait.set(link, 0)
      this.caughtUp(waited)
      this.watch()
    })
  }

  /** How far the journal may lag before the link waits: further for the only link read since the last wait. */
  private lagFor(link: L): number {
    for (const other of this.sinceWait.keys()) if (other !== link) return JOURNAL_LAG_BYTES
    for (const other of this.awaiting) if (other !== link) return JOURNAL_LAG_BYTES
    return LONE_LINK_JOURNAL_LAG_BYTES
  }
}
