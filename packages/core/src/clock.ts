import { platform } from './platform.js'

/** Time as the runtime sees it; tests pass a manual clock so nothing waits on real timers. */
export interface Clock {
  now(): number
  setTimeout(callback: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
  /**
   * Runs `callback` once pending I/O has had its turn (setImmediate). Optional: without it the runtime
   * uses `setTimeout(callback, 0)`.
   */
  defer?(callback: () => void): void
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => platform.setTimeout(callback, ms),
  clearTimeout: (handle) => platform.clearTimeout(handle),
  defer: (callback) => {
    if (platform.setImmediate) platform.setImmediate(callback)
    else platform.setTimeout(callback, 0)
  },
}
