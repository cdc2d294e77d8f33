import type { Pair } from './pair.js'
import { BODY, REPLY } from './shape.js'

export class StallError extends Error {
  override name = 'StallError'
}

/**
 * Sends `count` messages from a to b, keeping at most `window` unacknowledged: whenever half the window
 * is acknowledged, the other half is sent in one burst (as a pasted block of lines would be).
 * @returns milliseconds from the first send to the last acknowledgement
 */
export function flood(pair: Pair, count: number, window: number, stallMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let sent = 0
    let acked = 0
    let start = 0
    const refillAt = Math.max(0, Math.floor(window / 2))
    const refill = () => {
      const target = Math.min(count, acked + window)
      while (sent < target) {
        pair.send('a', BODY)
        sent++
      }
    }
    const watchdog = new Stall(stallMs, () => `flood stalled at ${acked} of ${count} acknowledged`, reject)
    pair.setHandlers({
      received() {},
      acknowledged(from, n) {
        if (from !== 'a') return
        acked += n
        watchdog.progress()
        if (acked >= count) {
          const ms = performance.now() - start
          watchdog.stop()
          resolve(ms)
        } else if (sent - acked <= refillAt) refill()
      },
    })
    start = performance.now()
    refill()
  })
}

/**
 * `count` application-level round trips, one at a time: a sends a message, b replies to it as soon as it
 * arrives, and the sample is the time until the reply arrives at a. Stops early after `budgetMs`.
 * @returns the round-trip times in microseconds
 */
export function pingPong(pair: Pair, count: number, budgetMs: number, stallMs: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const samples: number[] = []
    let sentAt = 0
    const deadline = performance.now() + budgetMs
    const watchdog = new Stall(stallMs, () => `ping-pong stalled after ${samples.length} round trips`, reject)
    const ping = () => {
      sentAt = performance.now()
      pair.send('a', BODY)
    }
    pair.setHandlers({
      received(at) {
        if (at === 'b') {
          pair.send('b', REPLY)
          return
        }
        const now = performance.now()
        samples.push((now - sentAt) * 1000)
        watchdog.progress()
        if (samples.length >= count || now > deadline) {
          watchdog.stop()
          resolve(samples)
        } else ping()
      },
      acknowledged() {},
    })
    ping()
  })
}

/** Rejects when no progress was made for `ms`, so a lost message fails the bench instead of hanging it. */
class Stall {
  private timer: NodeJS.Timeout
  private moved = false

  constructor(ms: number, describe: () => string, reject: (error: Error) => void) {
    this.timer = setInterval(() => {
      if (!this.moved) {
        this.stop()
        reject(new StallError(describe()))
      }
      this.moved = false
    }, ms)
  }

  progress(): void {
    this.moved = true
  }

  stop(): void {
    clearInterval(this.timer)
  }
}
