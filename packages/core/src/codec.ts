import { ProtocolError } from './errors.js'
import { type Message, parseMessage } from './schema.js'

/** Default upper bound on one frame's body, checked against the length prefix before the body is buffered. */
export const DEFAULT_MAX_FRAME = 64 * 1024
const HEADER = 4

const encoder = new TextEncoder()
const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Small frames are carved out of a shared 64 KiB block, as Buffer.allocUnsafe does: a fresh ArrayBuffer
 * per frame (zeroed, with its own backing store) cost more than the JSON.
 */
const POOL_BYTES = 64 * 1024
const SMALL_FRAME = 4 * 1024
let pool = new Uint8Array(POOL_BYTES)
let poolUsed = 0

/** Encodes one message as a frame: a uint32 big-endian length, then the UTF-8 JSON body. */
export function encodeFrame(message: Message, maxFrame = DEFAULT_MAX_FRAME): Uint8Array {
  return encodeJsonFrame(JSON.stringify(message), maxFrame)
}

/** A frame whose body is `json`, a message already encoded with JSON.stringify (which must be valid). */
export function encodeJsonFrame(json: string, maxFrame = DEFAULT_MAX_FRAME): Uint8Array {
  // UTF-8 takes at most 3 bytes per UTF-16 code unit.
  const worst = HEADER + json.length * 3
  let frame: Uint8Array
  let length: number
  if (worst <= SMALL_FRAME) {
    if (poolUsed + worst > POOL_BYTES) {
      pool = new Uint8Array(POOL_BYTES)
      poolUsed = 0
    }
    length = encoder.encodeInto(json, pool.subarray(poolUsed + HEADER, poolUsed + worst)).written
    frame = pool.subarray(poolUsed, poolUsed + HEADER + length)
    // Keep the next frame 8-byte aligned.
    poolUsed += (HEADER + length + 7) & ~7
  } else {
    const body = encoder.encode(json)
    length = body.length
    frame = new Uint8Array(HEADER + length)
    frame.set(body, HEADER)
  }
  if (length > maxFrame) {
    throw new ProtocolError(
      'FRAME_TOO_LARGE',
      `message of ${length} bytes exceeds the ${maxFrame}-byte frame limit`,
    )
  }
  frame[0] = length >>> 24
  frame[1] = (length >>> 16) & 0xff
  frame[2] = (length >>> 8) & 0xff
  frame[3] = length & 0xff
  return frame
}

/** Parses one frame body into a message; `undefined` means a message type this version ignores. */
export function decodeBody(body: Uint8Array): Message | undefined {
  return parseMessage(parseJson(decodeText(body)))
}

