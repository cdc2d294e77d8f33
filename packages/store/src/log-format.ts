/**
 * The bytes of an append log: a header line naming the format version, then frames of
 * `[u32 BE payload length][u32 BE CRC-32 of payload][payload]`, where the payload is the UTF-8 JSON
 * array of the records of one append (or of up to 64 records of a rewrite, which is atomic as a whole).
 * One frame per append makes each append all-or-nothing.
 *
 * Version 2 adds one thing: a frame whose length has its top bit set (`COMPRESSED`) holds that JSON
 * compressed with Brotli. Such frames are written only under the version 2 header, so a release
 * that reads version 1 only refuses the file instead of misreading it. A version 1 file is a valid
 * version 2 file: it is read, and appended to plain, as it is, until its first rewrite makes it version 2.
 */
import { isAscii, isUtf8 } from 'node:buffer'
import { crc32 } from './crc32.js'
import { LogError } from './errors.js'
import { zlib } from './zlib.js'

/** The newest format this build reads, and the one it writes for a new log and a rewrite. */
export const FORMAT_VERSION = 2
/** The header of a log written by an earlier release: it holds no compressed frame, and gets none appended. */
export const LOG_HEADER = Buffer.from('parley-log 1\n', 'latin1')
/** The header of a new log and of a rewrite: its frames may be compressed. */
export const LOG_HEADER_V2 = Buffer.from(`parley-log ${FORMAT_VERSION}\n`, 'latin1')
const HEADER_PREFIX = Buffer.from('parley-log ', 'latin1')
export const FRAME_HEADER_BYTES = 8
/** Set in a frame's length word (version 2): the payload is the JSON compressed with Brotli. */
export const COMPRESSED = 0x8000_0000
/** The default limit on one append: far above any chat record, far below what would strain memory. */
export const DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024
/**
 * The format's limit on a frame. Reading checks against this, not the writer's configured limit, so
 * opening a log with a smaller `maxRecordBytes` can never cut off good records.
 */
export const MAX_FRAME_BYTES = 1024 * 1024 * 1024

/** The JSON text of an append's records: `JSON.stringify` unless the log was given its own (`AppendLogOptions.encode`). */
export type EncodeRecords = (records: readonly unknown[]) => string

export function encodeFrame(
  records: readonly unknown[],
  maxPayloadBytes: number,
  encode: EncodeRecords = JSON.stringify,
): Buffer {
  let json: string
  try {
    json = encode(records)
  } catch (cause) {
    throw new LogError('NOT_JSON', `a record cannot be encoded as JSON: ${(cause as Error).message}`, {
      cause,
    })
  }
  const length = Buffer.byteLength(json)
  if (length > maxPayloadBytes) {
    throw new LogError(
      'TOO_LARGE',
      `an append of ${length} bytes exceeds the limit of ${maxPayloadBytes} bytes`,
    )
  }
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + length)
  frame.write(json, FRAME_HEADER_BYTES)
  frame.writeUInt32BE(length, 0)
  frame.writeUInt32BE(crc32(frame.subarray(FRAME_HEADER_BYTES)), 4)
  return frame
}

export type HeaderCheck =
  | { status: 'ok'; version: 1 | 2 }
  /** Shorter than a header and a prefix of one (or empty): the file was created and never completed. */
  | { status: 'incomplete' }
  | { status: 'version'; found: string }
  | { status: 'foreign' }

export function checkHeader(bytes: Buffer): HeaderCheck {
  if (
    bytes.length < LOG_HEADER.length &&
    (LOG_HEADER.subarray(0, bytes.length).equals(bytes) ||
      LOG_HEADER_V2.subarray(0, bytes.length).equals(bytes))
  ) {
    return { status: 'incomplete' }
  }
  const head = bytes.subarray(0, LOG_HEADER.length)
  if (head.equals(LOG_HEADER)) return { status: 'ok', version: 1 }
  if (head.equals(LOG_HEADER_V2)) return { status: 'ok', version: 2 }
  const newline = bytes.indexOf(0x0a)
  if (bytes.subarray(0, HEADER_PREFIX.length).equals(HEADER_PREFIX) && newline > 0 && newline < 32) {
    return { status: 'version', found: bytes.subarray(HEADER_PREFIX.length, newline).toString('latin1') }
  }
  return { status: 'foreign' }
}

export interface FrameScan {
  records: unknown[]
  /** Offset just past the last good frame: everything from here on is dropped. */
  end: number
  /** Why the scan stopped before the end of the bytes. */
  problem?: string
  /**
   * What the good frames would take stored plain, headers included: a compressed frame counts as its
   * JSON. What a caller measures the log's growth by, however well its last rewrite compressed.
   */
  plainBytes: number
  /**
   * Set when the bytes ended inside a frame that may still be good: bytes needed from `end` to hold it
   * whole. A reader that has more of the file reads on; at the end of the file it is a torn tail.
   */
  incomplete?: number
}

