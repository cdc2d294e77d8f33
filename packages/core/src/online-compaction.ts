/**
 * Compaction while the node runs: the journal's records are mirrored in memory as they are appended, and
 * once the file has grown well past what must be kept, the mirror is compacted (`compactJournal`, which
 * proves that the result restores the same state) and written over the file in one atomic rewrite. The
 * file is never read back, and appends go on meanwhile: they follow the rewritten records.
 */
import type { JournalRecord } from './journal.js'
import { compactJournal } from './journal-compact.js'
import type { PeerInfo } from './peer-machine.js'

/** What a store offers for online compaction (for example `AppendLog` of `@parley/store`). */
export interface JournalRewrite {
  /** Every record the journal holds when the node starts, in order (after any start-up compaction). */
  readonly records: readonly JournalRecord[]
  /** Bytes the journal takes on disk now. */
  size(): number
  /**
   * Replaces the whole journal with `records`, atomically: a crash leaves the old journal or the new one.
   * Appends made after the call must follow the new records; if it fails, the old journal stays in use.
   */
  rewrite(records: readonly JournalRecord[]): Promise<void>
  /** Never compacts a journal smaller than this. */
  readonly minBytes: number
}

/** What one compaction did, for a one-line report. */
export interface CompactionReport {
  readonly records: number
  readonly keptRecords: number
  readonly bytes: number
  readonly keptBytes: number
}

/** The journal is compacted once it is this many times its size after the last compaction. */
export const COMPACT_GROWTH = 4

export interface OnlineCompactionOptions {
  readonly self: PeerInfo
  readonly historyLimit: number
  readonly windowSize: number
  readonly compacted: (report: CompactionReport) => void
  readonly failed: (message: string) => void
}

export class OnlineCompaction {
  /** The journal's records as on disk, in order; the compacted ones once a rewrite is under way. */
  private records: JournalRecord[]
  private running = false
  /** Bytes past which the next compaction is tried. */
  private nextAt: number

  constructor(
    private readonly target: JournalRewrite,
    private readonly options: OnlineCompactionOptions,
  ) {
    this.records = [...target.records]
    this.nextAt = Math.max(target.minBytes, COMPACT_GROWTH * target.size())
  }

  /** Records held in memory now (the journal's, or fewer once compacted). */
  get held(): number {
    return this.records.length
  }

  /** Whether a rewrite is under way. */
  get busy(): boolean {
    return this.running
  }

  /** `records` were just handed to the journal: mirror them, and compact if the journal grew enough. */
  appended(records: readonly JournalRecord[]): void {
    for (const record of records) this.records.push(record)
    if (!this.running && this.target.size() > this.nextAt) this.compact()
  }

  /**
   * Compacts now unless a rewrite is under way; resolves once the rewrite is done (or was skipped or
   * failed, which is reported through `failed`). Never throws.
   */
  compact(): Promise<void> {
    if (this.running) return Promise.resolve()
    const { self, historyLimit, windowSize } = this.options
    const bytes = this.target.size()
    const whole = this.records
    let kept: JournalRecord[] | undefined
    try {
      kept = compactJournal(whole, self, historyLimit, windowSize)
    } catch (error) {
      kept = undefined
      this.options.failed(`journal compaction skipped: ${messageOf(error)}`)
    }
    if (!kept || kept.length * 2 > whole.length) {
      // Not worth a rewrite yet (most records are still needed): try again once the journal doubles.
      this.nextAt = Math.max(this.target.minBytes, 2 * bytes)
      return Promise.resolve()
    }
    const keptCount = kept.length
    // Appends from now on follow the kept records, on disk and here.
    this.records = kept
    this.running = true
    let rewrite: Promise<void>
    try {
      rewrite = this.target.rewrite(kept.slice())
    } catch (error) {
      rewrite = Promise.reject(error)
    }
    return rewrite.then(
      () => {
        this.running = false
        const keptBytes = this.target.size()
        this.nextAt = Math.max(this.target.minBytes, COMPACT_GROWTH * keptBytes)
        this.options.compacted({ records: whole.length, keptRecords: keptCount, bytes, keptBytes })
      },
      (error: unknown) => {
        this.running = false
        // The old journal is still the one on disk, with what was appended since: mirror it again.
        this.records = whole.concat(this.records.slice(keptCount))
        this.nextAt = Math.max(this.target.minBytes, 2 * bytes)
        this.options.failed(`journal compaction failed, the journal is unchanged: ${messageOf(error)}`)
      },
    )
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