function decodeText(body: Uint8Array): string {
  try {
    return utf8.decode(body)
  } catch (cause) {
    throw new ProtocolError('BAD_UTF8', 'frame body is not valid UTF-8', { cause })
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (cause) {
    throw new ProtocolError('BAD_JSON', 'frame body is not valid JSON', { cause })
  }
}

export interface DecodeResult {
  messages: Message[]
  /**
   * With `keepJson`, one entry per message: the frame's JSON text when it encodes exactly that message
   * (no key the schema drops), so it can be stored without encoding the message again.
   */
  json?: (string | undefined)[]
  /** Set once the stream is broken; the decoder then ignores everything after it. */
  error?: ProtocolError
}

type DecoderState =
  | { status: 'header' }
  /** `partial` collects a body that arrives over several chunks, so each byte is copied once. */
  | { status: 'body'; length: number; partial?: Uint8Array; filled: number }
  | { status: 'failed'; error: ProtocolError }

/**
 * Incremental frame decoder: feed it chunks as they arrive, split or merged anywhere.
 * @example const d = new FrameDecoder(); const { messages, error } = d.push(chunk)
 */
export class FrameDecoder {
  private state: DecoderState = { status: 'header' }
  private chunks: Uint8Array[] = []
  private buffered = 0

  constructor(
    private readonly maxFrame = DEFAULT_MAX_FRAME,
    private readonly keepJson = false,
  ) {}

  /** Bytes held while waiting for the rest of a frame. */
  get pendingBytes(): number {
    return this.buffered + (this.state.status === 'body' ? this.state.filled : 0)
  }

  push(chunk: Uint8Array): DecodeResult {
    const messages: Message[] = []
    const json = this.keepJson ? [] : undefined
    const result: DecodeResult = json ? { messages, json } : { messages }
    if (this.state.status === 'failed') return result
    if (chunk.length > 0) {
      this.chunks.push(chunk)
      this.buffered += chunk.length
    }
    try {
      this.drain(messages, json)
    } catch (err) {
      result.error =
        err instanceof ProtocolError
          ? err
          : new ProtocolError('BAD_MESSAGE', 'undecodable frame', { cause: err })
      this.fail(result.error)
    }
    return result
  }

  private drain(messages: Message[], json: (string | undefined)[] | undefined): void {
    for (;;) {
      const state = this.state
      switch (state.status) {
        case 'header': {
          if (this.buffered < HEADER) return
          const header = this.take(HEADER)
          const length = new DataView(header.buffer, header.byteOffset, HEADER).getUint32(0)
          if (length > this.maxFrame) {
            if (isText(header)) {
              throw new ProtocolError(
                'NOT_PARLEY',
                `peer is not speaking the parley protocol (it sent text starting ${JSON.stringify(String.fromCharCode(...header))})`,
              )
            }
            throw new ProtocolError(
              'FRAME_TOO_LARGE',
              `peer announced a ${length}-byte frame; the limit is ${this.maxFrame}`,
            )
          }
          if (length === 0) throw new ProtocolError('EMPTY_FRAME', 'peer sent an empty frame')
          this.state = { status: 'body', length, filled: 0 }
          break
        }
        case 'body': {
          const body = this.collect(state)
          if (!body) return
          this.state = { status: 'header' }
          const text = decodeText(body)
          const value = parseJson(text)
          const message = parseMessage(value)
          if (!message) break
          messages.push(message)
          // The parser hands back the parsed object itself when the text holds nothing it drops.
          json?.push(message === value ? text : undefined)
          break
        }
        case 'failed':
          return
        default: {
          const _exhaustive: never = state
        }
      }
    }
  }

  /** The whole body once it has arrived; until then, buffered chunks are copied into one allocation. */
  private collect(state: { length: number; partial?: Uint8Array; filled: number }): Uint8Array | undefined {
    if (state.filled === 0 && this.buffered >= state.length) return this.take(state.length)
    state.partial ??= new Uint8Array(state.length)
    while (state.filled < state.length && this.chunks.length > 0) {
      const chunk = this.chunks[0]!
      const part = Math.min(chunk.length, state.length - state.filled)
      state.partial.set(chunk.subarray(0, part), state.filled)
      state.filled += part
      this.buffered -= part
      if (part === chunk.length) this.chunks.shift()
      else this.chunks[0] = chunk.subarray(part)
    }
    return state.filled === state.length ? state.partial : undefined
  }

  private take(n: number): Uint8Array {
    const first = this.chunks[0]!
    this.buffered -= n
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift()
      else this.chunks[0] = first.subarray(n)
      return first.subarray(0, n)
    }
    const out = new Uint8Array(n)
    let filled = 0
    while (filled < n) {
      const chunk = this.chunks[0]!
      const part = Math.min(chunk.length, n - filled)
      out.set(chunk.subarray(0, part), filled)
      filled += part
      if (part === chunk.length) this.chunks.shift()
      else this.chunks[0] = chunk.subarray(part)
    }
    return out
  }

  private fail(error: ProtocolError): void {
    this.state = { status: 'failed', error }
    this.chunks = []
    this.buffered = 0
  }
}

/** Printable ASCII or whitespace: what a line-based client (netcat, telnet, HTTP) sends first. */
function isText(bytes: Uint8Array): boolean {
  return bytes.every((b) => (b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x0a || b === 0x0d)
}
