/**
 * What the node makes durable and what it remembers: journal appends in call order (so a callback on
 * one runs only after every earlier one is on disk), the recent history frontends show at start, and
 * how much of the disk other members may fill.
 */
import type { Clock } from './clock.js'
import { HistoryRing } from './history-ring.js'
import type { HistoryEntry, Journal, JournalRecord } from './journal.js'
import { type CompactionReport, OnlineCompaction } from './online-compaction.js'
import type { PeerInfo } from './peer-machine.js'
import { type RoomEffect, refuse } from './room-types.js'
import type { Msg } from './schema.js'

/** History entries kept in memory by default. */
export const DEFAULT_HISTORY_LIMIT = 10_000

/**
 * Bytes of text (ids and bodies, as UTF-8) the in-memory history keeps at most, whatever its entry limit:
 * 10,000 entries of the longest messages held 100-200 MB while a member flooded them (the journal keeps
 * them all).
 */
export const HISTORY_TEXT_BYTES = 16 * 1024 * 1024

/** Journal bytes kept for other members: for each one, and for all of them together. */
export interface JournalQuota {
  readonly perOrigin: number
  readonly total: number
}

/**
 * 256 MiB per member is about 800,000 chat lines or 25,000 messages of the longest kind, so a file an
 * honest neighbour pipes in fits; 2 GiB holds eight members that full. A journal that can be compacted
 * while the node runs (`Journal.compaction`) is counted again after each compaction, so the count follows
 * what is kept of a member, not all it ever sent. The node's own are never counted.
 */
export const DEFAULT_JOURNAL_QUOTA: JournalQuota = { perOrigin: 256 * 1024 * 1024, total: 2048 * 1024 * 1024 }

/** Online compaction (see `Journal.compaction`): what it needs besides the journal, and whom it tells. */
export interface PersistenceCompaction {
  readonly self: PeerInfo
  readonly windowSize: number
  readonly compacted: (report: CompactionReport) => void
  readonly failed: (message: string) => void
}

/**
 * How long a record that may wait (`appendLater`) waits for another append to ride along with before it
 * is appended on its own. In a flood the next burst of our messages carries it within a few milliseconds
 * (composing and sealing a 1,000-message window took about 5 ms); alone, it started a disk flush of its
 * own, which the next burst then had to wait behind. Short, so that a node killed right after its messages
 * were delivered rarely finds them in its outbox again at the next start (they would go out again, and
 * the peer would drop them as copies).
 */
export const DEFERRED_RECORD_MS = 25

export class Persistence {
  private chain: Promise<void> = Promise.resolve()
  /** Records waiting to go with the next append, by key: a later one under the same key replaces it. */
  private readonly deferred = new Map<string, JournalRecord>()
  private deferTimer: unknown
  private closed = false
  /** The journal failed: told once, since nothing appended after it is durable either. */
  private broken = false
  /** The recent history, for `history` and `unshown`; none with a limit under 1. */
  private readonly recent?: HistoryRing
  private readonly quota: JournalQuota
  /**
   * Bytes of messages let through this turn, not journaled yet: a read hands the room many messages
   * before their records are appended, and each must count against the quota as it is let in.
   */
  private readonly admitted = new Map<string, number>()
  private admittedTotal = 0
  /** Set when the journal can be compacted while the node runs. */
  private readonly compaction?: OnlineCompaction

  constructor(
    private readonly journal: Journal | undefined,
    readonly historyLimit: number,
    /** The journal failed (called once, for the first failure): what is appended from now on is no longer durable. */
    private readonly failed: (message: string) => void,
    quota: Partial<JournalQuota> = {},
    compaction?: PersistenceCompaction,
    /** Paces `appendLater`; without it such records are appended at once. */
    private readonly clock?: Clock,
  ) {
    this.quota = { ...DEFAULT_JOURNAL_QUOTA, ...quota }
    if (historyLimit >= 1) this.recent = new HistoryRing(Math.floor(historyLimit), HISTORY_TEXT_BYTES)
    const rewrite = journal?.compaction
    if (rewrite && compaction)
      this.compaction = new OnlineCompaction(rewrite, { ...compaction, historyLimit })
  }

  /** Compacts the journal now, if it can be compacted while the node runs; resolves once done (never rejects). */
  compactJournal(): Promise<void> {
    return this.compaction?.compact() ?? Promise.resolve()
  }

  /**
   * Whether a message that neighbour `neighbor` sent must be turned away because the journal already
   * holds the quota of its origin, or of all other members. Checked before the room takes the message,
   * so it is never stored, shown or acknowledged. A neighbour that sent its own message past its quota is
   * refused (`OVER_QUOTA` in `effects`: its link closes); a relayed one is only dropped, so an honest
   * relay is not cut off for what another member sent through it. A member this node dials (`dialed`) is
   * held to its own quota only, not to the total: strangers minting keys can fill the total, and must not
   * lock out the peers the user chose.
   */
  overQuota(neighbor: string, msg: Msg, effects: RoomEffect[], dialed = false): boolean {
    const usage = this.journal?.usage
    if (!usage) return false
    const origin = msg.from
    const held = usage.bytesOf(origin) + (this.admitted.get(origin) ?? 0)
    const total = usage.total + this.admittedTotal
    let why: string | undefined
    if (held >= this.quota.perOrigin) {
      why = `its messages fill its share of this node's disk (${mib(held)} of ${mib(this.quota.perOrigin)})`
    } else if (total >= this.quota.total && !dialed) {
      why = `other members' messages fill this node's disk quota (${mib(total)} of ${mib(this.quota.total)})`
    }
    if (why === undefined) {
      this.admit(origin, recordBytes(msg))
      return false
    }
    if (origin === neighbor) effects.push(refuse({ neighbor, code: 'OVER_QUOTA', message: why }))
    return true
  }

