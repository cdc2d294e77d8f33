import type { Clock } from './clock.js'
import type { NodeEvent } from './node-types.js'

/**
 * Resolves once `pending()` reaches 0 after a delivery, or when the node closes, or after `timeoutMs`,
 * with what is still pending then.
 */
export function waitForDelivery(
  pending: () => number,
  on: (listener: (event: NodeEvent) => void) => () => void,
  clock: Clock,
  timeoutMs: number,
): Promise<number> {
  if (pending() === 0) return Promise.resolve(0)
  return new Promise((resolve) => {
    const finish = () => {
      off()
      clock.clearTimeout(timer)
      resolve(pending())
    }
    const off = on((event) => {
      // The outbox can empty without a `delivered` of its own (`settled` says when it shrinks).
      if (
        ((event.type === 'delivered' || event.type === 'settled') && pending() === 0) ||
        event.type === 'closed'
      )
        finish()
    })
    const timer = clock.setTimeout(finish, timeoutMs)
  })
}
