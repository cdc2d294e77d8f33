/**
 * Flow control as people see it: a peer throttling us or not reading is summed up in at most one status
 * line every few seconds, and the wait for acknowledgements when input ends, or while piped input is paused
 * at a full outbox, is bounded by time without progress, not total time, so a long file still being
 * acknowledged is never cut short.
 */
import type { ChatNode, NodeEvent } from '@parley/core'
import { countText } from './display.js'
import { BLOCKED_GRACE_MS } from './event-log.js'
import type { StatusLine } from './session.js'
import { unrefTimeout } from './timers.js'

export interface FlowSummaryOptions {
  /** At most one line per this many ms (default 5,000). */
  readonly everyMs?: number
  /**
   * A peer is said not to read once its link has stayed blocked this long (default `BLOCKED_GRACE_MS`,
   * 1,000 ms, as in the structured log): a piped file fills the link for a moment whenever the sender
   * runs ahead of a peer that reads fine.
   */
  readonly graceMs?: number
  readonly now?: () => number
  readonly schedule?: (callback: () => void, ms: number) => void
  /** Messages still waiting in the outbox, for the line. */
  readonly pending?: () => number
}

/**
 * Turns `throttled` and `backpressure` events into at most one summary line per interval.
 * @example const flow = new FlowSummary((line) => print(line)); node.on((e) => flow.push(e))
 */
export class FlowSummary {
  private readonly everyMs: number
  private readonly graceMs: number
  private readonly now: () => number
  private readonly schedule: (callback: () => void, ms: number) => void
  private lastShown = Number.NEGATIVE_INFINITY
  private due = false
  /** The peers that throttled us since the last line, by id, with their names; one that left is dropped. */
  private readonly throttling = new Map<string, string>()
  /** The most of the user's own messages queued at any throttle since the last line. */
  private pendingWhenSlowed = 0
  /**
   * Peers whose link is blocked now, by id, with their name and since when. A link that closes or is
   * replaced takes its entry with it: peers that stop reading and leave must not pile up here.
   */
  private readonly blockedSince = new Map<string, { readonly name: string; readonly since: number }>()
  private closed = false

  constructor(
    private readonly show: (line: StatusLine) => void,
    private readonly options: FlowSummaryOptions = {},
  ) {
    this.everyMs = options.everyMs ?? 5_000
    this.graceMs = options.graceMs ?? BLOCKED_GRACE_MS
    this.now = options.now ?? Date.now
    this.schedule = options.schedule ?? unrefTimeout
  }

  /** True for the events this summary takes over (the frontend shows nothing else for them). */
  static handles(event: NodeEvent): boolean {
    return event.type === 'throttled' || event.type === 'backpressure'
  }

  /** Every event, to follow links: one that opens or closes is no longer blocked. */
  observe(event: NodeEvent): void {
    if (event.type === 'connected' || event.type === 'disconnected') this.blockedSince.delete(event.peer.id)
    // A peer that left is not named in the next line: it throttles nobody any more.
    if (event.type === 'disconnected') this.throttling.delete(event.peer.id)
  }

  /** A flow event (see `handles`) to sum up. */
  push(event: NodeEvent): void {
    if (this.closed) return
    if (event.type === 'throttled') {
      this.throttling.set(event.peer.id, event.peer.name)
      // Whether the user's own messages waited when it was slowed, not when the line is printed.
      this.pendingWhenSlowed = Math.max(this.pendingWhenSlowed, this.options.pending?.() ?? 0)
    } else if (event.type === 'backpressure') {
      const { id, name } = event.peer
      if (!event.blocked) this.blockedSince.delete(id)
      else if (!this.blockedSince.has(id)) this.blockedSince.set(id, { name, since: this.now() })
    } else return
    this.plan()
  }

  close(): void {
    this.closed = true
  }

  /** Sums up now, or sets one check for when there may be something to say: the interval, or a block's grace. */
  private plan(): void {
    let readyAt = this.lastShown + this.everyMs
    if (this.throttling.size === 0) {
      if (this.blockedSince.size === 0) return
      let first = Number.POSITIVE_INFINITY
      for (const { since } of this.blockedSince.values()) first = Math.min(first, since)
      readyAt = Math.max(readyAt, first + this.graceMs)
    }
    const now = this.now()
    if (readyAt <= now) {
      this.summarize()
      return
    }
    if (this.due) return
    this.due = true
    this.schedule(() => {
      this.due = false
      if (!this.closed) this.summarize()
    }, readyAt - now)
  }

