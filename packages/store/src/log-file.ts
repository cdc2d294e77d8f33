/**
 * The file side of an append log: opening or creating it privately, reading it back a chunk at a time at
 * open, and the one-line I/O errors. `AppendLog` keeps the order of appends and rewrites on top of this.
 */
import { type FileHandle, open } from 'node:fs/promises'
import { dirname } from 'node:path'
import { errorCode, LogError } from './errors.js'
import { syncDirectory } from './fs-sync.js'
import { type DecodeFrame, type FrameScan, LOG_HEADER, scanFrames } from './log-format.js'
import { isLinkRefusal, linkAdvice, OpenFlags } from './private-files.js'

/** Where a frame is in the file: its offset and its size on disk, header included. */
export interface FramePosition {
  readonly offset: number
  readonly bytes: number
}

/** Enough of a file's start to tell a log's header from another version's or another file. */
export const HEADER_PEEK_BYTES = 64

/**
 * Bytes read from the file at a time while scanning it at open. Read whole, a long log (hundreds of MB)
 * cost more in allocating and first touching its buffer than in checking and parsing it.
 */
const SCAN_CHUNK_BYTES = 4 * 1024 * 1024

/**
 * Bytes read at a time while the log is read back as the node runs (a compaction): every chunk is
 * decompressed and parsed in one go, and 4 MiB of compressed frames kept the event loop from the node's
 * links for 200-300 ms. A quarter of a MiB is a few milliseconds; the read between chunks lets them in.
 */
export const ONLINE_SCAN_CHUNK_BYTES = 256 * 1024

export async function readAt(
  file: FileHandle,
  position: number,
  length: number,
  into?: Buffer,
): Promise<Buffer> {
  const buffer = into ?? Buffer.allocUnsafe(length)
  let done = 0
  while (done < length) {
    const { bytesRead } = await file.read(buffer, done, length - done, position + done)
    if (bytesRead === 0) break
    done += bytesRead
  }
  return buffer.subarray(0, done)
}

/**
 * `scanFrames` over the file's `size` bytes after the header, `chunkBytes` at a time (a frame longer than a
 * chunk is read whole). Stops at the first torn or corrupt frame, as `scanFrames` does.
 */
export async function scanFile(
  file: FileHandle,
  size: number,
  keep: boolean,
  decode: DecodeFrame,
  onFrame: (records: readonly unknown[], frame: FramePosition, plainBytes: number) => void,
  chunkBytes = SCAN_CHUNK_BYTES,
): Promise<FrameScan> {
  const records: unknown[] = []
  let position = LOG_HEADER.length
  let chunkStart = position
  let frameStart = 0
  const seen = (batch: readonly unknown[], bytes: number, plain: number) => {
    onFrame(batch, { offset: chunkStart + frameStart, bytes }, plain)
    frameStart += bytes
  }
  const into = keep ? records : []
  let plainBytes = 0
  let buffer = Buffer.allocUnsafe(Math.min(chunkBytes, Math.max(0, size - position)))
  let want = buffer.length
  while (position < size) {
    const length = Math.min(want, size - position)
    if (buffer.length < length) buffer = Buffer.allocUnsafe(length)
    const bytes = await readAt(file, position, length, buffer)
    chunkStart = position
    frameStart = 0
    const scan = scanFrames(bytes, 0, seen, into, decode)
    if (!keep) into.length = 0
    position += scan.end
    plainBytes += scan.plainBytes
    // Only the chunk ended inside the frame: read on from it, whole.
    const readOn =
      scan.incomplete !== undefined && position + scan.incomplete <= size && bytes.length === length
    if (scan.problem !== undefined && !readOn)
      return { records, end: position, plainBytes, problem: scan.problem }
    want = Math.max(chunkBytes, scan.incomplete ?? 0)
  }
  return { records, end: position, plainBytes }
}

/** The log holds private history: readable by its owner only, even in a shared directory. */
export const FILE_MODE = 0o600

/** Opens the log, or creates it, with writes that are durable when they return where the system can. */
export async function openOrCreate(path: string): Promise<FileHandle> {
  try {
    return await open(path, OpenFlags.readWriteSynced)
  } catch (error) {
    if (isLinkRefusal(error)) throw new LogError('IO', linkAdvice(path), { cause: error })
    if (errorCode(error) !== 'ENOENT') throw ioError(`cannot open ${path}`, error)
  }
  try {
    const file = await open(path, OpenFlags.createSynced, FILE_MODE)
    await syncDirectory(dirname(path)).catch(async (error: unknown) => {
      await file.close().catch(() => {})
      throw error
    })
    return file
  } catch (error) {
    if (errorCode(error) !== 'EEXIST') throw ioError(`cannot create ${path}`, error)
  }
  // Another opener created it first: use theirs, with the same care as any existing log.
  try {
    return await open(path, OpenFlags.readWriteSynced)
  } catch (error) {
    if (isLinkRefusal(error)) throw new LogError('IO', linkAdvice(path), { cause: error })
    throw ioError(`cannot open ${path}`, error)
  }
}

export function ioError(what: string, cause: unknown, advice?: string): LogError {
  const detail = errorCode(cause) ?? (cause as Error).message
  return new LogError('IO', `${what} (${detail})${advice ? `; ${advice}` : ''}`, { cause })
}
