import type { HistoryEntry } from '@parley/core'

/**
 * The last `count` messages of a node's history as a reader expects them, in time order across senders.
 * The history keeps messages in the order they arrived, so one sender's backlog, caught up after a
 * restart, sits in one block after everything else. Each sender's own messages keep their order (a clock
 * stepped back on its machine does not reorder them): the senders' runs are merged by timestamp, ties
 * going to the one that arrived first.
 */
export function recentHistory(history: readonly HistoryEntry[], count: number): HistoryEntry[] {
  if (count <= 0) return []
  const bySender = new Map<string, number[]>()
  history.forEach((entry, i) => {
    const own = bySender.get(entry.from.id)
    if (own) own.push(i)
    else bySender.set(entry.from.id, [i])
  })
  const runs = [...bySender.values()]
  const next = runs.map(() => 0)
  const merged: HistoryEntry[] = []
  for (;;) {
    let best = -1
    let bestTs = 0
    let bestAt = 0
    for (let r = 0; r < runs.length; r++) {
      const at = runs[r]![next[r]!]
      if (at === undefined) continue
      const ts = history[at]!.ts
      if (best < 0 || ts < bestTs || (ts === bestTs && at < bestAt)) {
        best = r
        bestTs = ts
        bestAt = at
      }
    }
    if (best < 0) break
    merged.push(history[bestAt]!)
    next[best]! += 1
  }
  return merged.slice(-count)
}
