/**
 * What the node's thread sends, taken in on the screen's thread a bounded number of events per turn of the
 * event loop. The node sends a flood in batches of one socket read each; handed to the screen in one go
 * they held a key for 20-35 ms. A turn's budget holds across batches: Node.js hands a worker's queued
 * messages over one after another in one task, so a budget per batch let a run of small batches hold the
 * keyboard for 100 ms. Between two turns the event loop reads the keyboard.
 */
import type { NodeEvent } from '@parley/core'
import type { LinkRoute } from '@parley/launcher'
import type { FromNode, NodeState } from './protocol.js'

/** Events handed on per turn of the event loop: a few milliseconds of work on a loaded machine. */
export const EVENTS_PER_TURN = 256

export interface InboxHandlers {
  /** Everything but events, in order with them (an answer after the events sent before it). */
  message(message: Exclude<FromNode, { type: 'events' }>): void
  /** The node's state after a batch, given before its first event. */
  state(state: NodeState): void
  event(event: NodeEvent, route: LinkRoute | undefined): void
}

export class Inbox {
  private readonly queue: FromNode[] = []
  /** Events of the first queued batch already handed on. */
  private offset = 0
  /** Events handed on in this turn of the event loop. */
  private spent = 0
  /** A next turn is asked for: it starts a fresh budget and takes what is still queued. */
  private scheduled = false

  constructor(
    private readonly handlers: InboxHandlers,
    private readonly perTurn = EVENTS_PER_TURN,
    /** Runs `next` after the event loop has polled for input (setImmediate). */
    private readonly later: (next: () => void) => void = (next) => void setImmediate(next),
  ) {}

  /** Messages still waiting, in whole or in part. */
  get waiting(): number {
    return this.queue.length
  }

  push(message: FromNode): void {
    this.queue.push(message)
    this.take()
  }

  private take(): void {
    const before = this.spent
    while (this.queue.length > 0) {
      const message = this.queue[0]!
      if (message.type === 'events') {
        const budget = this.perTurn - this.spent
        if (budget <= 0 && message.events.length > 0) break
        if (this.offset === 0) this.handlers.state(message.state)
        const end = Math.min(message.events.length, this.offset + budget)
        for (let i = this.offset; i < end; i++) {
          const [event, route] = message.events[i]!
          this.handlers.event(event, route)
        }
        this.spent += end - this.offset
        if (end < message.events.length) {
          this.offset = end
          break
        }
        this.offset = 0
      } else {
        this.handlers.message(message)
      }
      this.queue.shift()
    }
    // Events handed on in this turn count against it until the next one, which takes what is left.
    if (this.scheduled || (this.spent === before && this.queue.length === 0)) return
    this.scheduled = true
    this.later(() => {
      this.scheduled = false
      this.spent = 0
      this.take()
    })
  }
}
