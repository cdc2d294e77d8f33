/**
 * Compaction while the node runs: the journal's records are counted as they are appended, and once the
 * file has grown well past what must be kept, it is compacted the way a start-up reads it
 * (`JournalStartup`: each frame replayed, only the frames the state rests on read again in full) and
 * written over in one atomic rewrite. Appends go on meanwhile: they follow the rewritten records.
 *
 * Where the store says where each append's frame went, and where a rewrite put the journal, each frame is
 * replayed as its append lands, so a compaction reads back only the frames it keeps; otherwise it reads
 * the whole file back. A file that held records when the node started is read back once, by the first
 * compaction, which replays from then on. Either way no record is kept in memory between compactions,
 * only which records the state rests on, so a busy node's messages die young, and a compaction holds
 * about what it keeps, not the whole journal.
 */
import { systemClock } from './clock.js'
import type { JournalLayout, JournalRecord, JournalRewrite } from './journal.js'
import { skimRecord } from './journal-skim.js'
import { JournalStartup } from './journal-startup.js'
import type { PeerInfo } from './peer-machine.js'

/** What one compaction did, for a one-line report; the bytes are those on disk. */
export interface CompactionReport {
  readonly records: number
  readonly keptRecords: number
  readonly bytes: number
  readonly keptBytes: number
}

/** The journal is compacted once it is this many times its size after the last compaction. */
export const COMPACT_GROWTH = 4

/**
 * How far past twice the history's messages the journal grows before a compaction is tried, as a share of
 * the history: just past it, what is kept beside the history (the outbox, windows, peer records) made most
 * tries fail to halve it.
 */
const HALVING_MARGIN = 0.1

export interface OnlineCompactionOptions {
  readonly self: PeerInfo
  readonly historyLimit: number
  readonly windowSize: number
  readonly compacted: (report: CompactionReport) => void
  readonly failed: (message: string) => void
  /** Resolves when other work has had its turn; by default once pending I/O ran (setImmediate). */
  readonly nextTurn?: () => Promise<void>
}

/** Records handed to the journal, and its append (see `OnlineCompaction.appended`). */
interface Appended {
  readonly records: readonly JournalRecord[]
  readonly written: Promise<unknown> | undefined
}

/** A replay of the journal file from its start, fed each append's records once it landed, in order. */
interface Follower {
  readonly startup: JournalStartup<unknown>
  /** Appends handed over, and those of them that landed or failed since. */
  handed: number
  settled: number
  /** Called once `settled` reaches `handed`. */
  idle?: () => void
  /**
   * An append failed, gave no place or landed out of order: the replay no longer matches the file, and
   * the next compaction reads the file back.
   */
  broken: boolean
}

export class OnlineCompaction {
  /** Records the journal holds, as counted from the appends and the last rewrite. */
  private recordCount: number
  /** The `sent` and `received` records among them: the history alone keeps up to `historyLimit` of them. */
  private messages: number
  /** The lines those messages carry (`msg.lines`, else one each): the history keeps `historyLimit` lines. */
  private lines: number
  private running = false
  /** Bytes past which the next compaction is tried. */
  private nextAt: number
  /** The file replayed as it is appended, while that is known to match it (see the class comment). */
  private live: Follower | undefined
  /** Appends made since a rewrite was called, until it settles: they land in the new file (or move to it). */
  private afterRewrite: Appended[] | undefined
  /**
   * Appends made while a compaction runs, in order: those made before its rewrite is called follow the
   * kept records in it, and if it ends without a rewrite, its replay goes on from all of them.
   */
  private during: Appended[] | undefined

  constructor(
    private readonly target: JournalRewrite,
    private readonly options: OnlineCompactionOptions,
  ) {
    // Read once: the start-up records are not kept for the life of the node.
    const records = target.records
    this.recordCount = records.length
    this.messages = countMessages(records)
    this.lines = countLines(records)
    this.nextAt = Math.max(target.minBytes, COMPACT_GROWTH * target.size())
    if (target.fresh && records.length === 0) this.live = this.follower()
    if (target.compactedFrom !== undefined) {
      this.running = true
      void this.writeCompacted(records, target.compactedFrom).finally(() => {
        this.running = false
      })
    }
  }

  /** Records the journal holds now, as counted (fewer once compacted). */
  get held(): number {
    return this.recordCount
  }

  /** Records kept in memory now: none between compactions, those appended meanwhile during one. */
  get holding(): number {
    let records = 0
    for (const appended of this.during ?? []) records += appended.records.length
    return records
  }

  /** Whether a compaction is under way. */
  get busy(): boolean {
    return this.running
  }

