/**
 * Online compaction over random traffic: records appended while rewrites are under way, rewrites that
 * succeed or fail, and the journal restored at any moment compared with the whole journal never compacted.
 */
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import {
  type JournalLayout,
  type JournalRecord,
  type JournalRewrite,
  type RestoredState,
  restore,
} from './journal.js'
import { compactJournal } from './journal-compact.js'
import { type CompactionReport, OnlineCompaction } from './online-compaction.js'
import type { PeerInfo } from './peer-machine.js'

let cases = 0
/** Compactions that landed while other records were appended, over every run: the case that matters. */
let overlapped = 0
/** Times a compaction read the journal back. */
let reads = 0
/**
 * Over the runs on a disk that says where frames are: rewrites that landed, and reads back past the one a
 * journal that held records at start needs (none: every append is replayed as it lands, through rewrites
 * that land, fail or are not worth it); and those first reads back of a journal that held records.
 */
let placedRewrites = 0
let needlessReads = 0
let firstReads = 0
const RUNS = 1_500
const PLACED_RUNS = 800
const SEED = 20_261_202
afterAll(() => {
  expect(cases).toBeGreaterThanOrEqual(RUNS + 2 * PLACED_RUNS + 1)
  expect(overlapped).toBeGreaterThan(RUNS / 8)
  expect(reads).toBeGreaterThan(RUNS / 8)
  expect(placedRewrites).toBeGreaterThan(PLACED_RUNS / 4)
  expect(needlessReads).toBe(0)
  expect(firstReads).toBeGreaterThan(PLACED_RUNS / 8)
})

const self: PeerInfo = { id: 'a'.repeat(16), name: 'alice' }
const ORIGINS = ['b'.repeat(16), 'c'.repeat(16), 'd'.repeat(16)] as const
const NAMES = ['bob', 'bobby', 'carol'] as const
const EPOCHS = ['e1', 'e1', 'e1', 'e2', ''] as const
/** What the fake disk counts per record, so that sizes stay easy to reason about. */
const RECORD_BYTES = 100

type Kind =
  | 'sent'
  | 'received'
  | 'acked'
  | 'settled'
  | 'peer'
  | 'base'
  | 'compact'
  | 'turn'
  | 'settle'
  | 'fail'
const kind = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Kind>('sent') },
  { weight: 8, arbitrary: fc.constant<Kind>('received') },
  { weight: 5, arbitrary: fc.constant<Kind>('acked') },
  { weight: 1, arbitrary: fc.constant<Kind>('settled') },
  { weight: 1, arbitrary: fc.constant<Kind>('peer') },
  { weight: 1, arbitrary: fc.constant<Kind>('base') },
  { weight: 2, arbitrary: fc.constant<Kind>('compact') },
  { weight: 6, arbitrary: fc.constant<Kind>('turn') },
  { weight: 1, arbitrary: fc.constant<Kind>('settle') },
  { weight: 1, arbitrary: fc.constant<Kind>('fail') },
)
const step = fc.oneof(
  { weight: 8, arbitrary: fc.constant(1) },
  { weight: 2, arbitrary: fc.integer({ min: -2, max: 3 }) },
)
const command = fc.record({
  kind,
  origin: fc.nat(ORIGINS.length - 1),
  name: fc.nat(NAMES.length - 1),
  epoch: fc.nat(EPOCHS.length - 1),
  step,
})
type Command = typeof command extends fc.Arbitrary<infer C> ? C : never

/** A frame of the placed disk: where it is is the object itself, valid while the file holds it. */
interface PlacedFrame {
  readonly records: readonly JournalRecord[]
}

/**
 * A journal on a disk that a test controls: appends land at once, a rewrite waits until the test settles
 * or fails it, and appends made meanwhile follow the rewritten records (or the old ones, if it failed).
 * `placed`: like `AppendLog`, each append resolves with where its frame is, and a rewrite with where it put
 * the records and the frames appended meanwhile; a place the file no longer holds cannot be loaded.
 */
class FakeDisk implements JournalRewrite {
  disk: JournalRecord[]
  readonly minBytes: number
  /** The placed file's frames, in order. */
  private frames: PlacedFrame[] = []
  /** Placed: times the file was read back. */
  scans = 0
  private pending?: {
    records: JournalRecord[]
    from: number
    fromFrame: number
    resolve: (layout?: JournalLayout) => void
    reject: (e: Error) => void
  }

