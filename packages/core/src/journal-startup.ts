/**
 * Start-up from a long journal without holding it in memory: records are replayed as the store reads
 * them, frame by frame, and only the few the state rests on (the history, the windows, the outbox, the
 * deciding acks) are read again at the end. The result is the journal compacted, as `compactJournal`
 * compacts it, and the state it restores: the node starts on it at once and writes it over the file later,
 * while it runs.
 */
import { type JournalRecord, JournalReplayer, type RestoredState, restore } from './journal.js'
import { keepReplayed, neededRecords } from './journal-compact.js'
import { isLineCount } from './msg-lines.js'
import type { PeerInfo } from './peer-machine.js'
import { DEFAULT_WINDOW } from './room-types.js'
import { parseMessage } from './schema.js'

export type JournalErrorCode =
  /** A record read back is not one this version writes: the journal was damaged or edited. */
  'BAD_RECORD'

/** The journal holds something that cannot be replayed; the message says which record and why. */
export class JournalError extends Error {
  override name = 'JournalError'
  constructor(
    readonly code: JournalErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

/** Records checked between two pauses of `JournalStartup.finish`. */
const CHECK_STEP_RECORDS = 1024

/** Frames read back at once by `JournalStartup.finish`. */
const LOAD_STEP_FRAMES = 8

/** What a journal replayed at start-up comes to. */
export interface JournalStart {
  readonly state: RestoredState
  /** The records that restore `state`: the journal compacted, in order. */
  readonly records: JournalRecord[]
  /** Records the journal holds. */
  readonly total: number
}

/**
 * Replays a journal frame by frame (`add`, in the order the store reads them), then reads again only the
 * frames it needs (`finish`). `Frame` is whatever tells the store where a frame is.
 * @example
 * const startup = new JournalStartup(self)
 * const log = await AppendLog.open(path, { onRecords: (records, frame) => startup.add(records, frame) })
 * const start = await startup.finish((frames) => log.readFrames(frames))
 */
export class JournalStartup<Frame> {
  private readonly replay: JournalReplayer
  private count = 0
  /** Per frame: the index of its first record, and where it is. */
  private readonly frameFirst: number[] = []
  private readonly frames: Frame[] = []
  /** The `self` and `peer` records, which compaction keeps whatever the state: few, held as read. */
  private readonly fixed: { index: number; record: JournalRecord }[] = []
  /** A record of a type this version does not know: compaction would drop it, so nothing is compacted. */
  private unknown = false

  constructor(
    private readonly self: PeerInfo,
    private readonly historyLimit = 10_000,
    private readonly windowSize = DEFAULT_WINDOW,
  ) {
    // Only which records the state rests on is wanted from this replay: our messages need not be held.
    this.replay = new JournalReplayer(self, historyLimit, windowSize, false)
  }

  /** The records of the next frame, as read from disk (checked here: they are untrusted). */
  add(records: readonly unknown[], frame: Frame): void {
    this.frameFirst.push(this.count)
    this.frames.push(frame)
    for (const value of records) {
      const index = this.count++
      const record = checkRecord(value, index)
      this.replay.add(record)
      switch (record.t) {
        case 'self':
        case 'peer':
          this.fixed.push({ index, record })
          break
        case 'sent':
        case 'received':
        case 'acked':
        case 'base':
        case 'settled':
          break
        default:
          this.unknown = true
      }
    }
  }

  /**
   * The state and the compacted records, reading again (with `load`) the frames that hold what the state
   * rests on; each loaded frame must hold the records it held when added. Undefined when the journal holds
   * a record type this version does not know: then it must be replayed whole (see `restore`). With
   * `pause`, other work is let in (by awaiting it) every thousand or so records checked.
   * @throws JournalError when a record the state rests on is not a valid one
   */
  async finish(
    load: (frames: Frame[]) => Promise<readonly (readonly unknown[])[]>,
    pause?: () => Promise<void>,
  ): Promise<JournalStart | undefined> {
    if (this.unknown) return undefined
    const whole = this.replay.finish()
    const count = this.count
    const needed = neededRecords(count, whole)
    const wanted: number[] = []
    for (let i = 0, frame = -1; i < count; i++) {
      if (!needed[i]) continue
      frame = this.frameOf(i, frame)
      if (wanted.at(-1) !== frame) wanted.push(frame)
    }
    const records: (JournalRecord | undefined)[] = new Array(count)
    let checked = 0
    // Read again a few frames at a time, each let go once its needed records are taken: a frame holds
    // every record of its append, and those the state rests on may be spread over most of the journal.
    let loaded: readonly (readonly unknown[])[] = []
    let loadedFrom = 0
    for (let n = 0; n < wanted.length; n++) {
      if (n - loadedFrom >= loaded.length) {
        loadedFrom = n
        loaded = await load(wanted.slice(n, n + LOAD_STEP_FRAMES).map((f) => this.frames[f] as Frame))
      }
      const f = wanted[n] as number
      const first = this.frameFirst[f] as number
      const end = this.frameFirst[f + 1] ?? count
      const frame = loaded[n - loadedFrom]
      if (frame?.length !== end - first)
        throw new JournalError('BAD_RECORD', `the frame of record ${first} changed while it was read`)
      for (let i = first; i < end; i++)
        if (needed[i]) records[i] = checkKept(checkRecord(frame[i - first], i), i)
      checked += end - first
      // Each kept message is checked whole: a running node lets its links in every thousand or so.
      if (pause && checked >= CHECK_STEP_RECORDS) {
        checked = 0
        await pause()
      }
    }
    for (const { index, record } of this.fixed) records[index] = record
    const { self, historyLimit, windowSize } = this
    // Only a journal holding unknown records cannot be compacted, and those were ruled out above.
    const kept = keepReplayed(records, whole, self, historyLimit, windowSize) ?? []
    return { state: restore(kept, self, historyLimit, windowSize), records: kept, total: count }
  }

  /** The frame holding record `index`, searching on from frame `from` (records are asked for in order). */
  private frameOf(index: number, from: number): number {
    let low = Math.max(0, from)
    let high = this.frameFirst.length - 1
    while (low < high) {
      const middle = (low + high + 1) >> 1
      if ((this.frameFirst[middle] as number) <= index) low = middle
      else high = middle - 1
    }
    return low
  }
}

/**
 * The record `value` as read back, checked for what a replay reads of it; a record of a type this
 * version does not know passes as it is.
 * @throws JournalError for anything else
 */
export function checkRecord(value: unknown, index: number): JournalRecord {
  const problem = recordProblem(value)
  if (problem === undefined) return value as JournalRecord
  throw new JournalError('BAD_RECORD', `record ${index} of the journal is damaged: ${problem}`)
}

function recordProblem(value: unknown): string | undefined {
  if (!isObject(value) || typeof value.t !== 'string') return 'not a record with a type "t"'
  switch (value.t) {
    case 'sent':
      return isMsgShape(value.msg) ? undefined : 'a "sent" record without a message'
    case 'received':
      if (!isMsgShape(value.msg) || typeof value.name !== 'string')
        return 'a "received" record without a message and a name'
      return value.at === undefined || (typeof value.at === 'number' && Number.isFinite(value.at))
        ? undefined
        : 'a "received" record whose arrival time "at" is not a number'
    case 'acked':
      return isPeer(value.peer) && isCount(value.upTo)
        ? undefined
        : 'an "acked" record without a peer and a seq'
    case 'peer':
      return isPeer(value.peer) &&
        typeof value.epoch === 'string' &&
        (value.after === undefined || (typeof value.after === 'number' && Number.isFinite(value.after)))
        ? undefined
        : 'a "peer" record without a peer and an epoch'
    case 'base':
      return isPeer(value.peer) && isCount(value.seq) ? undefined : 'a "base" record without a peer and a seq'
    case 'self':
      return typeof value.epoch === 'string' ? undefined : 'a "self" record without an epoch'
    case 'settled':
      return isCount(value.upTo) ? undefined : 'a "settled" record without a seq'
    default:
      return undefined
  }
}

/** A message the state keeps (to show, resend or relay) is checked whole, as one from the network is. */
function checkKept(record: JournalRecord, index: number): JournalRecord {
  if (record.t !== 'sent' && record.t !== 'received') return record
  try {
    if (parseMessage(record.msg)?.type === 'msg') return record
  } catch (error) {
    throw new JournalError(
      'BAD_RECORD',
      `record ${index} of the journal is damaged: ${(error as Error).message}`,
      { cause: error },
    )
  }
  throw new JournalError('BAD_RECORD', `record ${index} of the journal is damaged: its message is not a msg`)
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

function isMsgShape(value: unknown): boolean {
  return (
    isObject(value) &&
    isCount(value.seq) &&
    typeof value.from === 'string' &&
    (value.lines === undefined || isLineCount(value.lines)) &&
    (value.more === undefined || value.more === true)
  )
}

function isPeer(value: unknown): boolean {
  return isObject(value) && typeof value.id === 'string' && typeof value.name === 'string'
}
