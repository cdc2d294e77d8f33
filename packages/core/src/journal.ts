/**
 * What the runtime writes down so that nothing is lost or shown twice across crashes and restarts,
 * and how it reads that back. Core only defines the records and their meaning; a store package
 * (for example `@parley/store`) makes them durable.
 */

import { FIXED_MSG_BYTES } from './inbound-gate.js'
import { lineId } from './msg-lines.js'
import { shownName } from './names.js'
import type { PeerInfo } from './peer-machine.js'
import {
  cutLevel,
  DEFAULT_WINDOW,
  type RestoredRoom,
  WINDOW_BYTES,
  WINDOWS_TOTAL_BYTES,
} from './room-types.js'
import type { Msg } from './schema.js'

export type JournalRecord =
  /** One of our messages was accepted for delivery: it is in the outbox until every peer acks it. */
  | { readonly t: 'sent'; readonly msg: Msg }
  /**
   * A member's message was accepted and shown; its seq is the new dedup watermark for its origin
   * (`msg.from`, a neighbour or a member reached through relays). `name` is the origin's display name.
   */
  | {
      readonly t: 'received'
      readonly msg: Msg
      readonly name: string
      /**
       * When this node took the message, by its own clock (ms): unlike `msg.ts`, which its sender claims,
       * a time no member can move. Written only where it is earlier than `msg.ts` (where it places the
       * line in the history); records of earlier releases have none.
       */
      readonly at?: number
    }
  /** A peer acknowledged our messages up to `upTo`. */
  | { readonly t: 'acked'; readonly peer: PeerInfo; readonly upTo: number }
  /** A peer's sequence epoch; a new one resets what we know of it (it restarted without its journal). */
  | {
      readonly t: 'peer'
      readonly peer: PeerInfo
      readonly epoch: string
      /**
       * With a new epoch (a reset): when the newest message this node held of the old numbering was
       * written (its clock, `Origin.resetAfter`). Earlier releases read the record without it.
       */
      readonly after?: number
    }
  /** Our stream of this origin continues after `seq`: what came before was settled, or left every window. */
  | { readonly t: 'base'; readonly peer: PeerInfo; readonly seq: number }
  /** This node's own sequence epoch, written once when its journal starts. */
  | { readonly t: 'self'; readonly epoch: string }
  /**
   * Our messages up to `upTo` left the outbox: every neighbour the node still waited for had acknowledged
   * them. One that dialed in and left is not waited for, so without this record its lower `acked` would
   * put them back in the outbox at the next start, and keep them in the journal for good (protocol 1.1).
   */
  | { readonly t: 'settled'; readonly upTo: number }

/** Makes journal records durable. */
export interface Journal {
  /**
   * Resolves once the records are on disk; appends made close together share one flush (group commit).
   * It may resolve with where their frame is, as `JournalRewrite.load` takes it: then a compaction
   * replays the journal as it is appended and reads back only the frames it keeps.
   */
  append(records: readonly JournalRecord[]): Promise<unknown>
  /**
   * What the journal holds for each other member, counted by `journalOrigin` from its records (for
   * example `AppendLog.usage` of `@parley/store`, opened with `accountOf: journalOrigin`). Without it,
   * the node enforces no disk quota.
   */
  readonly usage?: JournalUsage
  /**
   * Lets the node compact the journal while it runs, reading it back once the file has grown to 4 times its
   * size after the last compaction (and past `minBytes`); no record is kept in memory in between. Without
   * it, the journal is compacted only by whoever opens it (see `compactJournal`).
   */
  readonly compaction?: JournalRewrite
}

