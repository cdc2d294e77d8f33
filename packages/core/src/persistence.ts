/**
 * What the node makes durable and what it remembers: journal appends in call order (so a callback on
 * one runs only after every earlier one is on disk), the recent history frontends show at start, and
 * how much of the disk other members may fill.
 */
import type { HistoryEntry, Journal, JournalRecord } from './journal.js'
import { type RoomEffect, refuse } from './room-types.js'

/** History entries kept in memory by default. */
export const DEFAULT_HISTORY_LIMIT = 10_000

/** Journal bytes kept for other members: for each one, and for all of them together. */
export interface JournalQuota {
  readonly perOrigin: number
  readonly total: number
}

/**
 * 32 MiB per member is about 100,000 chat lines or 3,000 messages of the longest kind; 256 MiB holds
 * eight members that full. The node's own messages are never counted.
 */
export const DEFAULT_JOURNAL_QUOTA: JournalQuota = { perOrigin: 32 * 1024 * 1024, total: 256 * 1024 * 1024 }

export class Persistence {
  private chain: Promise<void> = Promise.resolve()
  private readonly entries: HistoryEntry[] = []
  private readonly quota: JournalQuota

  constructor(
    private readonly journal: Journal | undefined,
    readonly historyLimit: number,
    /** The journal failed: what is appended from now on is no longer durable. */
    private readonly failed: (message: string) => void,
    quota: Partial<JournalQuota> = {},
  ) {
    this.quota = { ...DEFAULT_JOURNAL_QUOTA, ...quota }
  }

  /**
   * Whether a message of `origin` that neighbour `neighbor` sent must be turned away because the journal
   * already holds the quota of that origin, or of all other members. Checked before the room takes the
   * message, so it is never stored, shown or acknowledged. A neighbour that sent its own message past its
   * quota is refused (`OVER_QUOTA` in `effects`: its link closes); a relayed one is only dropped, so an
   * honest relay is not cut off for what another member sent through it.
   */
  overQuota(neighbor: string, origin: string, effects: RoomEffect[]): boolean {
    const usage = this.journal?.usage
    if (!usage) return false
    const held = usage.bytesOf(origin)
    let why: string | undefined
    if (held >= this.quota.perOrigin) {
      why = `its messages fill its share of this node's disk (${mib(held)} of ${mib(this.quota.perOrigin)})`
    } else if (usage.total >= this.quota.total) {
      why = `other members' messages fill this node's disk quota (${mib(usage.total)} of ${mib(this.quota.total)})`
    }
    if (why === undefined) return false
    if (origin === neighbor) effects.push(refuse({ neighbor, code: 'OVER_QUOTA', message: why }))
    return true
  }

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

function mib(bytes: number): string {
  return `${(bytes / 1_048_576).toFixed(1)} MiB`
}