  private summarize(): void {
    const now = this.now()
    const blocked = [...this.blockedSince.values()]
      .filter(({ since }) => now - since >= this.graceMs)
      .map(({ name }) => name)
    const parts: string[] = []
    const who = (names: string[]) => `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'}`
    const throttled = this.throttling.size > 0
    if (throttled) parts.push(`${who([...this.throttling.values()])} throttling you`)
    if (blocked.length > 0) parts.push(`${who(blocked)} not reading`)
    this.throttling.clear()
    if (parts.length === 0) {
      // Blocked, but not for long yet: look again once the grace has passed.
      this.plan()
      return
    }
    this.lastShown = now
    const slowedWithPending = this.pendingWhenSlowed > 0
    this.pendingWhenSlowed = 0
    const pending = this.options.pending?.()
    // With none of this node's own messages queued, what is slowed is what it passes on (a room's older
    // messages relayed to a member that just joined): not something the user sent.
    const waiting =
      pending === undefined
        ? ''
        : pending > 0
          ? `; ${countText(pending)} message(s) queued`
          : slowedWithPending || !throttled
            ? ''
            : '; none of yours waits, only messages this node passes on'
    this.show({ level: 'info', text: `sending slower: ${parts.join(', ')}${waiting}; none is lost` })
  }
}

/**
 * Waits until every sent message is acknowledged, giving up only after `idleMs` without a single new
 * acknowledgement, when `stop` resolves, or at once when nobody is left to acknowledge: every peer this
 * node dials gave up on a key it does not trust (`untrustedTargets`) and no peer is connected. Such a
 * refusal is final for this run, and waiting out `idleMs` after it was said only held the user up.
 * @returns how many messages are still unacknowledged (0: all delivered)
 */
export function waitWhileProgressing(
  node: ChatNode,
  idleMs: number,
  stop: Promise<unknown>,
): Promise<number> {
  if (node.pending === 0) return Promise.resolve(0)
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined
    const finish = () => {
      off()
      if (timer) clearTimeout(timer)
      resolve(node.pending)
    }
    const arm = () => {
      if (timer) clearTimeout(timer)
      timer = setTimeout(finish, idleMs)
    }
    const off = node.on((event) => {
      if (event.type === 'closed') finish()
      else if ((event.type === 'peer-state' || event.type === 'disconnected') && refusedEverywhere(node))
        finish()
      // A `settled` with no `delivered` is progress too: acknowledgements that came earlier (while a dialed
      // address had not answered yet) let the outbox shrink now.
      else if (event.type === 'delivered' || event.type === 'settled') {
        if (node.pending === 0) finish()
        else arm()
      }
    })
    void stop.then(finish)
    if (refusedEverywhere(node)) finish()
    else arm()
  })
}

/**
 * Every peer this node dials was given up on (a failure no retry mends: a key it does not trust, its own
 * address, a peer of another protocol), and no peer is connected: only a peer that links to this node (one
 * that dials it, a member of its room) can still acknowledge what waits.
 */
export function givenUpEverywhere(node: Pick<ChatNode, 'peerStates' | 'sessionsSnapshot'>): boolean {
  const states = node.peerStates()
  return (
    states.length > 0 &&
    states.every(({ state }) => state.status === 'failed') &&
    node.sessionsSnapshot().every((session) => !session.connected)
  )
}

/**
 * `givenUpEverywhere`, each peer dialed given up on for a key it does not trust (`untrustedTargets`):
 * the next run is refused the same way, and nothing waits for a peer that might link to this node.
 */
export function refusedEverywhere(node: Pick<ChatNode, 'peerStates' | 'sessionsSnapshot'>): boolean {
  return untrustedTargets(node).length > 0 && node.sessionsSnapshot().every((session) => !session.connected)
}

/**
 * The targets this node dials, when every one of them gave up on a key: one this node does not trust (a
 * pinned key, or the one known for its address, that the peer did not prove) or this node's own, which the
 * peer refused (`refusedUs`); otherwise none. The next run is refused the same way unless a key, a pin or
 * the peer's allowlist changes.
 */
export function untrustedTargets(node: Pick<ChatNode, 'peerStates'>): string[] {
  return trustFailures(node).map(({ target }) => target)
}