  /**
   * `records` were just handed to the journal (`written`: its append): count them, and compact if the
   * journal grew enough.
   */
  appended(records: readonly JournalRecord[], written?: Promise<unknown>): void {
    this.recordCount += records.length
    for (const record of records) {
      if (record.t !== 'sent' && record.t !== 'received') continue
      this.messages++
      this.lines += record.msg.lines ?? 1
    }
    if (this.afterRewrite) this.afterRewrite.push({ records, written })
    if (this.during) this.during.push({ records, written })
    else if (this.live) follow(this.live, records, written)
    if (!this.running && this.target.size() > this.nextAt && this.mayHalve()) void this.compact()
  }

  /**
   * Whether a compaction could keep at most half the records, as a rewrite requires: it keeps at least the
   * history, `historyLimit` of the messages (fewer only if some were never accepted), and the outbox, the
   * windows and the peer records on top. Until then reading and replaying the journal would be work thrown
   * away (and the next try would wait for the journal to double); meanwhile it grows by about the history.
   */
  private mayHalve(): boolean {
    // The history holds `historyLimit` lines: as many messages, or fewer where messages carry many lines.
    const limit = this.options.historyLimit
    const spread = this.lines <= limit ? this.messages : Math.ceil((this.messages * limit) / this.lines) + 1
    const history = Math.min(limit, this.messages, spread)
    return 2 * history + Math.ceil(history * HALVING_MARGIN) <= this.recordCount
  }

  /**
   * Compacts now unless a compaction is under way; resolves once it is done (or was skipped or failed,
   * which is reported through `failed`). Never rejects. The work is done in steps with other work between
   * them, so that the node keeps delivering meanwhile.
   */
  compact(): Promise<void> {
    if (this.running) return Promise.resolve()
    this.running = true
    return this.run().finally(() => {
      this.running = false
    })
  }

  private async run(): Promise<void> {
    // The replay is the file as it was when this began (the one kept, or the one a read back makes):
    // appends from here on are held beside it, and given to it after all if the file is not rewritten
    // (not worth it yet, or the rewrite failed).
    const replay: { of?: Follower } = { of: this.live?.broken === false ? this.live : undefined }
    this.live = undefined
    const during: Appended[] = []
    this.during = during
    let rewritten = false
    try {
      rewritten = await this.compactWith(replay, during)
    } finally {
      this.during = undefined
      const live = replay.of
      if (live && !rewritten && !live.broken) {
        for (const { records, written } of during) follow(live, records, written)
        this.live = live
      }
    }
  }

  /**
   * One compaction, with the replay kept (`replay.of`) or one made by reading the file back (then left in
   * `replay.of`); `during`: the appends made since it began. True once the file was rewritten.
   */
  private async compactWith(replay: { of?: Follower }, during: readonly Appended[]): Promise<boolean> {
    const live = replay.of
    const nextTurn = this.options.nextTurn ?? defaultNextTurn
    const bytes = this.target.size()
    const diskBytes = this.diskSize()
    let kept: JournalRecord[] | undefined
    let count = 0
    try {
      // The property tests prove that the kept records restore what the whole journal does.
      let startup: JournalStartup<unknown>
      if (live) {
        await replayed(live)
        // An append that failed leaves the journal failed as well: nothing to compact.
        if (live.broken) return false
        startup = live.startup
      } else {
        const read = this.follower()
        startup = read.startup
        await this.target.scan((records, frame) => startup.add(records, frame))
        replay.of = read
      }
      await nextTurn()
      const start = await startup.finish((frames) => this.target.load(frames), nextTurn)
      await nextTurn()
      // Undefined for a journal holding records this version does not know: it is left whole.
      kept = start?.records
      count = start?.total ?? 0
    } catch (error) {
      this.nextAt = Math.max(this.target.minBytes, 2 * bytes)
      this.options.failed(`journal compaction skipped: ${messageOf(error)}`)
      return false
    }
    if (!kept || kept.length * 2 > count) {
      // Not worth a rewrite yet (most records are still needed): try again once the journal doubles.
      this.nextAt = Math.max(this.target.minBytes, 2 * bytes)
      return false
    }
    // What was appended while the steps ran is in the journal too: it follows the kept records.
    const next = kept.concat(during.flatMap((appended) => appended.records))
    const written = next.length
    const before = this.recordCount
    // What the file holds now, the appends made during the steps included once they are flushed.
    const replaced = Math.max(diskBytes, this.diskSize())
    const messagesBefore = this.messages
    const messagesNext = countMessages(next)
    const linesBefore = this.lines
    const linesNext = countLines(next)
    this.lines = linesNext
    this.recordCount = written
    this.messages = messagesNext
    try {
      await this.rewrite(next)
    } catch (error) {
      // The old journal is still the one on disk, with what was appended since: count it again.
      this.recordCount += before - written
      this.messages += messagesBefore - messagesNext
      this.lines += linesBefore - linesNext
      this.nextAt = Math.max(this.target.minBytes, 2 * bytes)
      this.options.failed(`journal compaction failed, the journal is unchanged: ${messageOf(error)}`)
      return false
    }
    // The next one is due at 4 times what this one kept, not counting what was appended while it read the
    // journal: on a busy node that can be more than was kept, and would let the journal grow far past it.
    const keptShare = kept.length / Math.max(1, this.recordCount)
    this.nextAt = Math.max(this.target.minBytes, COMPACT_GROWTH * this.target.size() * keptShare)
    this.options.compacted({
      records: before,
      keptRecords: written,
      bytes: replaced,
      keptBytes: this.diskSize(),
    })
    return true
  }