/** What a store offers for online compaction (for example `AppendLog` of `@parley/store`; see `OnlineCompaction`). */
export interface JournalRewrite {
  /**
   * Every record the journal holds when the node starts, in order (after any start-up compaction). Read
   * once, as the node is made.
   */
  readonly records: readonly JournalRecord[]
  /**
   * Bytes the journal holds now, counted as if stored plain: what its growth is measured by, so that a
   * store that compresses what it rewrites does not compact more often for it.
   */
  size(): number
  /** Bytes the journal takes on disk now, for the compaction report; `size()` if left out. */
  diskSize?(): number
  /**
   * Reads back every record appended before the call (those it started with included), once they are
   * durable, handing each frame's records to `onFrame` in order as they are read, with where the frame is;
   * the records may be skimmed (see `skimFrame`). Compaction reads the journal this way rather than keep it
   * in memory, and holds no more of it than a start-up does (see `JournalStartup`).
   */
  scan(onFrame: (records: readonly unknown[], frame: unknown) => void): Promise<void>
  /** The records of frames `scan` saw, read again in full, in the order asked; valid until `rewrite`. */
  load(frames: unknown[]): Promise<readonly (readonly unknown[])[]>
  /**
   * Replaces the whole journal with `records`, atomically: a crash leaves the old journal or the new one.
   * Appends made after the call must follow the new records; if it fails, the old journal stays in use.
   * It may resolve with where it put them (see `JournalLayout`).
   */
  rewrite(records: readonly JournalRecord[]): Promise<JournalLayout | undefined>
  /**
   * The file held no record when the node started: every record it will hold is one the node appends, so
   * the first compaction can replay the appends instead of reading the file back.
   */
  readonly fresh?: boolean
  /** Never compacts a journal smaller than this. */
  readonly minBytes: number
  /**
   * Set when `records` are the journal compacted in memory at start-up (see `JournalStartup`) while the
   * file still holds all it held, this many records: the node calls `rewrite` with them as it is made (so
   * that a store counting usage counts the kept records from the start), and the file is written in the
   * background.
   */
  readonly compactedFrom?: number
}

/**
 * Where a rewrite put the journal: the frames of the records it was given, in order, with how many each
 * holds, and the new place of each frame appended while it ran, keyed by the place its append resolved
 * with. Each place is one `JournalRewrite.load` reads, until the next rewrite.
 */
export interface JournalLayout {
  readonly frames: readonly { readonly records: number; readonly frame: unknown }[]
  readonly moved: ReadonlyMap<unknown, unknown>
}

/** Bytes a journal holds for other members, kept up to date as it appends (see `Journal.usage`). */
export interface JournalUsage {
  /** Bytes of the records `journalOrigin` names `origin` for. */
  bytesOf(origin: string): number
  /** Bytes of every record `journalOrigin` names some origin for: all but the node's own. */
  readonly total: number
}

/**
 * The member a journal record is kept for, whose disk quota it counts against: the origin of a received
 * message, the peer of a `peer` or `base` record. The node's own records (`sent`, `self`, and `acked`,
 * which only grow with what the node itself sends), and records this version does not know, count against
 * no one. Takes any value, as read back from disk.
 * @example
 * const log = await AppendLog.open(dir.file('journal.log'), { accountOf: journalOrigin })
 */
export function journalOrigin(record: unknown): string | undefined {
  const r = record as { t?: unknown; msg?: { from?: unknown }; peer?: { id?: unknown } } | null
  switch (r?.t) {
    case 'received': {
      const from = r.msg?.from
      return typeof from === 'string' ? from : undefined
    }
    case 'peer':
    case 'base': {
      const id = r.peer?.id
      return typeof id === 'string' ? id : undefined
    }
    default:
      return undefined
  }
}

export interface HistoryEntry {
  readonly direction: 'in' | 'out'
  readonly id: string
  readonly seq: number
  /** When the sender says it wrote it (`msg.ts`): its own clock, which may be far off. */
  readonly ts: number
  /**
   * For a received entry: when this node took the message, by its own clock (the journal's `at`). Absent
   * for our own (`ts` is our clock then), for a receipt an earlier release journaled, and, once restored
   * from the journal, where it was no earlier than `ts` (the history places a line by the earlier of the two).
   */
  readonly at?: number
  /** The sender: this node for `out`. */
  readonly from: PeerInfo
  readonly body: string
  /** The line goes on in the sender's next message (`msg.more`): a long line's part. */
  readonly more?: true
}

