/**
 * The bytes of an append log: a header line naming the format version, then frames of
 * `[u32 BE payload length][u32 BE CRC-32 of payload][payload]`, where the payload is the UTF-8 JSON
 * array of the records of one append (or of up to 64 records of a rewrite, which is atomic as a whole).
 * One frame per append makes each append all-or-nothing.
 */
import { crc32 } from './crc32.js'
import { LogError } from './errors.js'

export const FORMAT_VERSION = 1
export const LOG_HEADER = Buffer.from(`parley-log ${FORMAT_VERSION}\n`, 'latin1')
const HEADER_PREFIX = Buffer.from('parley-log ', 'latin1')
export const FRAME_HEADER_BYTES = 8
/** The default limit on one append: far above any chat record, far below what would strain memory. */
export const DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024
/**
 * The format's limit on a frame. Reading checks against this, not the writer's configured limit, so
 * opening a log with a smaller `maxRecordBytes` can never cut off good records.
 */
export const MAX_FRAME_BYTES = 1024 * 1024 * 1024

export function encodeFrame(records: readonly unknown[], maxPayloadBytes: number): Buffer {
  let json: string
  try {
    json = JSON.stringify(records)
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
  | { status: 'ok' }
  /** Shorter than a header and a prefix of one (or empty): the file was created and never completed. */
  | { status: 'incomplete' }
  | { status: 'version'; found: string }
  | { status: 'foreign' }

export function checkHeader(bytes: Buffer): HeaderCheck {
  if (bytes.length < LOG_HEADER.length && LOG_HEADER.subarray(0, bytes.length).equals(bytes)) {
    return { status: 'incomplete' }
  }
  if (bytes.subarray(0, LOG_HEADER.length).equals(LOG_HEADER)) return { status: 'ok' }
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
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Reads good frames from `start` and stops at the first one that is torn or corrupt. `onFrame` sees each
 * good frame's records and its size on disk (header included).
 */
export function scanFrames(
  bytes: Buffer,
  start: number,
  onFrame?: (records: readonly unknown[], frameBytes: number) => void,
): FrameScan {
  const records: unknown[] = []
  let offset = start
  const stop = (problem: string): FrameScan => ({ records, end: offset, problem })
  while (offset < bytes.length) {
    if (bytes.length - offset < FRAME_HEADER_BYTES) return stop('incomplete frame header')
    const length = bytes.readUInt32BE(offset)
    // "[]" is the smallest payload we write; zero usually means a zero-filled tail.
    if (length < 2 || length > MAX_FRAME_BYTES) return stop(`implausible frame length ${length}`)
    const payloadStart = offset + FRAME_HEADER_BYTES
    if (bytes.length - payloadStart < length) return stop('incomplete frame payload')
    const payload = bytes.subarray(payloadStart, payloadStart + length)
    if (crc32(payload) !== bytes.readUInt32BE(offset + 4)) return stop('checksum mismatch')
    let batch: unknown
    try {
      batch = JSON.parse(utf8.decode(payload))
    } catch {
      return stop('payload is not UTF-8 JSON')
    }
    if (!Array.isArray(batch)) return stop('payload is not a JSON array')
    for (const record of batch) records.push(record)
    onFrame?.(batch, FRAME_HEADER_BYTES + length)
    offset = payloadStart + length
  }
  return { records, end: offset }
}
