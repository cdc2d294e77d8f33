/**
 * What the node's thread sends, taken in on the screen's thread a bounded number of events at a time. The
 * node sends a flood in batches of one socket read each, thousands of messages; handed to the screen in
 * one go they held a key for 20-35 ms. Between two slices the event loop reads the keyboard.
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
  private scheduled = false

  constructor(
    private readonly handlers: InboxHandlers,
    private readonly perTurn = EVENTS_PER_TURN,
    /** Runs the rest after the event loop has polled for input (setImmediate). */
    private readonly later: (rest: () => void) => void = (rest) => void setImmediate(rest),
  ) {}

  /** Messages still waiting, in whole or in part. */
  get waiting(): number {
    return this.queue.length
  }

  push(message: FromNode): void {
    this.queue.push(message)
    if (!this.scheduled) this.take()
  }

  private take(): void {
    let budget = this.perTurn
    while (this.queue.length > 0) {
      const message = this.queue[0]!
      if (message.type === 'events') {
        if (budget === 0 && message.events.length > 0) break
        if (this.offset === 0) this.handlers.state(message.state)
        const end = Math.min(message.events.length, this.offset + budget)
        for (let i = this.offset; i < end; i++) {
          const [event, route] = message.events[i]!
          this.handlers.event(event, route)
        }
        budget -= end - this.offset
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
    if (this.queue.length === 0) return
    this.scheduled = true
    this.later(() => {
      this.scheduled = false
      this.take()
    })
  }
}
