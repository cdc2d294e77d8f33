/**
 * What the node makes durable and what it remembers: journal appends in call order (so a callback on
 * one runs only after every earlier one is on disk), and the recent history frontends show at start.
 */
import type { HistoryEntry, Journal, JournalRecord } from './journal.js'

/** History entries kept in memory by default. */
export const DEFAULT_HISTORY_LIMIT = 10_000

export class Persistence {
  private chain: Promise<void> = Promise.resolve()
  private readonly entries: HistoryEntry[] = []

  constructor(
    private readonly journal: Journal | undefined,
    readonly historyLimit: number,
    /** The journal failed: what is appended from now on is no longer durable. */
    private readonly failed: (message: string) => void,
  ) {}

  get durable(): boolean {
    return this.journal !== undefined
  }

  /** Appends in call order; without a journal, resolves in call order at once. */
  append(records: JournalRecord[]): Promise<void> {
    const journal = this.journal
    // Without a journal the chain never fails: callbacks on it run in the order they were added.
    if (!journal) return this.chain
    const write = journal.append(records)
    const done = this.chain.then(
      () => write,
      () => write,
    )
    this.chain = done.catch((error: unknown) => {
      this.failed(error instanceof Error ? error.message : String(error))
    })
    return done
  }

  /** Resolves once everything appended so far is durable (or failed, reported once). */
  settled(): Promise<void> {
    return this.chain
  }

  remember(entry: HistoryEntry): void {
    this.entries.push(entry)
    if (this.entries.length > this.historyLimit * 2) {
      this.entries.splice(0, this.entries.length - this.historyLimit)
    }
  }

  /** Recent messages in and out, oldest first. */
  history(): HistoryEntry[] {
    return this.entries.slice(-this.historyLimit)
  }

  /** Incoming entries a frontend had not shown (by its display marks) when the last run ended. */
  unshown(displayed: ReadonlyMap<string, number>): HistoryEntry[] {
    return this.entries.filter((e) => e.direction === 'in' && e.seq > (displayed.get(e.from.id) ?? 0))
  }
}