  constructor(
    records: JournalRecord[],
    minBytes: number,
    readonly placed = false,
  ) {
    this.disk = [...records]
    this.minBytes = minBytes
  }

  get fresh(): boolean {
    return this.placed && this.disk.length === 0
  }

  /** As `AppendLog.append` in placed mode: the records land at once, their place a turn later. */
  appendPlaced(records: readonly JournalRecord[]): Promise<unknown> {
    this.append(records)
    const frame: PlacedFrame = { records: [...records] }
    this.frames.push(frame)
    return Promise.resolve(frame)
  }

  get records(): readonly JournalRecord[] {
    return this.disk
  }

  size(): number {
    return this.disk.length * RECORD_BYTES
  }

  append(records: readonly JournalRecord[]): void {
    this.disk.push(...records)
  }

  /** The journal as the last scan saw it, in frames of up to three records. */
  private scanned: JournalRecord[][] = []

  /** As the store reads the file back: everything appended before the call, frame by frame, later appends not. */
  scan(onFrame: (records: readonly unknown[], frame: unknown) => void): Promise<void> {
    if (this.placed) this.scans++
    else reads++
    this.scanned = []
    for (let i = 0; i < this.disk.length; i += 3) this.scanned.push(this.disk.slice(i, i + 3))
    if (this.placed) for (const frame of this.frames) onFrame(frame.records, frame)
    else
      this.scanned.forEach((records, frame) => {
        onFrame(records, frame)
      })
    return Promise.resolve()
  }

  load(frames: unknown[]): Promise<readonly (readonly unknown[])[]> {
    if (!this.placed) return Promise.resolve(frames.map((frame) => this.scanned[frame as number] ?? []))
    const held = new Set(this.frames)
    for (const frame of frames)
      if (!held.has(frame as PlacedFrame)) return Promise.reject(new Error('no such frame in the file'))
    return Promise.resolve(frames.map((frame) => (frame as PlacedFrame).records))
  }

  rewrite(records: readonly JournalRecord[]): Promise<JournalLayout | undefined> {
    if (this.pending) throw new Error('two rewrites at once')
    return new Promise((resolve, reject) => {
      this.pending = {
        records: [...records],
        from: this.disk.length,
        fromFrame: this.frames.length,
        resolve,
        reject,
      }
    })
  }

  /** Ends the rewrite under way, if any: it lands (with what was appended since after it) or fails. */
  finish(ok: boolean): boolean {
    const p = this.pending
    if (!p) return false
    this.pending = undefined
    if (ok) {
      if (this.disk.length > p.from) overlapped++
      this.disk = p.records.concat(this.disk.slice(p.from))
      if (!this.placed) {
        p.resolve()
        return true
      }
      placedRewrites++
      // The records in frames of up to two, then the frames appended meanwhile, each in a new place.
      const frames: PlacedFrame[] = []
      for (let i = 0; i < p.records.length; i += 2) frames.push({ records: p.records.slice(i, i + 2) })
      const layout = frames.map((frame) => ({ records: frame.records.length, frame: frame as unknown }))
      const moved = new Map<unknown, unknown>()
      for (const old of this.frames.slice(p.fromFrame)) {
        const now: PlacedFrame = { records: old.records }
        moved.set(old, now)
        frames.push(now)
      }
      this.frames = frames
      p.resolve({ frames: layout, moved })
    } else p.reject(new Error('disk full'))
    return true
  }
}

/** Bob's messages, received one at a time: each goes to the disk, then to the compaction, as `Persistence.append` does. */
class Sender {
  seq = 0

  constructor(
    private readonly disk: FakeDisk,
    private readonly compaction: OnlineCompaction,
  ) {}

  /** `lines`: the message carries that many lines (`msg.lines`), as piped lines travel. */
  receive(lines = 1): void {
    this.seq++
    const msg = msgOf(ORIGINS[0], this.seq, this.seq)
    if (lines > 1)
      Object.assign(msg, { body: Array.from({ length: lines }, (_, i) => `line ${i}`).join('\n'), lines })
    const record: JournalRecord = { t: 'received', msg, name: 'bob' }
    this.disk.append([record])
    this.compaction.appended([record])
  }
}