  /**
   * Writes the journal, compacted at start-up from a file of `fileRecords` records, over the file. Called at
   * once: the rewrite counts the disk quotas from the kept records as it is called, so no member is measured
   * by what the file held before; the file is written in the background, appends going on meanwhile.
   */
  private async writeCompacted(records: readonly JournalRecord[], fileRecords: number): Promise<void> {
    const bytes = this.target.size()
    const diskBytes = this.diskSize()
    const written = records.length
    try {
      await this.rewrite(records)
    } catch (error) {
      // The file still holds all it held, and what was appended since: it restores what was counted.
      this.recordCount += fileRecords - written
      this.nextAt = Math.max(this.target.minBytes, 2 * bytes)
      this.options.failed(`journal compaction failed, the journal is unchanged: ${messageOf(error)}`)
      return
    }
    this.nextAt = Math.max(this.target.minBytes, COMPACT_GROWTH * this.target.size())
    this.options.compacted({
      records: fileRecords,
      keptRecords: written,
      bytes: diskBytes,
      keptBytes: this.diskSize(),
    })
  }

  /**
   * Rewrites the journal with `records` and, where the store says where it put them, replays the new file
   * from them and the appends made meanwhile, so the next compaction need not read it back.
   */
  private async rewrite(records: readonly JournalRecord[]): Promise<void> {
    const after: NonNullable<OnlineCompaction['afterRewrite']> = []
    this.afterRewrite = after
    let layout: JournalLayout | undefined
    try {
      layout = await this.target.rewrite(records)
    } finally {
      this.afterRewrite = undefined
    }
    if (!layout) return
    const live = this.follower()
    let index = 0
    try {
      for (const { records: count, frame } of layout.frames) {
        live.startup.add(records.slice(index, index + count).map(skimRecord), frame)
        index += count
      }
    } catch {
      return
    }
    if (index !== records.length) return
    for (const { records, written } of after) follow(live, records, written, layout.moved)
    this.live = live
  }

  private follower(): Follower {
    const { self, historyLimit, windowSize } = this.options
    const startup = new JournalStartup<unknown>(self, historyLimit, windowSize)
    return { startup, handed: 0, settled: 0, broken: false }
  }

  private diskSize(): number {
    return this.target.diskSize?.() ?? this.target.size()
  }
}

/**
 * Replays `records` in `live` once their append (`written`) lands. Appends land in the order they were
 * made; one that lands out of order, fails, or gives no place breaks the replay. `moved`: where a rewrite
 * moved frames.
 */
function follow(
  live: Follower,
  records: readonly JournalRecord[],
  written: Promise<unknown> | undefined,
  moved?: ReadonlyMap<unknown, unknown>,
): void {
  if (records.length === 0 || live.broken) return
  if (!written) {
    live.broken = true
    return
  }
  const turn = live.handed++
  const settle = () => {
    if (++live.settled === live.handed) live.idle?.()
  }
  written.then(
    (frame) => {
      if (live.broken) return settle()
      if (frame === undefined || turn !== live.settled) live.broken = true
      else {
        try {
          // As a read back would see them: the messages themselves die young.
          live.startup.add(records.map(skimRecord), moved?.get(frame) ?? frame)
        } catch {
          live.broken = true
        }
      }
      settle()
    },
    () => {
      live.broken = true
      settle()
    },
  )
}

/** Resolves once every append handed to `live` so far has landed (or failed). */
function replayed(live: Follower): Promise<void> {
  if (live.settled === live.handed) return Promise.resolve()
  return new Promise((resolve) => {
    live.idle = () => {
      live.idle = undefined
      resolve()
    }
  })
}

function countLines(records: readonly JournalRecord[]): number {
  let count = 0
  for (const record of records)
    if (record.t === 'sent' || record.t === 'received') count += record.msg.lines ?? 1
  return count
}

function countMessages(records: readonly JournalRecord[]): number {
  let count = 0
  for (const record of records) if (record.t === 'sent' || record.t === 'received') count++
  return count
}

/** Lets pending I/O and timers run first: a macrotask, not a microtask. */
function defaultNextTurn(): Promise<void> {
  return new Promise((resolve) => {
    if (systemClock.defer) systemClock.defer(resolve)
    else systemClock.setTimeout(resolve, 0)
  })
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