/** What the journal says of one member: a neighbour, or an origin known through relays. */
export interface PeerProgress {
  peer: PeerInfo
  /** Highest seq of ours the peer acknowledged (neighbours only). */
  acked: number
  /** Highest contiguous seq received from the peer. */
  received: number
  /** The peer's sequence epoch as last seen (neighbours only). */
  epoch: string
  /** Its newest messages, ending at `received`, at most the window size: what this node can relay again. */
  log: Msg[]
  /** This node had a session with it (it acked us or we recorded its epoch), rather than only relayed messages. */
  neighbor: boolean
  /** Its epoch changed (it restarted without its journal) and no message of it came since. */
  reset?: boolean
  /** With `reset`: when the newest message held of its old numbering was written (`Origin.resetAfter`). */
  resetAfter?: number
}

/** The node's state rebuilt from its journal. */
export interface RestoredState {
  /** The seq the next message sent will get. */
  readonly nextSeq: number
  /** Our messages some neighbour has not acknowledged, in seq order. */
  readonly outbox: Msg[]
  /** Our newest messages, acknowledged or not: the outbox, or the window if that is longer. */
  readonly recent: Msg[]
  /** Our newest message, acknowledged or not: our hash chain continues from it. */
  readonly lastSent?: Msg
  readonly peers: Map<string, PeerProgress>
  /** The newest messages in and out, oldest first, at most `historyLimit`. */
  readonly history: HistoryEntry[]
  /** This node's sequence epoch, if the journal recorded one. */
  readonly epoch?: string
}

// Replay keeps as many messages per origin as the room does; the constant stays importable from here.
export { DEFAULT_WINDOW }

/**
 * Replays journal records in order. Pure; tolerant of records written by a node that crashed between
 * any two appends (a `received` seq that is not the next one is ignored, as the runtime would have).
 * Each origin's newest `windowSize` messages come back too, so a restarted node can catch others up.
 */
export function restore(
  records: Iterable<JournalRecord>,
  self: PeerInfo,
  historyLimit = 10_000,
  windowSize = DEFAULT_WINDOW,
): RestoredState {
  return replayJournal(records, self, historyLimit, windowSize).state
}

/** A replayed journal, and which records (by index) the state still rests on. */
export interface JournalReplay {
  readonly state: RestoredState
  /** The record behind each entry of `state.history`, in the same order. */
  readonly historyFrom: number[]
  /** The record behind each message of `state.recent`, in the same order. */
  readonly recentFrom: number[]
  /** The record behind `state.lastSent`. */
  readonly lastSentFrom?: number
  /** Per peer id: the record behind each message of its `log`, in the same order. */
  readonly logFrom: Map<string, number[]>
  /** Per peer id: the `acked` record that set its `acked` since its last epoch reset. */
  readonly ackedFrom: Map<string, number>
  /** The `settled` record with the highest `upTo`, if any. */
  readonly settledFrom?: number
  /** Per peer id: the last record about it, of any kind. */
  readonly lastFrom: Map<string, number>
  /** Per index of a reset `peer` record without `after`: the `after` this replay worked out for it, if any. */
  readonly resetAfterFrom: Map<number, number | undefined>
}

interface Tracked {
  readonly progress: PeerProgress
  /** The origin's newest receipts, at most the window (`progress.log` is set from it at the end). */
  log: Newest<Msg>
  /** The record behind each of `log`, in the same order. */
  logFrom: Newest<number>
  /** What `log` holds in bytes (`weigh`), held to the room's limits as it is (`WINDOW_BYTES`). */
  bytes: number
  ackedFrom?: number
  /** `progress.peer` is an `{ id, name }` this replay made, not a record's own object. */
  madePeer: boolean
  /** The name as last recorded, which `progress.peer.name` is the cleaned form of. */
  recordedName: string
  /** The last record about it. */
  last: number
}

/**
 * `restore`, also naming the records its state came from, so that compaction can keep those and drop
 * the rest (see `compactJournal`). One routine serves both, so they cannot drift apart.
 */
export function replayJournal(
  records: Iterable<JournalRecord>,
  self: PeerInfo,
  historyLimit = 10_000,
  windowSize = DEFAULT_WINDOW,
): JournalReplay {
  const replay = new JournalReplayer(self, historyLimit, windowSize)
  for (const record of records) replay.add(record)
  return replay.finish()
}