/** A journal of one `self` record, compacted as it grows past 10 records, and a sender appending to it. */
function senderBeside(historyLimit: number) {
  const disk = new FakeDisk([{ t: 'self', epoch: 's' }], 10 * RECORD_BYTES)
  const reports: CompactionReport[] = []
  const compaction = new OnlineCompaction(disk, {
    self,
    historyLimit,
    windowSize: 8,
    compacted: (report) => reports.push(report),
    failed: (message) => expect.fail(message),
  })
  return { disk, reports, compaction, bob: new Sender(disk, compaction) }
}

interface Run {
  disk: FakeDisk
  all: JournalRecord[]
  reports: CompactionReport[]
  failures: string[]
  compaction: OnlineCompaction
}

/**
 * How the journal is played: `read`, a disk that gives no places (each compaction reads the file back);
 * `fresh`, one that gives places and starts empty; `restarted`, one that gives places and starts with a
 * record, as after a restart.
 */
type Mode = 'read' | 'fresh' | 'restarted'

async function play(
  commands: readonly Command[],
  historyLimit: number,
  windowSize: number,
  mode: Mode = 'read',
): Promise<Run> {
  const placed = mode !== 'read'
  const start: JournalRecord = { t: 'self', epoch: 's' }
  const disk = new FakeDisk(placed ? [] : [start], 10 * RECORD_BYTES, placed)
  if (mode === 'restarted') void disk.appendPlaced([start])
  const all: JournalRecord[] = [start]
  const reports: CompactionReport[] = []
  const failures: string[] = []
  // The compaction's steps wait for turns the test gives them, between appends.
  const turns: (() => void)[] = []
  const compaction = new OnlineCompaction(disk, {
    self,
    historyLimit,
    windowSize,
    compacted: (report) => reports.push(report),
    failed: (message) => failures.push(message),
    nextTurn: () => new Promise((resolve) => turns.push(resolve)),
  })
  const settled = () => new Promise((resolve) => setImmediate(resolve))
  const append = (record: JournalRecord) => {
    // As `Persistence.append`: the journal takes the records, then the mirror does.
    if (placed) compaction.appended([record], disk.appendPlaced([record]))
    else {
      disk.append([record])
      compaction.appended([record])
    }
  }
  if (mode === 'fresh') append(start)
  const appendRecord = (record: JournalRecord) => {
    all.push(record)
    append(record)
  }
  let sentSeq = 0
  let unique = 0
  const received = new Map<string, number>()
  for (const c of commands) {
    const id = ORIGINS[c.origin] as string
    const peer = { id, name: NAMES[c.name] as string }
    unique++
    switch (c.kind) {
      case 'sent':
        sentSeq = Math.max(0, sentSeq + c.step)
        appendRecord({ t: 'sent', msg: msgOf(self.id, sentSeq, unique) })
        break
      case 'received': {
        const seq = Math.max(1, (received.get(id) ?? 0) + c.step)
        received.set(id, seq)
        // Half of them with an arrival time, as this release writes them; half without, as earlier ones did.
        const at = unique % 2 === 0 ? { at: 1_800_000_000_000 + unique } : {}
        appendRecord({ t: 'received', msg: msgOf(id, seq, unique), name: peer.name, ...at })
        break
      }
      case 'acked':
        appendRecord({ t: 'acked', peer, upTo: Math.max(0, sentSeq - 1 + c.step) })
        break
      case 'settled':
        appendRecord({ t: 'settled', upTo: Math.max(0, sentSeq - 2 + c.step) })
        break
      case 'peer':
        if (c.step !== 1) received.set(id, 0)
        appendRecord({ t: 'peer', peer, epoch: EPOCHS[c.epoch] as string })
        break
      case 'base':
        appendRecord({ t: 'base', peer, seq: Math.max(0, (received.get(id) ?? 0) + c.step) })
        break
      case 'compact':
        void compaction.compact()
        break
      case 'turn':
        turns.shift()?.()
        await settled()
        break
      case 'settle':
      case 'fail':
        if (disk.finish(c.kind === 'settle')) await settled()
        break
    }
  }
  while (compaction.busy) {
    for (const turn of turns.splice(0)) turn()
    disk.finish(true)
    await settled()
  }
  return { disk, all, reports, failures, compaction }
}

function msgOf(from: string, seq: number, unique: number) {
  return { type: 'msg' as const, id: `m${unique}`, seq, ts: unique, from, body: `body ${unique}` }
}

