import type { HistoryEntry } from '@parley/core'

/** A line of history as it is shown: one message, or the parts of a line sent in parts (`more`), in order. */
export type HistoryLine = readonly [HistoryEntry, ...HistoryEntry[]]

/**
 * The last `count` lines of a node's history as a reader expects them, in time order across senders.
 * The history keeps messages in the order they arrived, so one sender's backlog, caught up after a
 * restart, sits in one block after everything else. A line is placed by the time its sender says it wrote
 * it, but never later than it arrived (`at`, this node's clock, where the entry has it): a backlog goes back
 * in time, while a member dating its lines ahead cannot keep them below the lines others write after
 * them. An entry without `at` (our own, or kept by an earlier release) is placed by its send time. Each
 * sender's own lines keep their order (a clock stepped back on its machine does not reorder them), ties
 * going to the one that arrived first. A line sent
 * in parts is one line, whatever arrived between its parts: a part is joined to the part before it when
 * that one said the line goes on (`more`) and both are the same sender's, one seq apart; else the line
 * ends where its next part is missing. One sort: O(n log n) for a history of n entries, however many senders.
 */
export function recentHistory(history: readonly HistoryEntry[], count: number): HistoryLine[] {
  if (count <= 0) return []
  const placement = new TimePlacement()
  // Each sender's line whose last part goes on, by direction and sender.
  const open = new Map<string, HistoryEntry[]>()
  const lines: HistoryEntry[][] = []
  const keys: number[] = []
  for (const entry of history) {
    const key = placement.place(entry.from.id, entry.ts, entry.at)
    const sender = `${entry.direction} ${entry.from.id}`
    let line = open.get(sender)
    if (line === undefined || (line.at(-1) as HistoryEntry).seq + 1 !== entry.seq) {
      line = [entry]
      lines.push(line)
      keys.push(key)
    } else line.push(entry)
    if (entry.more) open.set(sender, line)
    else open.delete(sender)
  }
  const order = lines.map((_, i) => i)
  order.sort((a, b) => keys[a]! - keys[b]! || a - b)
  return order.slice(-count).map((i) => lines[i] as unknown as HistoryLine)
}

/**
 * Where received lines go in time order across senders, taken in the order they arrived: at the time the
 * sender gives, but never later than the line reached this node (`at`), nor earlier than the sender's line
 * before it. A stable sort by these keys keeps every sender's own order and orders the senders by time;
 * the history (`recentHistory`) and a catch-up on the screen are both put in order this way.
 */
export class TimePlacement {
  private readonly newest = new Map<string, number>()

  /** The key of `sender`'s next line, sent at `ts` (its clock) and received at `at` (ours) when known. */
  place(sender: string, ts: number, at?: number): number {
    const placed = at !== undefined && at < ts ? at : ts
    const key = Math.max(this.newest.get(sender) ?? Number.NEGATIVE_INFINITY, placed)
    this.newest.set(sender, key)
    return key
  }
}
