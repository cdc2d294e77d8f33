/**
 * When a room's topic is looked up again. Announcing a topic is one query that finds who is there and then
 * stores this node at the closest DHT nodes: two members that join within the same query's time each look
 * before the other is stored, and both find nobody, and Hyperswarm itself would look again only after ten
 * minutes. So a room is looked up again soon after joining, then twice as late each time, up to `lastMs`.
 * A link to a member that is lost starts the row over: the member may be back at another address (it
 * restarted, or the network came back), and only a lookup finds it there.
 */
export class LookupSchedule {
  #delayMs: number
  #timer: ReturnType<typeof setTimeout> | undefined
  #stopped = false

  constructor(
    private readonly lookUp: () => void,
    private readonly firstMs: number,
    private readonly lastMs: number,
  ) {
    this.#delayMs = firstMs
    this.#arm()
  }

  /** The delay before the next lookup (ms). */
  get nextDelayMs(): number {
    return this.#delayMs
  }

  /** A link to a member was lost: look again soon, then back off from the start. */
  restart(): void {
    if (this.#stopped || this.#delayMs === this.firstMs) return
    clearTimeout(this.#timer)
    this.#delayMs = this.firstMs
    this.#arm()
  }

  stop(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
  }

  #arm(): void {
    this.#timer = setTimeout(() => {
      if (this.#stopped) return
      this.lookUp()
      this.#delayMs = Math.min(this.#delayMs * 2, this.lastMs)
      this.#arm()
    }, this.#delayMs)
    this.#timer.unref?.()
  }
}