/**
 * The compacted journal restores what the whole one does. One difference is allowed, and only in our own
 * outbox: a neighbour that is new or restarted after a compaction has acked nothing, so the whole journal
 * would count every message we ever sent as waiting for it, where the compacted one counts those it kept
 * (every one that a neighbour known then had not acked, and our window). The live node never sends such
 * old messages again either: they left its window when every neighbour of the time had them.
 */
function expectSameState(compacted: RestoredState, whole: RestoredState): void {
  const { outbox, recent, ...rest } = compacted
  const { outbox: wholeOutbox, recent: wholeRecent, ...wholeRest } = whole
  expect(rest).toStrictEqual(wholeRest)
  expect([...compacted.peers.keys()]).toEqual([...whole.peers.keys()])
  expect(outbox).toStrictEqual(wholeOutbox.slice(wholeOutbox.length - outbox.length))
  expect(recent).toStrictEqual(wholeRecent.slice(wholeRecent.length - recent.length))
  expect(recent.length).toBeGreaterThanOrEqual(Math.min(wholeRecent.length, outbox.length))
}

/** No message is on disk twice: a rewrite keeps each record it read once, and appends follow it once. */
function expectEachMessageOnce(disk: readonly JournalRecord[]): void {
  const ids = disk.flatMap((r) => (r.t === 'sent' || r.t === 'received' ? [r.msg.id] : []))
  expect(new Set(ids).size).toBe(ids.length)
}

/**
 * What both disks are held to over random traffic: the compacted journal restores what the whole one does,
 * the count is the journal on disk's, no record is held in memory once no compaction runs, and no message
 * is on disk twice.
 */
function compactsFaithfully(mode: Mode) {
  return fc.asyncProperty(
    fc.array(command, { minLength: 50, maxLength: 400 }),
    fc.integer({ min: 1, max: 6 }),
    fc.integer({ min: 1, max: 4 }),
    async (commands, historyLimit, windowSize) => {
      cases++
      const run = await play(commands, historyLimit, windowSize, mode)
      const allowed = mode === 'restarted' ? 1 : 0
      needlessReads += Math.max(0, run.disk.scans - allowed)
      if (mode === 'restarted') firstReads += run.disk.scans
      expect(run.failures.filter((f) => !f.includes('disk full'))).toEqual([])
      expectSameState(
        restore(run.disk.disk, self, historyLimit, windowSize),
        restore(run.all, self, historyLimit, windowSize),
      )
      expect(run.compaction.held).toBe(run.disk.disk.length)
      expect(run.compaction.holding).toBe(0)
      expectEachMessageOnce(run.disk.disk)
    },
  )
}