/** `untrustedTargets`, each with whether the peer refused this node's key rather than proving a wrong one. */
export function trustFailures(node: Pick<ChatNode, 'peerStates'>): { target: string; refusedUs: boolean }[] {
  const states = node.peerStates()
  const failed = states.flatMap(({ target, state }) =>
    state.status === 'failed' && (state.error.code === 'UNTRUSTED' || state.error.code === 'REFUSED')
      ? [{ target, refusedUs: state.error.code === 'REFUSED' }]
      : [],
  )
  return failed.length > 0 && failed.length === states.length ? failed : []
}

/**
 * Piped input paused at a full outbox, watched for progress: once it has stayed paused `idleMs` without an
 * acknowledgement, `stalled` is called, once. A peer that never comes would otherwise keep a piped sender
 * (a cron job) waiting for good: its input never ends, so the wait at the end of input never applies.
 * With `idleMs` 0 it waits as long as it takes.
 * @example
 * const paused = new PausedInput(flags.waitMs, () => giveUp())
 * // input.pause(); paused.pause() … on `delivered`: paused.progress() … input.resume(); paused.resume()
 */
export class PausedInput {
  private timer: ReturnType<typeof setTimeout> | undefined
  private paused = false
  private ended = false
  /** Nothing can drain the outbox (see `hopeless`): a pause is given up at once. */
  private noHope = false

  constructor(
    private readonly idleMs: number,
    private readonly stalled: () => void,
  ) {}

  /** Input was paused: the outbox is full. */
  pause(): void {
    if (this.paused) return
    this.paused = true
    if (this.noHope) this.stall()
    else this.arm()
  }

  /**
   * Whether nothing can drain the outbox now: every peer dialed refused on its key and nobody is connected
   * (`refusedEverywhere`). While so, paused input is given up at once (`stalled`, once) instead of after
   * `idleMs`: the refusal is final for the run.
   */
  hopeless(yes: boolean): void {
    this.noHope = yes
    if (yes && this.paused) this.stall()
  }

  /** Input is read again. */
  resume(): void {
    this.paused = false
    this.disarm()
  }

  /** An acknowledgement came: the wait starts over. */
  progress(): void {
    if (this.paused) this.arm()
  }

  /** No more calls to `stalled`. */
  close(): void {
    this.ended = true
    this.disarm()
  }

  private arm(): void {
    this.disarm()
    if (this.idleMs <= 0 || this.ended) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      if (this.paused) this.stall()
    }, this.idleMs)
  }

  private stall(): void {
    if (this.ended) return
    this.ended = true
    this.disarm()
    this.stalled()
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }
}

type Backpressure = Extract<NodeEvent, { type: 'backpressure' }>

/**
 * `backpressure` events as `--json` prints them, told as the structured log tells them: a peer is said
 * not to read once its link stayed blocked for the grace (`BLOCKED_GRACE_MS`), and to read again only
 * after that. A peer that pauses and resumes its socket every few milliseconds would otherwise grow a
 * script's output at its own pace; a piped file that fills a link for a moment is no news either.
 * @example const grace = new BackpressureGrace((e) => print(e)); node.on((e) => grace.push(e))
 */
export class BackpressureGrace {
  private readonly blocked = new Map<string, { said: boolean; cancel: () => void }>()
  private readonly graceMs: number
  private readonly schedule: (callback: () => void, ms: number) => () => void

  constructor(
    private readonly emit: (event: Backpressure) => void,
    options: {
      readonly graceMs?: number
      readonly schedule?: (callback: () => void, ms: number) => () => void
    } = {},
  ) {
    this.graceMs = options.graceMs ?? BLOCKED_GRACE_MS
    this.schedule = options.schedule ?? unrefTimeout
  }

  /** Every node event: `backpressure` ones are told after the grace; a link opening or closing ends a block. */
  push(event: NodeEvent): void {
    if (event.type === 'connected' || event.type === 'disconnected') {
      this.blocked.get(event.peer.id)?.cancel()
      this.blocked.delete(event.peer.id)
      return
    }
    if (event.type !== 'backpressure') return
    const id = event.peer.id
    const block = this.blocked.get(id)
    if (!event.blocked) {
      if (!block) return
      block.cancel()
      this.blocked.delete(id)
      if (block.said) this.emit(event)
      return
    }
    if (block) return
    const started = { said: false, cancel: () => {} }
    started.cancel = this.schedule(() => {
      if (this.blocked.get(id) !== started) return
      started.said = true
      this.emit(event)
    }, this.graceMs)
    this.blocked.set(id, started)
  }

  /** Stops every timer (the node is closing). */
  close(): void {
    for (const block of this.blocked.values()) block.cancel()
    this.blocked.clear()
  }
}
