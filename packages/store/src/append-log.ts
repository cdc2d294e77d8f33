import { constants as fsConstants, rmSync } from 'node:fs'
import { copyFile, type FileHandle, open, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import { LogError } from './errors.js'
import { syncDirectory, writeAll } from './fs-sync.js'
import {
  FILE_MODE,
  type FramePosition,
  HEADER_PEEK_BYTES,
  ioError,
  ONLINE_SCAN_CHUNK_BYTES,
  openOrCreate,
  readAt,
  scanFile,
} from './log-file.js'
import {
  COMPRESSED,
  checkHeader,
  compressedFrame,
  DEFAULT_MAX_RECORD_BYTES,
  type DecodeFrame,
  decodePayload,
  type EncodeRecords,
  encodeFrame,
  FORMAT_VERSION,
  FRAME_HEADER_BYTES,
  type FrameScan,
  LOG_HEADER,
  LOG_HEADER_V2,
  MAX_FRAME_BYTES,
  type SkimFrame,
  scanFrames,
} from './log-format.js'
import { OpenFlags, SYNC_ON_WRITE } from './private-files.js'
import { type AccountOf, LogUsage } from './usage.js'
import { zlib } from './zlib.js'

export type { FramePosition } from './log-file.js'

export interface AppendLogOptions {
  /** Told when open cuts off a torn or corrupt tail; defaults to `process.emitWarning`. */
  onWarning?: (message: string) => void
  /** The largest encoded append; default 16 MiB. Reading accepts any frame up to the format's 1 GiB. */
  maxRecordBytes?: number
  /**
   * Names the account each record's bytes count against (`usage`), or undefined for none. Without it,
   * `usage` stays empty.
   */
  accountOf?: AccountOf
  /**
   * Sees each good frame's records as open reads them, with where the frame is (for `readFrames`). With
   * it, `records` stays empty: a long log is never held whole. What it throws fails the open as it is.
   */
  onRecords?: (records: readonly unknown[], frame: FramePosition) => void
  /** With `onRecords`: what it sees of each frame, where the skim recognizes it (`readFrames` parses in full). */
  skim?: SkimFrame
  /**
   * The JSON text of an append's records (a rewrite's use `JSON.stringify`): for a caller that reuses text
   * it made already. It must be JSON that parses to the records; `JSON.stringify` by default.
   */
  encode?: EncodeRecords
}

export interface AppendLogStats {
  /** Calls to `append` that completed. */
  appends: number
  records: number
  /** Flushes that wrote something: each is one `write` and, where writes are not synced, one `fdatasync`. */
  flushes: number
  /** Bytes appended (rewrites not included). */
  bytes: number
}

interface Waiter {
  resolve: (frame: FramePosition | undefined) => void
  reject: (error: Error) => void
  /** The index of its frame in its batch's frames; none for an append of no records. */
  frame?: number
}

/**
 * Where a rewrite put what the log holds: the frames of the records it was given, in order, each with how
 * many of them it holds, and the new place of every frame appended while it ran (keyed by the position its
 * append resolved with). Each position is one `readFrames` can read until the next rewrite.
 */
export interface RewriteLayout {
  readonly frames: readonly { readonly records: number; readonly frame: FramePosition }[]
  readonly moved: ReadonlyMap<FramePosition, FramePosition>
}

/** Appends that will be written together by one flush. */
interface Batch {
  frames: Buffer[]
  bytes: number
  records: number
  waiters: Waiter[]
  /** Rewrites called before this batch began: its bytes follow their records in the new file too. */
  carries?: Carry[]
}

/**
 * What was appended to the old file after a rewrite was called, while its new file was written: the
 * rewrite copies it to the new file before the rename, so appends need not wait for the whole rewrite.
 */
interface Carry {
  readonly chunks: Buffer[]
  /** Bytes of the chunks so far. */
  bytes: number
  /** Each carried frame's position in the old file, and its offset in the chunks. */
  readonly frames: { readonly from: FramePosition; readonly at: number }[]
  /** What the chunks would take stored plain. */
  plain: number
  /** False once the rewrite took its chunks (or failed): later flushes go to the new file. */
  open: boolean
}

/**
 * A file of JSON records that survives `kill -9` and power loss: every append whose promise resolved
 * is on disk, and a torn tail is cut off on the next open. Appends made while a flush is running share
 * the next flush (group commit).
 *
 * @example
 * const log = await AppendLog.open(dir.file('journal.log'))
 * for (const record of log.records) replay(record)
 * await log.append([{ t: 'sent', seq: 1 }])
 */
export class AppendLog {
  /** Everything read at open, in append order (empty after `forgetRecords`). */
  records: unknown[]
  readonly #path: string
  readonly #maxRecordBytes: number
  readonly #encode: EncodeRecords
  readonly #accountOf: AccountOf | undefined
  /**
   * Bytes per account (see `AppendLogOptions.accountOf`), counted from open and every append, as the
   * records take stored plain: what a frame saves compressed is not credited, so a quota means the same
   * whatever compresses.
   */
  readonly usage: LogUsage
  #file: FileHandle
  #size: number
  /** What the file would take with every frame stored plain (see `plainSize`). */
  #plainSize: number
  /** The batch new appends join; null once its flush has started (or a rewrite or close sealed it). */
  #pending: Batch | null = null
  /** Flushes, rewrites and the close run one after another on this chain, in call order. */
  #work: Promise<void> = Promise.resolve()
  #failure: LogError | null = null
  #closing: Promise<void> | null = null
  /** Rewrites under way, one after another: each writes the same temporary file. */
  #rewrites: Promise<void> = Promise.resolve()
  readonly #carries = new Set<Carry>()
  /** Per rewrite whose records are still being encoded: what the appends made since its call count. */
  readonly #counting = new Set<LogUsage>()
  readonly #stats: AppendLogStats = { appends: 0, records: 0, flushes: 0, bytes: 0 }

  private constructor(
    path: string,
    file: FileHandle,
    size: number,
    plainSize: number,
    records: unknown[],
    maxRecordBytes: number,
    accountOf: AccountOf | undefined,
    usage: LogUsage,
    encode: EncodeRecords,
  ) {
    this.#encode = encode
    this.#path = path
    this.#accountOf = accountOf
    this.usage = usage
    this.#file = file
    this.#size = size
    this.#plainSize = plainSize
    this.records = records
    this.#maxRecordBytes = maxRecordBytes
  }

  /** Opens (or creates) the log at `path` and replays its records; a torn tail is cut off with a warning. */
  static async open(path: string, options: AppendLogOptions = {}): Promise<AppendLog> {
    const warn =
      options.onWarning ?? ((message: string) => process.emitWarning(message, 'ParleyStoreWarning'))
    const maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES
    if (!(maxRecordBytes >= 2 && maxRecordBytes <= MAX_FRAME_BYTES)) {
      throw new RangeError(`maxRecordBytes must be between 2 and ${MAX_FRAME_BYTES}`)
    }
    const file = await openOrCreate(path)
    const accountOf = options.accountOf
    const encode = options.encode ?? JSON.stringify
    const usage = new LogUsage()
    let rejected: { error: unknown } | undefined
    try {
      const size = (await file.stat()).size
      const header = checkHeader(await readAt(file, 0, Math.min(size, HEADER_PEEK_BYTES)))
      switch (header.status) {
        case 'incomplete':
          if (size > 0) warn(`${path}: the log header was incomplete (${size} bytes); rewrote it`)
          await file.truncate(0)
          await writeAll(file, LOG_HEADER_V2, 0)
          await file.sync()
          return new AppendLog(
            path,
            file,
            LOG_HEADER_V2.length,
            LOG_HEADER_V2.length,
            [],
            maxRecordBytes,
            accountOf,
            usage,
            encode,
          )
        case 'version':
          throw new LogError(
            'VERSION',
            `${path} is a parley log of format version ${header.found}, this parley reads versions 1 to ${FORMAT_VERSION}; upgrade parley`,
          )
        case 'foreign':
          throw new LogError('NOT_A_LOG', `${path} is not a parley log; move it away or use another data dir`)
        case 'ok':
          break
        default: {
          const _exhaustive: never = header
          return _exhaustive
        }
      }
      const onRecords = options.onRecords
      const skim = onRecords && options.skim
      const decode: DecodeFrame = skim ? (payload) => decodePayload(payload, skim) : decodePayload
      const scan = await scanFile(file, size, !onRecords, decode, (records, frame, plain) => {
        if (accountOf) usage.addFrame(records, plain, accountOf)
        if (!onRecords) return
        try {
          onRecords(records, frame)
        } catch (error) {
          rejected = { error }
          throw error
        }
      })
      if (scan.end < size) {
        // Damage with good bytes after it is not what a crash leaves: keep the log as it was before
        // cutting it, so that what follows the damage can still be recovered by hand.
        const copy = (await damagedInMiddle(file, scan.end, size)) ? await keepCopy(path) : undefined
        await file.truncate(scan.end)
        await file.sync()
        const dropped = `${path}: dropped ${size - scan.end} bytes at offset ${scan.end} (${scan.problem})`
        warn(
          copy === undefined
            ? `${dropped}, a write torn by a crash; every earlier record is intact`
            : `${dropped}, damage in the middle of the log, not a write torn by a crash; every earlier ` +
                `record is intact, and the log as it was, with the records after the damage, is kept in ${copy}`,
        )
      }
      // Synchronous: one call as the log opens, where a round trip through the thread pool took longer.
      rmSync(`${path}.rewrite`, { force: true })
      const plainSize = LOG_HEADER.length + scan.plainBytes
      return new AppendLog(
        path,
        file,
        scan.end,
        plainSize,
        scan.records,
        maxRecordBytes,
        accountOf,
        usage,
        encode,
      )
    } catch (error) {
      await file.close().catch(() => {})
      if (rejected) throw rejected.error
      throw error instanceof LogError ? error : ioError(`cannot open ${path}`, error)
    }
  }

  /**
   * The records of frames seen at open (`AppendLogOptions.onRecords`), read again, in the order asked.
   * Valid until the first `rewrite`, which moves every frame.
   * @throws LogError (IO) if a frame is no longer the good frame it was
   */
  async readFrames(frames: readonly FramePosition[]): Promise<(readonly unknown[])[]> {
    const out: (readonly unknown[])[] = []
    for (const frame of frames) {
      const bytes = await readAt(this.#file, frame.offset, frame.bytes)
      const scan = scanFrames(bytes, 0)
      if (scan.end !== frame.bytes)
        throw new LogError(
          'IO',
          `${this.#path} changed at offset ${frame.offset} (${scan.problem}); reopen it`,
        )
      out.push(scan.records)
    }
    return out
  }

  /**
   * Every record appended before this call, read back from the file once they are all on it, in order:
   * a compaction reads the log this way instead of keeping its records in memory. Appends made after the
   * call are not included, and do not wait for the read. With `onRecords` (and `skim`, as for `open`),
   * each good frame's records are handed over as the file is read and none are kept (the result is empty);
   * `readFrames` reads chosen frames again until the next `rewrite`.
   * @throws LogError (IO) if the file cannot be read or no longer holds good frames up to its end
   */
  async readAll(options: Pick<AppendLogOptions, 'onRecords' | 'skim'> = {}): Promise<unknown[]> {
    const refusal = this.#refusal()
    if (refusal) throw refusal
    // Appends from here on start a new batch: the size is taken once every earlier one is on the file.
    this.#pending = null
    const size = await this.#enqueue(async () => {
      if (this.#failure) throw this.#failure
      return this.#size
    })
    // Frames before `size` do not change until a rewrite, so they are read while appends go on after them.
    const { onRecords, skim } = options
    const decode: DecodeFrame = onRecords && skim ? (payload) => decodePayload(payload, skim) : decodePayload
    let rejected: { error: unknown } | undefined
    const seen = (records: readonly unknown[], frame: FramePosition) => {
      try {
        onRecords?.(records, frame)
      } catch (error) {
        rejected = { error }
        throw error
      }
    }
    let scan: FrameScan
    try {
      scan = await scanFile(this.#file, size, !onRecords, decode, seen, ONLINE_SCAN_CHUNK_BYTES)
    } catch (cause) {
      // What onRecords throws fails the read as it is.
      if (rejected) throw rejected.error
      throw cause instanceof LogError ? cause : ioError(`cannot read ${this.#path}`, cause)
    }
    if (scan.end !== size)
      throw new LogError('IO', `${this.#path} changed at offset ${scan.end} (${scan.problem}); reopen it`)
    return scan.records
  }

  /** Lets go of the records read at open, once the caller has replayed them: a long log need not stay in memory. */
  forgetRecords(): void {
    this.records = []
  }

  get path(): string {
    return this.#path
  }

  /** Bytes on disk, header included; compare with the size after the last `rewrite` to decide when to compact. */
  get size(): number {
    return this.#size
  }

  /**
   * What the file would take with every frame stored plain: a frame a rewrite compressed counts as its
   * JSON. The measure of growth for deciding when to compact, so that a well-compressed rewrite does not
   * make the next one come sooner; `size` is what the disk holds.
   */
  get plainSize(): number {
    return this.#plainSize
  }

  get stats(): Readonly<AppendLogStats> {
    return { ...this.#stats }
  }

  /**
   * Resolves once `records` are on disk, after every earlier append. Appends made while a flush runs are
   * written together by the next one. After a crash, an append is either wholly there or wholly absent.
   * Resolves with where its frame is (none for no records), for `readFrames` until the next `rewrite`,
   * which says where the frame went if it was carried over (`RewriteLayout.moved`).
   */
  append(records: readonly unknown[]): Promise<FramePosition | undefined> {
    const refusal = this.#refusal()
    if (refusal) return Promise.reject(refusal)
    let frame: Buffer | undefined
    try {
      if (records.length > 0) frame = encodeFrame(records, this.#maxRecordBytes, this.#encode)
    } catch (error) {
      return Promise.reject(error)
    }
    const batch = this.#batch()
    if (frame && this.#accountOf) {
      this.usage.addFrame(records, frame.length, this.#accountOf)
      for (const since of this.#counting) since.addFrame(records, frame.length, this.#accountOf)
    }
    const waiter: Waiter = { resolve: () => {}, reject: () => {} }
    if (frame) {
      waiter.frame = batch.frames.length
      batch.frames.push(frame)
      batch.bytes += frame.length
      batch.records += records.length
    }
    return new Promise((resolve, reject) => {
      waiter.resolve = resolve
      waiter.reject = reject
      batch.waiters.push(waiter)
    })
  }

  /**
   * Atomically replaces the whole log with `records` (compaction): a crash leaves either the old log or
   * the new one. Appends made after this call follow the new records. They do not wait for the new file
   * to be written: they go on to the old file meanwhile, and are copied after the new records just
   * before the rename. The new file is format version 2: its frames are compressed where that makes them
   * smaller. The records are encoded, and the frames compressed, a little at a time, with other work let in
   * between, so the records must not change until the returned promise settles. Resolves with where the
   * records' frames are, and where the carried appends went (see `RewriteLayout`).
   */
  rewrite(records: readonly unknown[]): Promise<RewriteLayout> {
    const refusal = this.#refusal()
    if (refusal) return Promise.reject(refusal)
    const accountOf = this.#accountOf
    // Appends from here on start a new batch, which the carry follows.
    this.#pending = null
    const carry: Carry = { chunks: [], bytes: 0, frames: [], plain: 0, open: true }
    this.#carries.add(carry)
    // Until the records are encoded, the old log's counts stay, with the appends made since on top:
    // counting more than the disk holds for a moment, never less.
    const since = accountOf ? new LogUsage() : undefined
    if (since) this.#counting.add(since)
    const encoding = encodeGroups(records, this.#maxRecordBytes)
    // Its failure is awaited below, once earlier rewrites are done; until then it is not unhandled.
    encoding.catch(() => {})
    let swapped: { out: Map<string, number>; back: Map<string, number> } | undefined
    const done = this.#rewrites.then(async () => {
      let groups: RewriteFrame[]
      try {
        groups = await encoding
      } catch (error) {
        carry.open = false
        this.#carries.delete(carry)
        throw error
      } finally {
        if (since) this.#counting.delete(since)
      }
      if (accountOf && since) {
        // The new log's counts: its records as stored plain, and the appends made since the call.
        const next = new LogUsage()
        for (const group of groups) next.addFrame(group.records, group.frame.length, accountOf)
        const out = next.accounts()
        for (const [account, bytes] of since.accounts()) out.set(account, (out.get(account) ?? 0) + bytes)
        swapped = { out, back: this.usage.accounts() }
        this.usage.swap(swapped.back, swapped.out)
      }
      return this.#replace(groups, carry)
    })
    this.#rewrites = done.then(
      () => {},
      () => {},
    )
    return done.catch((error: unknown) => {
      // The old log is still the one on disk (or none is usable): count its records again.
      if (swapped) this.usage.swap(swapped.out, swapped.back)
      throw error
    })
  }

  /** Flushes what was appended before this call and closes the file; later appends are refused. */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#pending = null
      // A rewrite under way finishes first, as if it had been queued before the close.
      this.#closing = this.#rewrites.then(() => this.#enqueue(() => this.#file.close()))
    }
    return this.#closing
  }

  #refusal(): LogError | null {
    if (this.#closing) return new LogError('CLOSED', `${this.#path} is closed`)
    return this.#failure
  }

  #batch(): Batch {
    if (this.#pending) return this.#pending
    const batch: Batch = { frames: [], bytes: 0, records: 0, waiters: [] }
    if (this.#carries.size > 0) batch.carries = [...this.#carries]
    this.#pending = batch
    this.#enqueue(() => {
      if (this.#pending === batch) this.#pending = null
      return this.#flush(batch)
    })
    return batch
  }

  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#work.then(task)
    this.#work = run.then(
      () => {},
      () => {},
    )
    return run
  }

  async #flush(batch: Batch): Promise<void> {
    // Where each of the batch's frames goes, as stored (compressed or not).
    let positions: FramePosition[] = []
    try {
      if (this.#failure) throw this.#failure
      if (batch.bytes > 0) {
        // Stored plain; the next rewrite compresses them. Compressing a flood's appends on the way to the
        // disk took about 8 % of a durable node's CPU (`pnpm bench` secureDurable: 7.7 % of the busy time
        // under Brotli, 6 % of the wall time over five paired runs). Growth is measured plain
        // (`plainSize`), so the online compaction comes as often either way and leaves the log compressed.
        const frames = batch.frames
        const bytes = frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames)
        const start = this.#size
        positions = positionsOf(frames, start)
        try {
          await writeAll(this.#file, bytes, this.#size)
          // Opened with SYNC_ON_WRITE, the write returned once durable: one trip to the disk, not two.
          if (!SYNC_ON_WRITE) await this.#file.datasync()
        } catch (cause) {
          this.#failure = ioError(`cannot append to ${this.#path}`, cause, 'reopen the log to continue')
          // Take back whatever part of the batch reached the file, so no rejected append reappears on reopen.
          // Synced too: with SYNC_ON_WRITE the part that reached the file is already on the disk.
          await this.#file
            .truncate(this.#size)
            .then(() => this.#file.sync())
            .catch(() => {})
          throw this.#failure
        }
        this.#size += bytes.length
        this.#plainSize += batch.bytes
        if (batch.carries)
          for (const carry of batch.carries)
            if (carry.open) {
              for (const from of positions) carry.frames.push({ from, at: carry.bytes + from.offset - start })
              carry.chunks.push(bytes)
              carry.bytes += bytes.length
              carry.plain += batch.bytes
            }
        this.#stats.flushes++
        this.#stats.bytes += bytes.length
      }
      this.#stats.appends += batch.waiters.length
      this.#stats.records += batch.records
      for (const waiter of batch.waiters)
        waiter.resolve(waiter.frame === undefined ? undefined : positions[waiter.frame])
    } catch (error) {
      for (const waiter of batch.waiters) waiter.reject(error as Error)
    }
  }

  /**
   * Compresses the frames and writes the new file and syncs it while appends go on to the old one; then,
   * with appends held (on the work chain), copies what they added since the rewrite was called, syncs, and
   * renames it over the log.
   */
  async #replace(groups: readonly RewriteFrame[], carry: Carry): Promise<RewriteLayout> {
    const temp = `${this.#path}.rewrite`
    const frames = groups.map((group) => group.frame)
    const layout: { records: number; frame: FramePosition }[] = []
    let file: FileHandle | undefined
    let bytes: Buffer
    try {
      if (this.#failure) throw this.#failure
      const stored = await compressFrames(frames)
      positionsOf(stored, LOG_HEADER_V2.length).forEach((frame, i) => {
        layout.push({ records: (groups[i] as RewriteFrame).records.length, frame })
      })
      bytes = Buffer.concat([LOG_HEADER_V2, ...stored])
      // A fresh file: a link planted at the temporary name must not be written through.
      await rm(temp, { force: true })
      file = await open(temp, OpenFlags.createNew, FILE_MODE)
      await writeAll(file, bytes, 0)
      await file.sync()
    } catch (cause) {
      carry.open = false
      this.#carries.delete(carry)
      await file?.close().catch(() => {})
      await rm(temp, { force: true }).catch(() => {})
      throw cause instanceof LogError
        ? cause
        : ioError(`cannot rewrite ${this.#path}`, cause, 'the log is unchanged')
    }
    let plain = LOG_HEADER_V2.length
    for (const frame of frames) plain += frame.length
    const written = bytes.length
    await this.#enqueue(() => this.#swap(file as FileHandle, temp, written, plain, carry))
    const moved = new Map<FramePosition, FramePosition>()
    for (const { from, at } of carry.frames) moved.set(from, { offset: written + at, bytes: from.bytes })
    return { frames: layout, moved }
  }

  async #swap(file: FileHandle, temp: string, written: number, plain: number, carry: Carry): Promise<void> {
    // No flush runs now: every batch flushed since the call is in `carry`, later ones go to the new file.
    carry.open = false
    this.#carries.delete(carry)
    let size = written
    try {
      if (this.#failure) throw this.#failure
      if (carry.chunks.length > 0) {
        const tail = Buffer.concat(carry.chunks)
        await writeAll(file, tail, written)
        await file.sync()
        size += tail.length
      }
      await file.close()
      await rename(temp, this.#path)
    } catch (cause) {
      await file.close().catch(() => {})
      await rm(temp, { force: true }).catch(() => {})
      throw cause instanceof LogError
        ? cause
        : ioError(`cannot rewrite ${this.#path}`, cause, 'the log is unchanged')
    }
    // The new file is in place: from here a failure leaves the log unusable until it is reopened.
    try {
      await syncDirectory(dirname(this.#path))
      const next = await open(this.#path, OpenFlags.readWriteSynced)
      await this.#file.close()
      this.#file = next
      this.#size = size
      this.#plainSize = plain + carry.plain
    } catch (cause) {
      this.#failure = ioError(
        `cannot reopen ${this.#path} after a rewrite`,
        cause,
        'reopen the log to continue',
      )
      throw this.#failure
    }
  }
}

/** Smaller payloads are stored plain: a record or two gains little, and each compression has a cost. */
const COMPRESS_MIN_BYTES = 256
/**
 * Bytes compressed between two turns of the event loop, about a millisecond of work: a rewrite's frames
 * are compressed a few at a time, so that a compaction never holds up the node's links for long.
 *
 * Every compression runs on the caller's thread. `brotliCompress` on libuv's thread pool took 6-8 times
 * the CPU of `brotliCompressSync` on a flood's frames of 75-150 KB (2.1-2.4 ms against 0.26-0.36 ms, one
 * at a time or four at once), and the event loop spent as long on each as the whole synchronous call.
 */
const COMPRESS_STEP_BYTES = 256 * 1024
/**
 * Brotli at quality 1: on a flood's journal frames it compressed about twice as fast as deflate at its
 * fastest level, into slightly less (27% of the JSON against 28%), and decompresses as fast. The
 * records' field names, member ids and numbers, repeated from one record to the next, are most of what
 * it saves (tooling/bench `lines-1m`).
 */
let compressOptions: { params: Record<number, number> } | undefined
function brotliFast(data: Buffer): Buffer {
  compressOptions ??= { params: { [zlib().constants.BROTLI_PARAM_QUALITY]: 1 } }
  return zlib().brotliCompressSync(data, compressOptions)
}

/**
 * The frames as they are stored: each of `min` bytes or more (and not in `plain`) compressed where that makes it smaller, with
 * a turn of the event loop let in after every `COMPRESS_STEP_BYTES` compressed. A frame zlib refuses (it
 * should never) stays plain.
 */
async function compressFrames(frames: readonly Buffer[], min = COMPRESS_MIN_BYTES): Promise<Buffer[]> {
  const out = frames.slice()
  let step = 0
  for (let i = 0; i < frames.length; i++) {
    const frame = frames[i] as Buffer
    const payload = frame.length - FRAME_HEADER_BYTES
    if (payload < min) continue
    if (step >= COMPRESS_STEP_BYTES) {
      await nextTurn()
      step = 0
    }
    step += payload
    try {
      out[i] = compressedFrame(frame, brotliFast(frame.subarray(FRAME_HEADER_BYTES)))
    } catch {
      // Stored plain.
    }
  }
  return out
}

/** Where each of `frames`, written one after another from `start`, is in the file. */
function positionsOf(frames: readonly Buffer[], start: number): FramePosition[] {
  const positions: FramePosition[] = []
  let at = start
  for (const frame of frames) {
    positions.push({ offset: at, bytes: frame.length })
    at += frame.length
  }
  return positions
}

/** Lets pending I/O and other work run: the event loop's next turn. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/**
 * Records a rewrite puts in one frame at most. A frame per record made encoding most of a rewrite's cost
 * (10,000 chat records: about 50 ms, against 12 ms in frames of 64); far larger frames gained nothing more.
 */
const REWRITE_GROUP = 64

/**
 * A rewrite encodes this many records, then lets other work in: the 10,000 records a busy node keeps took
 * 20-30 ms to encode in one go, and the garbage they left as long again, while its links waited.
 */
const REWRITE_STEP_RECORDS = 1024

interface RewriteFrame {
  readonly records: readonly unknown[]
  readonly frame: Buffer
}

/**
 * A rewrite's records in frames of up to `REWRITE_GROUP` consecutive records. They may count against
 * several accounts (a conversation alternates them): such a frame is shared by each record's JSON, as a
 * mixed append's is; frames of one account each would hold a record or two in a chat, too little to
 * compress. A group over the size limit is written a record per frame, as a single record over it is
 * refused.
 */
async function encodeGroups(records: readonly unknown[], maxRecordBytes: number): Promise<RewriteFrame[]> {
  const frames: RewriteFrame[] = []
  let start = 0
  let step = 0
  while (start < records.length) {
    if (step >= REWRITE_STEP_RECORDS) {
      await nextTurn()
      step = 0
    }
    const end = Math.min(records.length, start + REWRITE_GROUP)
    const group = records.slice(start, end)
    let frame: Buffer | undefined
    try {
      frame = encodeFrame(group, maxRecordBytes)
    } catch (error) {
      if (!(error instanceof LogError && error.code === 'TOO_LARGE') || group.length === 1) throw error
    }
    if (frame) frames.push({ records: group, frame })
    else
      for (const record of group)
        frames.push({ records: [record], frame: encodeFrame([record], maxRecordBytes) })
    step += group.length
    start = end
  }
  return frames
}

/**
 * True when the bytes dropped from `end` are not the shape a crash leaves. A crash tears at most the
 * last write: its frame runs to the end of the file or past it, or the file ends in zeros the file
 * system had not filled yet. A frame that ends before the file does, with anything but zeros after it,
 * means the damage came from elsewhere (a disk, a copy, an editor) and good frames may follow.
 */
async function damagedInMiddle(file: FileHandle, end: number, size: number): Promise<boolean> {
  if (size - end < FRAME_HEADER_BYTES) return false
  const word = (await readAt(file, end, FRAME_HEADER_BYTES)).readUInt32BE(0)
  const length = word >= COMPRESSED ? word - COMPRESSED : word
  // A length word that is itself damaged says nothing of where the frame ends: look past the header.
  const next =
    length >= 2 && length <= MAX_FRAME_BYTES ? end + FRAME_HEADER_BYTES + length : end + FRAME_HEADER_BYTES
  if (next >= size) return false
  // Allocated only here, on damage: a node that opens a sound log holds no extra megabytes.
  const zeros = Buffer.alloc(Math.min(size - next, ZERO_CHECK_CHUNK_BYTES))
  const chunk = Buffer.allocUnsafe(zeros.length)
  for (let at = next; at < size; at += chunk.length) {
    const bytes = await readAt(file, at, Math.min(chunk.length, size - at), chunk)
    if (bytes.length === 0) break
    if (!bytes.equals(zeros.subarray(0, bytes.length))) return true
  }
  return false
}

const ZERO_CHECK_CHUNK_BYTES = 1024 * 1024

/** Copies the log at `path` to the first free `path.damaged-N`, durably, and returns that path. */
async function keepCopy(path: string): Promise<string> {
  for (let n = 1; ; n++) {
    const copy = `${path}.damaged-${n}`
    try {
      await copyFile(path, copy, fsConstants.COPYFILE_EXCL)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST' && n < 1000) continue
      throw error
    }
    const handle = await open(copy, 'r+')
    try {
      await handle.chmod(FILE_MODE)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await syncDirectory(dirname(path))
    return copy
  }
}