describe('online journal compaction', () => {
  it('restores from the compacted journal what the whole journal restores, whatever is appended during a rewrite', async () => {
    await fc.assert(compactsFaithfully('read'), { numRuns: RUNS, seed: SEED })
  })

  it('replays the appends instead of reading the journal back, where the store says where frames are', async () => {
    await fc.assert(compactsFaithfully('fresh'), { numRuns: PLACED_RUNS, seed: SEED + 1 })
  })

  it('reads a journal that held records at start back once, then replays the appends', async () => {
    await fc.assert(compactsFaithfully('restarted'), { numRuns: PLACED_RUNS, seed: SEED + 2 })
  })

  it('reads the journal back only once a rewrite could halve it: not while the history keeps most records', async () => {
    cases++
    const historyLimit = 100
    const { disk, reports, compaction, bob } = senderBeside(historyLimit)
    const receive = () => bob.receive()
    // Far past the size that triggers a compaction, but the history still needs more than half the records.
    // The journal holds a `self` record and `seq` receipts: it is tried at 2.1 times the history (seq 209).
    while (bob.seq < 208) {
      receive()
      expect(compaction.busy).toBe(false)
    }
    receive()
    expect(compaction.busy).toBe(true)
    // Only what is appended while a compaction runs is held in memory: it follows the kept records.
    expect(compaction.holding).toBe(0)
    receive()
    expect(compaction.holding).toBe(1)
    const settle = async () => {
      while (compaction.busy) {
        disk.finish(true)
        await new Promise((resolve) => setImmediate(resolve))
      }
    }
    await settle()
    // Just past twice the history a rewrite may still keep a few too many; the journal goes on growing
    // until one lands, and then holds the history and little else.
    while (reports.length === 0 && bob.seq < 10 * historyLimit) {
      receive()
      await settle()
    }
    expect(reports).toHaveLength(1)
    expect(compaction.held).toBe(disk.disk.length)
    expect(compaction.holding).toBe(0)
    expect(disk.disk.length).toBeLessThan(bob.seq / 2)
  })

  it('writes a journal compacted at start-up over the file as it is made, appends going on meanwhile', async () => {
    for (const lands of [true, false]) {
      cases++
      const all: JournalRecord[] = [{ t: 'self', epoch: 's' }]
      for (let seq = 1; seq <= 300; seq++)
        all.push({ t: 'received', msg: msgOf(ORIGINS[0], seq, seq), name: 'bob' })
      const kept = compactJournal(all, self, 20, 4) ?? []
      const disk = new FakeDisk(all, 10 * RECORD_BYTES)
      const reports: CompactionReport[] = []
      const failures: string[] = []
      const compaction = new OnlineCompaction(
        {
          records: kept,
          size: () => disk.size(),
          scan: (onFrame) => disk.scan(onFrame),
          load: (frames) => disk.load(frames),
          rewrite: (records) => disk.rewrite(records),
          minBytes: disk.minBytes,
          compactedFrom: all.length,
        },
        {
          self,
          historyLimit: 20,
          windowSize: 4,
          compacted: (report) => reports.push(report),
          failed: (message) => failures.push(message),
        },
      )
      // The rewrite was called as the compaction was made, before any append.
      expect(compaction.busy).toBe(true)
      const appended: JournalRecord = { t: 'received', msg: msgOf(ORIGINS[0], 301, 301), name: 'bob' }
      disk.append([appended])
      compaction.appended([appended])
      expect(disk.finish(lands)).toBe(true)
      while (compaction.busy) await new Promise((resolve) => setImmediate(resolve))
      const whole = [...all, appended]
      expect(disk.disk).toEqual(lands ? [...kept, appended] : whole)
      expect(reports).toEqual(
        lands
          ? [
              {
                records: all.length,
                keptRecords: kept.length,
                bytes: all.length * RECORD_BYTES,
                keptBytes: (kept.length + 1) * RECORD_BYTES,
              },
            ]
          : [],
      )
      expect(failures).toEqual(lands ? [] : [expect.stringContaining('the journal is unchanged')])
      expectSameState(restore(disk.disk, self, 20, 4), restore(whole, self, 20, 4))
      // The count follows the file, compacted or not, and nothing was read back to write it.
      expect(compaction.held).toBe(disk.disk.length)
      expect(compaction.holding).toBe(0)
    }
  })

  it('counts from what a compaction kept, not from what was appended while it read the journal', async () => {
    cases++
    const historyLimit = 10
    // Compacted first at 100 records, of which the history and the window keep about a tenth.
    const disk = new FakeDisk([{ t: 'self', epoch: 's' }], 100 * RECORD_BYTES)
    const turns: (() => void)[] = []
    const compaction = new OnlineCompaction(disk, {
      self,
      historyLimit,
      windowSize: 2,
      compacted: () => undefined,
      failed: (message) => expect.fail(message),
      nextTurn: () => new Promise((resolve) => turns.push(resolve)),
    })
    const bob = new Sender(disk, compaction)
    const receive = () => bob.receive()
    while (!compaction.busy) receive()
    // A slow read back: 200 records arrive before the compaction gets its turn again.
    for (let i = 0; i < 200; i++) receive()
    while (compaction.busy) {
      for (const turn of turns.splice(0)) turn()
      disk.finish(true)
      await new Promise((resolve) => setImmediate(resolve))
    }
    const afterRewrite = disk.disk.length
    expect(afterRewrite).toBeGreaterThan(200)
    // The history and the window are a few records: the next compaction comes long before the journal is
    // 4 times the size it had with those 200 after the rewrite.
    let appended = 0
    while (!compaction.busy && appended < 4 * afterRewrite) {
      receive()
      appended++
    }
    expect(compaction.busy).toBe(true)
    expect(appended).toBeLessThan(afterRewrite)
  })

  it('counts the lines messages carry against the history: messages of many lines are compacted as early', async () => {
    cases++
    const historyLimit = 100
    const { disk, reports, compaction, bob } = senderBeside(historyLimit)
    // Messages of 20 lines: the history's 100 lines are 5-6 of them, not 100 messages.
    while (reports.length === 0 && bob.seq < 100) {
      bob.receive(20)
      while (compaction.busy) {
        disk.finish(true)
        await new Promise((resolve) => setImmediate(resolve))
      }
    }
    expect(reports).toHaveLength(1)
    // Tried once the journal was past the size that triggers one, long before it held 2.1 times 100 messages.
    expect(bob.seq).toBeLessThan(40)
    expect(disk.disk.length).toBeLessThan(bob.seq / 2)
    const kept = restore(disk.disk, self, historyLimit, 8)
    expect(kept.history).toHaveLength(historyLimit)
    expect(kept.history.at(-1)).toMatchObject({ seq: bob.seq, body: 'line 19' })
  })

  it('keeps the journal bounded under steady traffic, and reports each compaction once', async () => {
    cases++
    const commands: Command[] = []
    for (let i = 0; i < 20_000; i++) {
      const kind: Kind =
        i % 3 === 0 ? 'sent' : i % 3 === 1 ? 'received' : i % 50 === 2 ? 'acked' : i % 2 ? 'turn' : 'settle'
      commands.push({ kind, origin: i % 2, name: 0, epoch: 0, step: 1 })
    }
    const run = await play(commands, 50, 8)
    expect(run.reports.length).toBeGreaterThan(10)
    for (const report of run.reports) expect(report.keptRecords).toBeLessThan(report.records)
    // Past what must be kept (history, windows, outbox, peers), the journal never grows beyond 4 times it.
    const largest = Math.max(...run.reports.map((r) => r.bytes))
    expect(largest).toBeLessThan(run.all.length * RECORD_BYTES)
    expect(run.disk.disk.length).toBeLessThan(run.all.length / 10)
    expectSameState(restore(run.disk.disk, self, 50, 8), restore(run.all, self, 50, 8))
  })
})