/**
 * Reads a payload's JSON text faster than `JSON.parse` where it recognizes it, keeping of each record only
 * what its reader needs: the records, or undefined to have the text parsed as JSON. Only what is valid
 * JSON may be recognized.
 */
export type SkimFrame = (text: string) => readonly unknown[] | undefined

/** Turns a good frame's payload into its records; see `scanFrames`. */
export type DecodeFrame = (payload: Buffer) => readonly unknown[] | string

/**
 * Reads good frames from `start` and stops at the first one that is torn or corrupt. `onFrame` sees each
 * good frame's records, its size on disk and its size stored plain (both header included). Records go into `records` (a new array by
 * default) and `decode` turns each checked payload into records (`decodePayload` by default).
 */
export function scanFrames(
  bytes: Buffer,
  start: number,
  onFrame?: (records: readonly unknown[], frameBytes: number, plainBytes: number) => void,
  records: unknown[] = [],
  decode: DecodeFrame = decodePayload,
): FrameScan {
  let offset = start
  let plainBytes = 0
  const stop = (problem: string, incomplete?: number): FrameScan =>
    incomplete === undefined
      ? { records, end: offset, plainBytes, problem }
      : { records, end: offset, plainBytes, problem, incomplete }
  while (offset < bytes.length) {
    if (bytes.length - offset < FRAME_HEADER_BYTES) return stop('incomplete frame header', FRAME_HEADER_BYTES)
    const word = bytes.readUInt32BE(offset)
    const compressed = word >= COMPRESSED
    const length = compressed ? word - COMPRESSED : word
    // "[]" is the smallest payload we write; zero usually means a zero-filled tail.
    if (length < 2 || length > MAX_FRAME_BYTES) return stop(`implausible frame length ${word}`)
    const payloadStart = offset + FRAME_HEADER_BYTES
    if (bytes.length - payloadStart < length)
      return stop('incomplete frame payload', FRAME_HEADER_BYTES + length)
    let payload = bytes.subarray(payloadStart, payloadStart + length)
    if (crc32(payload) !== bytes.readUInt32BE(offset + 4)) return stop('checksum mismatch')
    if (compressed) {
      const plain = decompressPayload(payload)
      if (!plain) return stop('compressed payload does not decompress')
      payload = plain
    }
    const batch = decode(payload)
    if (typeof batch === 'string') return stop(batch)
    for (const record of batch) records.push(record)
    onFrame?.(batch, FRAME_HEADER_BYTES + length, FRAME_HEADER_BYTES + payload.length)
    plainBytes += FRAME_HEADER_BYTES + payload.length
    offset = payloadStart + length
  }
  return { records, end: offset, plainBytes }
}

/** A compressed payload's JSON, or undefined if it does not decompress (within the format's frame limit). */
function decompressPayload(payload: Buffer): Buffer | undefined {
  try {
    return zlib().brotliDecompressSync(payload, { maxOutputLength: MAX_FRAME_BYTES })
  } catch {
    return undefined
  }
}

/**
 * A plain frame (`encodeFrame`) stored compressed, if that makes it smaller: the same JSON, compressed,
 * with the length word's `COMPRESSED` bit set and the checksum over the stored bytes. Only for a version 2
 * file. `compressed` is the frame's payload as `brotliCompress` compressed it.
 */
export function compressedFrame(frame: Buffer, compressed: Buffer): Buffer {
  if (FRAME_HEADER_BYTES + compressed.length >= frame.length) return frame
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + compressed.length)
  compressed.copy(out, FRAME_HEADER_BYTES)
  out.writeUInt32BE(COMPRESSED + compressed.length, 0)
  out.writeUInt32BE(crc32(compressed), 4)
  return out
}

/**
 * A checked payload's records, or why it holds none: it must be UTF-8 JSON (a leading byte-order mark
 * aside) and an array. Node's own UTF-8 check and decoder: `TextDecoder` took ten times as long.
 */
export function decodePayload(payload: Buffer, skim?: SkimFrame): readonly unknown[] | string {
  // ASCII, as most journals are, is the same text in Latin-1, which decodes without checking.
  const ascii = isAscii(payload)
  if (!ascii && !isUtf8(payload)) return NOT_JSON
  let batch: unknown
  try {
    const text = payload.toString(ascii ? 'latin1' : 'utf8')
    const skimmed = skim?.(text)
    if (skimmed) return skimmed
    batch = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)
  } catch {
    return NOT_JSON
  }
  return Array.isArray(batch) ? batch : 'payload is not a JSON array'
}

const NOT_JSON = 'payload is not UTF-8 JSON'