  private admit(origin: string, bytes: number): void {
    // By the next microtask the turn's records are appended (and counted by the journal), or were dropped.
    if (this.admittedTotal === 0) void Promise.resolve().then(() => this.forgetAdmitted())
    this.admitted.set(origin, (this.admitted.get(origin) ?? 0) + bytes)
    this.admittedTotal += bytes
  }

  private journaled(msg: Msg): void {
    const admitted = this.admitted.get(msg.from)
    if (admitted === undefined) return
    const bytes = Math.min(admitted, recordBytes(msg))
    this.admittedTotal -= bytes
    if (admitted === bytes) this.admitted.delete(msg.from)
    else this.admitted.set(msg.from, admitted - bytes)
  }

  private forgetAdmitted(): void {
    this.admitted.clear()
    this.admittedTotal = 0
  }

  get durable(): boolean {
    return this.journal !== undefined
  }

  /**
   * Appends in call order; without a journal, resolves in call order at once. A failed append rejects the
   * promise returned for it and for every later one; the first failure is also told through `failed`, so a
   * caller that does not wait on an append need not handle its rejection.
   */
  append(records: JournalRecord[]): Promise<unknown> {
    const journal = this.journal
    // Without a journal the chain never fails: callbacks on it run in the order they were added.
    if (!journal) return this.chain
    if (this.deferred.size > 0) records = this.takeDeferred(records)
    const write = journal.append(records)
    // Its failure is told through `failed` once the appends before it are settled; a journal that refuses
    // at once (it failed, or closed) must not leave a rejection nobody handled meanwhile.
    write.catch(() => undefined)
    // Mirrored once the journal has them, so that a compaction started now keeps them too.
    this.compaction?.appended(records, write)
    // The journal counts these now: they no longer need counting as admitted.
    if (this.admittedTotal > 0)
      for (const record of records) if (record.t === 'received') this.journaled(record.msg)
    const done = this.chain.then(
      () => write,
      () => write,
    )
    this.chain = done.then(
      () => {},
      (error: unknown) => {
        if (this.broken) return
        this.broken = true
        this.failed(error instanceof Error ? error.message : String(error))
      },
    )
    return done
  }

  /**
   * Appends `record` with the next append, or on its own after `DEFERRED_RECORD_MS`; a later record under
   * the same `key` replaces it. Only for records whose loss in a crash costs nothing but a resend that the
   * other end drops as a copy: an ack's watermark (`acked`), where our outbox starts (`settled`). Not
   * covered by `settled()`.
   */
  appendLater(key: string, record: JournalRecord): void {
    if (!this.journal || this.closed) return
    this.deferred.set(key, record)
    if (!this.clock) {
      void this.append([])
      return
    }
    this.deferTimer ??= this.clock.setTimeout(() => {
      this.deferTimer = undefined
      if (this.deferred.size > 0) void this.append([])
    }, DEFERRED_RECORD_MS)
  }

  /**
   * The node is closing: records waiting in `appendLater` are appended now, before the journal closes.
   * Resolves once everything appended is durable (or failed, reported once): a process may end then
   * without losing what it took, such as a line the user was told is safe in the outbox.
   */
  close(): Promise<void> {
    if (this.deferred.size > 0) void this.append([])
    this.closed = true
    return this.settled()
  }

  private takeDeferred(records: JournalRecord[]): JournalRecord[] {
    const all = [...this.deferred.values(), ...records]
    this.deferred.clear()
    if (this.deferTimer !== undefined) this.clock?.clearTimeout(this.deferTimer)
    this.deferTimer = undefined
    return all
  }

  /** Resolves once everything appended so far is durable (or failed, reported once). */
  settled(): Promise<void> {
    return this.chain
  }

  remember(entry: HistoryEntry): void {
    const { direction, id, seq, ts, from, body, more, at } = entry
    this.recent?.push(direction, id, seq, ts, from, body, more, at)
  }

  /** The lines one message carried (`msg.lines`), an entry each as `history()` gives them back. */
  rememberLines(entry: HistoryEntry, lines: number): void {
    const { direction, id, seq, ts, from, body, more, at } = entry
    this.recent?.pushMessageLines(direction, id, seq, ts, from, body, lines, more, at)
  }

  /** Recent messages in and out, oldest first. */
  history(): HistoryEntry[] {
    return this.recent?.entries() ?? []
  }

  /** Incoming entries a frontend had not shown (by its display marks) when the last run ended. */
  unshown(displayed: ReadonlyMap<string, number>): HistoryEntry[] {
    return this.history().filter((e) => e.direction === 'in' && e.seq > (displayed.get(e.from.id) ?? 0))
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1_048_576).toFixed(1)} MiB`
}

/**
 * What a received message's record takes in the journal, about: its strings (the name twice, in the
 * message and beside it) and the fixed fields, signature and chain hash. A little more than it takes
 * for text in one byte per character.
 */
function recordBytes(msg: Msg): number {
  return msg.body.length + 2 * (msg.name?.length ?? 0) + 600
}