describe('a store that compresses what it rewrites', () => {
  it('is compacted as often as a plain one, its growth measured stored plain, and reports the bytes on disk', async () => {
    cases++
    /** Compactions of the same traffic, on a disk that stores rewritten records in a third of the space or not. */
    const compactions = async (compresses: boolean) => {
      const disk = new FakeDisk([{ t: 'self', epoch: 's' }], 10 * RECORD_BYTES)
      // Records a rewrite wrote are stored in a third; those appended since, plain.
      let rewritten = 0
      const rewrite = disk.rewrite.bind(disk)
      disk.rewrite = async (records) => {
        await rewrite(records)
        rewritten = records.length
      }
      const reports: CompactionReport[] = []
      const at: number[] = []
      const compaction = new OnlineCompaction(
        {
          get records() {
            return disk.records
          },
          size: () => disk.size(),
          ...(compresses
            ? { diskSize: () => disk.size() - Math.round((rewritten * RECORD_BYTES * 2) / 3) }
            : {}),
          scan: (onFrame) => disk.scan(onFrame),
          load: (frames) => disk.load(frames),
          rewrite: (records) => disk.rewrite(records),
          minBytes: disk.minBytes,
        },
        {
          self,
          historyLimit: 20,
          windowSize: 4,
          compacted: (report) => reports.push(report),
          failed: (message) => expect.fail(message),
        },
      )
      const bob = new Sender(disk, compaction)
      while (bob.seq < 2_000) {
        bob.receive()
        if (compaction.busy) {
          at.push(bob.seq)
          while (compaction.busy) {
            disk.finish(true)
            await new Promise((resolve) => setImmediate(resolve))
          }
        }
      }
      return { at, reports }
    }
    const plain = await compactions(false)
    const compressed = await compactions(true)
    expect(plain.reports.length).toBeGreaterThan(5)
    expect(compressed.at).toEqual(plain.at)
    expect(compressed.reports.map((r) => r.keptRecords)).toEqual(plain.reports.map((r) => r.keptRecords))
    // Each report's kept bytes are what the rewrite put on disk: a third of the plain size.
    compressed.reports.forEach((report, i) => {
      const kept = plain.reports[i]?.keptBytes ?? 0
      expect(report.keptBytes).toBe(kept - Math.round((report.keptRecords * RECORD_BYTES * 2) / 3))
      expect(report.keptBytes).toBeLessThan(kept / 2)
    })
    // Before the first rewrite nothing is stored compressed.
    expect(compressed.reports[0]?.bytes).toBe(plain.reports[0]?.bytes)
    expect(compressed.reports.slice(1).every((r, i) => r.bytes < (plain.reports[i + 1]?.bytes ?? 0))).toBe(
      true,
    )
  })
})