/**
 * `replayJournal` one record at a time, so that a caller that must keep serving can replay a long journal
 * in slices. Records are numbered in the order they are added.
 */
export class JournalReplayer {
  private nextSeq = 1
  private epoch: string | undefined
  /** Our messages up to this seq left the outbox (`settled` records). */
  private settled = 0
  private settledFrom: number | undefined
  private index = -1
  /** Our messages, in seq order (seqs only rise); none when constructed with `keepSent` false. */
  private readonly sent: Msg[] | undefined
  private readonly sentSeq: number[] = []
  private readonly sentFrom: number[] = []
  private readonly tracked = new Map<string, Tracked>()
  private readonly resetAfterFrom = new Map<number, number | undefined>()
  /**
   * The history as parallel columns, its entries built only at the end for the newest `historyLimit`:
   * a journal holds far more messages than the history keeps, and an object per message was most of
   * a replay's cost. `historyPeer` is the sender as named at the time, or undefined for our own.
   */
  private readonly historyMsg: Newest<Msg>
  private readonly historyPeer: Newest<PeerInfo | undefined>
  private readonly historyFrom: Newest<number>
  /** When each received message arrived (the record's `at`), NaN where the record has none. */
  private readonly historyAt: Newest<number>

  constructor(
    private readonly self: PeerInfo,
    private readonly historyLimit = 10_000,
    private readonly windowSize = DEFAULT_WINDOW,
    /**
     * False when only the records behind the state are wanted (`JournalStartup`): our own messages are not
     * held (all of them may be, for a long outbox), so the state's outbox, recent and lastSent stay empty
     * while `recentFrom` and `lastSentFrom` still name their records.
     */
    keepSent = true,
  ) {
    this.sent = keepSent ? [] : undefined
    this.historyMsg = new Newest(historyLimit)
    this.historyPeer = new Newest(historyLimit)
    this.historyFrom = new Newest(historyLimit)
    this.historyAt = new Newest(historyLimit)
  }

  /** This node under the name a message of ours was sent with (a rename does not rewrite the past). */
  private sentAs(msg: Msg): PeerInfo {
    if (msg.name === undefined || msg.name === this.self.name) return this.self
    const name = shownName(msg.name, this.self.name)
    if (this.renamed?.name !== name) this.renamed = { id: this.self.id, name }
    return this.renamed
  }

  private renamed: PeerInfo | undefined

  add(record: JournalRecord): void {
    const index = ++this.index
    switch (record.t) {
      case 'sent':
        if (record.msg.seq < this.nextSeq) break
        this.nextSeq = record.msg.seq + 1
        this.sent?.push(record.msg)
        this.sentSeq.push(record.msg.seq)
        this.sentFrom.push(index)
        this.remember(record.msg, undefined, index, Number.NaN)
        break
      case 'received': {
        const t = this.track(record.msg.from, record.name)
        const p = t.progress
        if (record.msg.seq !== p.received + 1) break
        p.received = record.msg.seq
        if (p.reset) p.reset = false
        this.keep(t, record.msg, index)
        this.remember(record.msg, p.peer, index, record.at ?? Number.NaN)
        break
      }
      case 'acked': {
        const t = this.track(record.peer.id, record.peer.name, record.peer)
        const p = t.progress
        if (t.ackedFrom === undefined || record.upTo > p.acked) t.ackedFrom = index
        p.acked = Math.max(p.acked, record.upTo)
        p.neighbor = true
        break
      }
      case 'peer': {
        const t = this.track(record.peer.id, record.peer.name, record.peer)
        const p = t.progress
        if (p.epoch !== '' && p.epoch !== record.epoch) {
          // A record of a release before `after`: worked out from the old numbering's receipts, as the
          // room does live (`peerRestarted`), or relays of the member stay refused until it links to us.
          const after = record.after ?? this.oldNumberingEnd(t)
          if (record.after === undefined) this.resetAfterFrom.set(index, after)
          p.acked = 0
          p.received = 0
          p.reset = true
          if (after !== undefined) p.resetAfter = after
          else delete p.resetAfter
          this.clearLog(t)
          t.ackedFrom = undefined
        }
        p.epoch = record.epoch
        p.neighbor = true
        break
      }
      case 'base': {
        const t = this.track(record.peer.id, record.peer.name, record.peer)
        const p = t.progress
        if (record.seq > p.received) {
          p.received = record.seq
          if (p.reset) p.reset = false
          this.clearLog(t)
        }
        break
      }
      case 'self':
        this.epoch ??= record.epoch
        break
      case 'settled':
        if (this.settledFrom === undefined || record.upTo > this.settled) {
          this.settled = Math.max(this.settled, record.upTo)
          this.settledFrom = index
        }
        break
      default:
        // A record type from a newer version: this one has no use for it.
        unknownRecord(record)
    }
  }

