import type { HistoryEntry } from '@parley/core'

/**
 * The last `count` messages of a node's history as a reader expects them, in time order across senders.
 * The history keeps messages in the order they arrived, so one sender's backlog, caught up after a
 * restart, sits in one block after everything else. Each sender's own messages keep their order (a clock
 * stepped back on its machine does not reorder them), ties going to the one that arrived first. One sort:
 * O(n log n) for a history of n entries, however many senders.
 */
export function recentHistory(history: readonly HistoryEntry[], count: number): HistoryEntry[] {
  if (count <= 0) return []
  // Each entry is placed by the newest send time of its sender so far: never lower than the entry before
  // it from the same sender, so a stable sort keeps every sender's order, and orders the senders by time.
  const newest = new Map<string, number>()
  const keys = history.map((entry) => {
    const key = Math.max(newest.get(entry.from.id) ?? Number.NEGATIVE_INFINITY, entry.ts)
    newest.set(entry.from.id, key)
    return key
  })
  const order = history.map((_, i) => i)
  order.sort((a, b) => keys[a]! - keys[b]! || a - b)
  return order.slice(-count).map((i) => history[i]!)
}
