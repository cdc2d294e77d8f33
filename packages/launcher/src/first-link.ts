/**
 * When a frontend starts reading piped input on a node that dials peers: once the first link is up, or a
 * dial has failed, or after a short wait. Lines read while the handshake runs cannot go anywhere yet: they
 * only fill the outbox, and their work held the handshake up (100,000 piped lines: linked 190 ms after
 * dialing instead of 40, the first line shown 100 ms later). Piped input waits in its pipe meanwhile.
 */
import type { NodeEvent } from '@parley/core'

/** The longest piped input waits for a first link: a dial that neither links nor fails (a DHT lookup, a lost SYN). */
export const FIRST_LINK_WAIT_MS = 2_000

/** The timer `FirstLink.wait` sets (real ones by default). */
export interface WaitTimers {
  setTimeout(callback: () => void, ms: number): unknown
  clearTimeout(timer: unknown): void
}

const REAL_TIMERS: WaitTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
}

/** Whether the event settles the wait: a link came up, or a dial's attempt ended without one. */
export function settlesFirstLink(event: NodeEvent): boolean {
  switch (event.type) {
    case 'connected':
    case 'dial-error':
    case 'closed':
      return true
    case 'peer-state':
      return event.state.status === 'failed' || event.state.status === 'closed'
    default:
      return false
  }
}

/**
 * Follows a node's events from its start (feed it every one, from the listener given to the node), so
 * that a link that came up before anyone waits is not missed.
 * @example
 * const linked = new FirstLink()
 * const started = await startNode(flags, (event) => { linked.observe(event); ... })
 * linked.wait().then(() => rl.resume())
 */
export class FirstLink {
  #settled = false
  readonly #waiting: (() => void)[] = []

  observe(event: NodeEvent): void {
    if (!this.#settled && settlesFirstLink(event)) this.#settle()
  }

  /**
   * Resolves once an event settled it, at once if one did already, or `waitMs` after this call; never
   * rejects. A wait that runs out settles it for every other wait too.
   */
  wait(waitMs = FIRST_LINK_WAIT_MS, timers: WaitTimers = REAL_TIMERS): Promise<void> {
    if (this.#settled) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = timers.setTimeout(() => this.#settle(), waitMs)
      this.#waiting.push(() => {
        timers.clearTimeout(timer)
        resolve()
      })
    })
  }

  #settle(): void {
    this.#settled = true
    for (const done of this.#waiting.splice(0)) done()
  }
}