  /** The state of every record added; the replayer is not used again. */
  finish(): JournalReplay {
    const { windowSize } = this
    const peers = new Map<string, PeerProgress>()
    const logFrom = new Map<string, number[]>()
    const ackedFrom = new Map<string, number>()
    const lastFrom = new Map<string, number>()
    for (const [id, t] of this.tracked) {
      lastFrom.set(id, t.last)
      t.progress.log = t.log.toArray()
      peers.set(id, t.progress)
      logFrom.set(id, t.logFrom.toArray())
      if (t.ackedFrom !== undefined) ackedFrom.set(id, t.ackedFrom)
    }
    let lowest = Number.POSITIVE_INFINITY
    for (const p of peers.values()) if (p.neighbor) lowest = Math.min(lowest, p.acked)
    if (lowest === Number.POSITIVE_INFINITY) lowest = 0
    // The outbox never grows back: what the running node settled stays settled.
    lowest = Math.max(lowest, this.settled)
    const sent = this.sent ?? []
    const seqs = this.sentSeq
    let pending = 0
    while (pending < seqs.length && (seqs[seqs.length - 1 - pending] as number) > lowest) pending++
    const outbox = sent.slice(sent.length - pending)
    const keep = -Math.max(windowSize, pending)
    const recent = sent.slice(keep)
    const lastSent = sent.at(-1)
    const lastSentFrom = this.sentFrom.at(-1)
    const historyMsg = this.historyMsg.toArray()
    const historyPeer = this.historyPeer.toArray()
    const recordOf = this.historyFrom.toArray()
    const arrivals = this.historyAt.toArray()
    const history: HistoryEntry[] = []
    const historyFrom: number[] = []
    // The history holds `historyLimit` lines: a message that carried lines (`msg.lines`) counts each, so
    // only the newest messages that hold that many are made entries (and their records kept).
    let first = historyMsg.length
    let skip = 0
    for (let lines = 0; first > 0 && lines < this.historyLimit; ) {
      first--
      lines += (historyMsg[first] as Msg).lines ?? 1
      skip = Math.max(0, lines - this.historyLimit)
    }
    for (let i = first; i < historyMsg.length; i++) {
      const msg = historyMsg[i] as Msg
      const peer = historyPeer[i]
      const from = peer ?? this.sentAs(msg)
      const direction = peer === undefined ? 'out' : 'in'
      const at = arrivals[i] as number
      if (msg.lines === undefined) {
        const entry: HistoryEntry = { direction, ...pick(msg), from }
        history.push(Number.isNaN(at) ? entry : { ...entry, at })
        historyFrom.push(recordOf[i] as number)
        continue
      }
      // Lines carried together are an entry each, as they were when live; of the oldest message kept,
      // only the lines within the limit. (A skimmed message has no body: only its records count then.)
      const lines =
        typeof msg.body === 'string' ? msg.body.split('\n') : new Array<string>(msg.lines).fill('')
      for (let line = i === first ? skip : 0; line < lines.length; line++) {
        historyFrom.push(recordOf[i] as number)
        const entry: HistoryEntry = {
          direction,
          id: lineId(msg.id, line),
          seq: msg.seq,
          ts: msg.ts,
          ...(Number.isNaN(at) ? {} : { at }),
          body: lines[line] as string,
          from,
        }
        history.push(msg.more && line === lines.length - 1 ? { ...entry, more: true } : entry)
      }
    }
    const state: RestoredState = {
      nextSeq: this.nextSeq,
      outbox,
      recent,
      peers,
      history,
      ...(lastSent ? { lastSent } : {}),
      ...(this.epoch ? { epoch: this.epoch } : {}),
    }
    return {
      state,
      historyFrom,
      recentFrom: this.sentFrom.slice(keep),
      ...(lastSentFrom === undefined ? {} : { lastSentFrom }),
      logFrom,
      ackedFrom,
      ...(this.settledFrom === undefined ? {} : { settledFrom: this.settledFrom }),
      lastFrom,
      resetAfterFrom: this.resetAfterFrom,
    }
  }

