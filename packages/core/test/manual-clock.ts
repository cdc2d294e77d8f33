import type { Clock } from '../src/clock.js'

interface Timer {
  readonly at: number
  readonly order: number
  readonly callback: () => void
}

/**
 * Lets queued microtasks, and a bounded number of macrotask hops (such as in-memory dials), run before
 * the test goes on. Bounded, so a node stuck in a reconnect loop cannot hang the test.
 */
export async function flushMicrotasks(rounds = 10): Promise<void> {
  // A setImmediate callback only runs once the microtask queue is empty, however long its chains are.
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

/**
 * A clock that only moves when the test says so: `await clock.advance(ms)` fires every timer due in that
 * window in order, letting async work settle after each one, so timers scheduled by that work fire too.
 */
export class ManualClock implements Clock {
  private current: number
  private nextHandle = 1
  private readonly timers = new Map<number, Timer>()

  constructor(start = 0) {
    this.current = start
  }

  now(): number {
    return this.current
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const handle = this.nextHandle++
    this.timers.set(handle, { at: this.current + Math.max(0, ms), order: handle, callback })
    return handle
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number)
  }

  /** Not a matter of time: deferred work runs on the next turn of the real event loop, as flushMicrotasks waits for. */
  defer(callback: () => void): void {
    setImmediate(callback)
  }

  /** How many timers are scheduled and not yet fired or cleared. */
  get pendingTimers(): number {
    return this.timers.size
  }

  async advance(ms: number): Promise<void> {
    const target = this.current + ms
    await flushMicrotasks()
    for (;;) {
      const next = this.nextDue(target)
      if (!next) break
      this.timers.delete(next[0])
      this.current = next[1].at
      next[1].callback()
      await flushMicrotasks()
    }
    this.current = target
  }

  private nextDue(target: number): [number, Timer] | undefined {
    let best: [number, Timer] | undefined
    for (const entry of this.timers) {
      const timer = entry[1]
      if (timer.at > target) continue
      if (!best || timer.at < best[1].at || (timer.at === best[1].at && timer.order < best[1].order))
        best = entry
    }
    return best
  }
}
