/**
 * One node's process stopped and resumed (SIGSTOP and SIGCONT, a laptop lid closed and opened) while the
 * rest of the world goes on: its timers and what its links deliver wait while it is frozen, the clock it
 * reads does not, and on waking it runs them all at once, timers first or what its links brought first
 * (an event loop woken inside its poll reads before it runs timers).
 */
import type { Clock } from '../src/clock.js'
import type { Link, LinkHandlers, Listener, Transport } from '../src/transport.js'
import { flushMicrotasks, type ManualClock } from './manual-clock.js'

interface HeldTimer {
  readonly at: number
  readonly order: number
  readonly callback: () => void
}

interface Handle {
  inner: unknown
}

export type WakeOrder = 'timers first' | 'links first'

export class FrozenProcess {
  private timersHeld = false
  private linksHeld = false
  private order = 0
  private readonly heldTimers = new Map<Handle, HeldTimer>()
  private readonly heldLinkEvents: (() => void)[] = []

  constructor(private readonly world: ManualClock) {}

  /** The clock the node reads: the world's time, with timers that wait while it is frozen. */
  readonly clock: Clock = {
    now: () => this.world.now(),
    setTimeout: (callback, ms) => {
      const handle: Handle = { inner: undefined }
      const at = this.world.now() + Math.max(0, ms)
      const order = this.order++
      handle.inner = this.world.setTimeout(() => {
        if (this.timersHeld) this.heldTimers.set(handle, { at, order, callback })
        else callback()
      }, ms)
      return handle
    },
    clearTimeout: (handle) => {
      this.world.clearTimeout((handle as Handle).inner)
      this.heldTimers.delete(handle as Handle)
    },
    defer: (callback) => this.world.defer(() => this.whenLinksFlow(callback)),
  }

  /** `transport` as the node sees it: what its links and listener bring waits while it is frozen. */
  transport(transport: Transport): Transport {
    return {
      createListener: (onLink): Listener =>
        transport.createListener((link) => this.whenLinksFlow(() => onLink(this.link(link)))),
      dial: async (address, options) => {
        const link = await transport.dial(address, options)
        await new Promise<void>((resolve) => this.whenLinksFlow(resolve))
        return this.link(link)
      },
    }
  }

  freeze(): void {
    this.timersHeld = true
    this.linksHeld = true
  }

  /** Wakes the process: it runs the timers that came due meanwhile and reads what its links brought. */
  async thaw(order: WakeOrder): Promise<void> {
    if (order === 'timers first') {
      await this.runTimers()
      await this.readLinks()
    } else {
      await this.readLinks()
      await this.runTimers()
    }
  }

  private async runTimers(): Promise<void> {
    this.timersHeld = false
    const due = [...this.heldTimers.values()].sort((a, b) => a.at - b.at || a.order - b.order)
    this.heldTimers.clear()
    for (const timer of due) timer.callback()
    await flushMicrotasks()
  }

  private async readLinks(): Promise<void> {
    this.linksHeld = false
    for (const event of this.heldLinkEvents.splice(0)) event()
    await flushMicrotasks()
  }

  private whenLinksFlow(event: () => void): void {
    if (this.linksHeld) this.heldLinkEvents.push(event)
    else event()
  }

  private link(link: Link): Link {
    const attach = (handlers: LinkHandlers) =>
      link.attach({
        data: (chunk) => this.whenLinksFlow(() => handlers.data(chunk)),
        drain: () => this.whenLinksFlow(() => handlers.drain()),
        close: (error) => this.whenLinksFlow(() => handlers.close(error)),
      })
    return {
      direction: link.direction,
      remoteAddress: link.remoteAddress,
      localAddress: link.localAddress,
      ...(link.source === undefined ? {} : { source: link.source }),
      ...(link.remoteKey === undefined ? {} : { remoteKey: link.remoteKey }),
      attach,
      write: (chunk) => link.write(chunk),
      pause: () => link.pause(),
      resume: () => link.resume(),
      end: () => link.end(),
      destroy: () => link.destroy(),
    }
  }
}