  /** What every origin's window holds together, in bytes, as the room counts it. */
  private windowsHeld = 0

  /**
   * Keeps a received message in its origin's window, within the room's limits: the newest `windowSize`,
   * at most `WINDOW_BYTES` of them, and at most `WINDOWS_TOTAL_BYTES` for all origins (the largest cut
   * first). A journal of a flood of made-up members is replayed in bounded memory, and what the room would
   * have let go is not kept by compaction either.
   */
  private keep(t: Tracked, msg: Msg, index: number): void {
    const bytes = msgBytes(msg)
    t.bytes += bytes
    this.windowsHeld += bytes
    const passed = t.log.push(msg)
    t.logFrom.push(index)
    if (passed !== undefined) this.passOver(t, passed)
    while (t.bytes > WINDOW_BYTES && t.log.size > 1) {
      this.passOver(t, t.log.shift() as Msg)
      t.logFrom.shift()
    }
    if (this.windowsHeld > WINDOWS_TOTAL_BYTES) this.shrinkWindows()
  }

  private passOver(t: Tracked, msg: Msg): void {
    const bytes = msgBytes(msg)
    t.bytes -= bytes
    this.windowsHeld -= bytes
  }

  /**
   * When the newest message of an origin's current numbering was written, if the log still holds it; with
   * nothing of it since an earlier reset, that reset's.
   */
  private oldNumberingEnd(t: Tracked): number | undefined {
    const newest = t.log.newest()
    if (newest !== undefined && newest.seq === t.progress.received) return newest.ts
    return t.progress.reset ? t.progress.resetAfter : undefined
  }

  private clearLog(t: Tracked): void {
    this.windowsHeld -= t.bytes
    t.bytes = 0
    t.log.clear()
    t.logFrom.clear()
  }

  /** As the room does (`shrinkWindows`): the largest windows cut to one level, to three quarters of the total. */
  private shrinkWindows(): void {
    const target = Math.floor((WINDOWS_TOTAL_BYTES * 3) / 4)
    const ranked = [...this.tracked.values()].filter((t) => t.bytes > 0).sort((a, b) => b.bytes - a.bytes)
    const level = cutLevel(
      ranked.map((t) => t.bytes),
      target,
    )
    for (const t of ranked) {
      if (t.bytes <= level) break
      while (t.bytes > level && t.log.size > 0) {
        this.passOver(t, t.log.shift() as Msg)
        t.logFrom.shift()
      }
    }
  }

  /** The UTF-16 units of text (ids and bodies) the history columns hold. */
  private historyUnits = 0

  private remember(msg: Msg, peer: PeerInfo | undefined, index: number, at: number): void {
    this.historyUnits += textUnits(msg)
    const passed = this.historyMsg.push(msg)
    this.historyPeer.push(peer)
    this.historyFrom.push(index)
    this.historyAt.push(at)
    if (passed !== undefined) this.historyUnits -= textUnits(passed)
    // As the live history does (`HISTORY_TEXT_BYTES` of UTF-8, and a unit is at least a byte): a journal
    // of the longest messages is not held 10,000 deep while it is replayed.
    while (this.historyUnits > HISTORY_REPLAY_UNITS && this.historyMsg.size > 1) {
      this.historyUnits -= textUnits(this.historyMsg.shift() as Msg)
      this.historyPeer.shift()
      this.historyFrom.shift()
      this.historyAt.shift()
    }
  }

