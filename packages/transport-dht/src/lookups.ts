/**
 * What a room lookup says: whether this node's own announcement was stored on the DHT by it. Every lookup of
 * a room announces this node on its topic too (one query finds who is there, then stores this node at the
 * closest DHT nodes), so a lookup that failed also left this node unannounced.
 */
export type LookupResult = 'stored' | 'failed'

export interface LookupScheduleOptions {
  /** Where the delays between lookups that failed stop growing (ms). Default: `lastMs`. */
  lastRetryMs?: number
  /** Whether the join's own announcement was stored. Default: true. */
  stored?: boolean
}

/**
 * When a room's topic is looked up again. Announcing a topic is one query that finds who is there and then
 * stores this node at the closest DHT nodes: two members whose queries cross each look before the other is
 * stored, and both find nobody, and Hyperswarm itself would look again only after ten minutes. The member
 * stored last is the one sure to find the other by looking once more, so a room is looked up again soon after
 * this node's announcement is stored (on joining, or at last after announcements that failed), then twice
 * as late each time, up to `lastMs`. A lookup that failed stored nothing: it is tried again soon, twice as
 * late each time up to `lastRetryMs`, without pushing back the lookup that follows the store.
 * A link to a member that is lost starts the row over: the member may be back at another address (it
 * restarted, or the network came back), and only a lookup finds it there.
 * The next delay counts from the end of a lookup, so a slow one (a loaded machine, DHT nodes that do not
 * answer) is not overlapped by the next.
 */
export class LookupSchedule {
  /** The delay the pending lookup was armed with. */
  #armedMs: number
  /** The delay after the next lookup that stores this node, while it stays stored. */
  #nextMs: number
  /** The delay after the next lookup that fails. */
  #retryMs: number
  #stored: boolean
  #timer: ReturnType<typeof setTimeout> | undefined
  #looking = false
  #stopped = false
  readonly #lastRetryMs: number

  constructor(
    private readonly lookUp: () => Promise<LookupResult> | undefined,
    private readonly firstMs: number,
    private readonly lastMs: number,
    options: LookupScheduleOptions = {},
  ) {
    this.#lastRetryMs = options.lastRetryMs ?? lastMs
    this.#stored = options.stored ?? true
    this.#armedMs = firstMs
    this.#nextMs = this.#doubled(firstMs, lastMs)
    this.#retryMs = firstMs
    this.#arm(firstMs)
  }

  /** The delay before the next lookup (ms); while one runs, the delay it was armed with. */
  get nextDelayMs(): number {
    return this.#armedMs
  }

  /** A link to a member was lost: look again soon, then back off from the start. */
  restart(): void {
    if (this.#stopped) return
    this.#nextMs = this.firstMs
    this.#retryMs = this.firstMs
    // A lookup running now is followed by the next one soon; one a second away or less stays as it is.
    if (this.#looking || this.#armedMs <= this.firstMs) return
    clearTimeout(this.#timer)
    this.#arm(this.firstMs)
    this.#nextMs = this.#doubled(this.firstMs, this.lastMs)
  }

  stop(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
  }

  #arm(delayMs: number): void {
    this.#armedMs = delayMs
    this.#timer = setTimeout(() => this.#run(), delayMs)
    this.#timer.unref?.()
  }

  #run(): void {
    if (this.#stopped) return
    this.#looking = true
    Promise.resolve(this.lookUp()).then(
      (result) => this.#done(result ?? 'stored'),
      () => this.#done('failed'),
    )
  }

  #done(result: LookupResult): void {
    this.#looking = false
    if (this.#stopped) return
    if (result === 'failed') {
      this.#stored = false
      this.#arm(this.#retryMs)
      this.#retryMs = this.#doubled(this.#retryMs, this.#lastRetryMs)
      return
    }
    this.#retryMs = this.firstMs
    // Stored at last: a member that looked while this node was not there is found by looking once more.
    if (!this.#stored) this.#nextMs = this.firstMs
    this.#stored = true
    this.#arm(this.#nextMs)
    this.#nextMs = this.#doubled(this.#nextMs, this.lastMs)
  }

  #doubled(ms: number, limit: number): number {
    return Math.min(ms * 2, limit)
  }
}