  /**
   * The peer `id`, named as in a record: a `peer`, `acked` or `base` record's own `recorded` peer, or for
   * a receipt, a name alone.
   */
  private track(id: string, recordedName: string, recorded?: PeerInfo): Tracked {
    let t = this.tracked.get(id)
    // Journals of earlier releases kept relayed names as sent: clean them as a live name is cleaned (once
    // per name met, not per record).
    const name =
      t?.recordedName === recordedName ? t.progress.peer.name : shownName(recordedName, id.slice(0, 8))
    if (!t) {
      t = {
        progress: { peer: { id, name }, acked: 0, received: 0, epoch: '', log: [], neighbor: false },
        log: new Newest(this.windowSize),
        logFrom: new Newest(this.windowSize),
        bytes: 0,
        madePeer: true,
        recordedName,
        last: this.index,
      }
      this.tracked.set(id, t)
    }
    t.recordedName = recordedName
    t.last = this.index
    if (recorded && name === recorded.name) {
      t.progress.peer = recorded
      t.madePeer = false
    } else if (!t.madePeer || t.progress.peer.name !== name) {
      // A receipt under the same name keeps the object made for the last one: history entries share it.
      t.progress.peer = { id, name }
      t.madePeer = true
    }
    return t
  }
}

function unknownRecord(_record: never): void {}

/** The history's text a replay keeps at most, in UTF-16 units: the live history's cap (16 MiB of UTF-8). */
const HISTORY_REPLAY_UNITS = 16 * 1024 * 1024

/** A message's id and body in UTF-16 units; a skimmed one says it (`units`), without its text. */
function textUnits(msg: Msg): number {
  const { body, id, units } = msg as Partial<Msg> & { units?: number }
  if (typeof units === 'number') return units
  return (typeof body === 'string' ? body.length : 0) + (typeof id === 'string' ? id.length : 0)
}

/**
 * A kept message's bytes, near what the room weighs (`weigh`): its id and body and a fixed part. The same
 * whether the record was parsed or skimmed (`units`), so that both replays keep the same windows.
 */
function msgBytes(msg: Msg): number {
  return FIXED_MSG_BYTES + textUnits(msg)
}

/**
 * The newest `capacity` items pushed, read oldest first: a window that slides without copying each time.
 * Sliding arrays by `shift` and `slice` made most of a long journal's replay (large arrays reallocated per
 * slide): the oldest is passed over, and the array is cut once as much again has been passed over.
 */
class Newest<T> {
  private items: T[] = []
  /** Where the oldest item is. */
  private start = 0

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.items.length - this.start
  }

  /** Adds an item; returns the oldest when that one no longer fits. */
  push(item: T): T | undefined {
    if (this.capacity <= 0) return item
    this.items.push(item)
    return this.size > this.capacity ? this.shift() : undefined
  }

  /** Takes the oldest item away. */
  shift(): T | undefined {
    if (this.size === 0) return undefined
    const item = this.items[this.start] as T
    // Let go of it now: a window of long messages must not hold what it passed over until the next cut.
    this.items[this.start] = undefined as T
    this.start++
    if (this.start >= 64 && this.start * 2 >= this.items.length) {
      this.items = this.items.slice(this.start)
      this.start = 0
    }
    return item
  }

  newest(): T | undefined {
    return this.size === 0 ? undefined : this.items[this.items.length - 1]
  }

  clear(): void {
    this.items = []
    this.start = 0
  }

  toArray(): T[] {
    return this.items.slice(this.start)
  }
}

function pick(msg: Msg) {
  const picked = { id: msg.id, seq: msg.seq, ts: msg.ts, body: msg.body }
  return msg.more ? { ...picked, more: true as const } : picked
}

/** What the room takes from the restored state. */
export function restoredRoom(restored: RestoredState): RestoredRoom {
  return {
    origins: restored.peers.values(),
    nextSeq: restored.nextSeq,
    outbox: restored.outbox,
    recent: restored.recent,
    ...(restored.lastSent ? { lastSent: restored.lastSent } : {}),
  }
}
