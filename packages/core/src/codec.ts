import { ProtocolError } from './errors.js'
import { takeMsgJson } from './msg-json.js'
import { platform } from './platform.js'
import { type Message, parseMessage } from './schema.js'

/** Default upper bound on one frame's body, checked against the length prefix before the body is buffered. */
export const DEFAULT_MAX_FRAME = 64 * 1024
const HEADER = 4

const encoder = new platform.TextEncoder()
const utf8 = new platform.TextDecoder('utf-8', { fatal: true })

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
  // A message of ours was serialized as its journal record was: the same text goes out.
  const json = (message.type === 'msg' && takeMsgJson(message)) || JSON.stringify(message)
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
  /** Set once the stream is broken; the decoder then ignores everything after it. */
  error?: ProtocolError
}

type DecoderState =
  | { status: 'header' }
  /** `partial` collects a body that arrives over several chunks, so each byte is copied once. */
  | { status: 'body'; length: number; partial?: Uint8Array; filled: number }
  | { status: 'failed'; error: ProtocolError }

const AT_HEADER: DecoderState = { status: 'header' }

/**
 * Incremental frame decoder: feed it chunks as they arrive, split or merged anywhere.
 * @example const d = new FrameDecoder(); const { messages, error } = d.push(chunk)
 */
export class FrameDecoder {
  private state: DecoderState = AT_HEADER
  private chunks: Uint8Array[] = []
  /** Bytes of `chunks[0]` already taken. */
  private head = 0
  private buffered = 0

  constructor(private readonly maxFrame = DEFAULT_MAX_FRAME) {}

  /** Bytes held while waiting for the rest of a frame. */
  get pendingBytes(): number {
    return this.buffered + (this.state.status === 'body' ? this.state.filled : 0)
  }

  push(chunk: Uint8Array): DecodeResult {
    const messages: Message[] = []
    const result: DecodeResult = { messages }
    if (this.state.status === 'failed') return result
    if (chunk.length > 0) {
      this.chunks.push(chunk)
      this.buffered += chunk.length
    }
    try {
      this.drain(messages)
    } catch (err) {
      result.error =
        err instanceof ProtocolError
          ? err
          : new ProtocolError('BAD_MESSAGE', 'undecodable frame', { cause: err })
      this.fail(result.error)
    }
    return result
  }

  private drain(messages: Message[]): void {
    for (;;) {
      const state = this.state
      switch (state.status) {
        case 'header': {
          if (this.buffered < HEADER) return
          const length = this.takeLength()
          if (length > this.maxFrame) {
            const header = Uint8Array.of(
              length >>> 24,
              (length >>> 16) & 0xff,
              (length >>> 8) & 0xff,
              length & 0xff,
            )
            if (isText(header)) {
              throw new ProtocolError(
                'NOT_PARLEY',
                `peer is not speaking the parley protocol (it sent text starting ${JSON.stringify(String.fromCharCode(...header))})`,
              )
            }
            throw new ProtocolError(
              'FRAME_TOO_LARGE',
              `peer announced a ${length}-byte frame; the limit is ${this.maxFrame} bytes (--max-frame)`,
            )
          }
          if (length === 0) throw new ProtocolError('EMPTY_FRAME', 'peer sent an empty frame')
          if (this.buffered >= length) {
            // The whole body is here (the usual case): no state to keep between chunks.
            this.decode(this.take(length), messages)
            break
          }
          this.state = { status: 'body', length, filled: 0 }
          break
        }
        case 'body': {
          const body = this.collect(state)
          if (!body) return
          this.state = AT_HEADER
          this.decode(body, messages)
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

  private decode(body: Uint8Array, messages: Message[]): void {
    const message = decodeBody(body)
    if (message) messages.push(message)
  }

  /** The whole body once it has arrived; until then, buffered chunks are copied into one allocation. */
  private collect(state: { length: number; partial?: Uint8Array; filled: number }): Uint8Array | undefined {
    if (state.filled === 0 && this.buffered >= state.length) return this.take(state.length)
    state.partial ??= new Uint8Array(state.length)
    state.filled = this.fill(state.partial, state.filled)
    return state.filled === state.length ? state.partial : undefined
  }

  /** The next four bytes, as the big-endian length of a frame. */
  private takeLength(): number {
    let length = 0
    for (let i = 0; i < HEADER; i++) {
      const chunk = this.chunks[0]!
      length = length * 256 + chunk[this.head++]!
      if (this.head === chunk.length) this.dropFirst()
    }
    this.buffered -= HEADER
    return length
  }

  /** The next `n` buffered bytes: a view into the chunk that holds them all, else a copy. */
  private take(n: number): Uint8Array {
    const first = this.chunks[0]!
    if (first.length - this.head < n) {
      const out = new Uint8Array(n)
      this.fill(out, 0)
      return out
    }
    const view = first.subarray(this.head, this.head + n)
    this.head += n
    this.buffered -= n
    if (this.head === first.length) this.dropFirst()
    return view
  }

  /** Copies buffered bytes into `out` from `filled` on, as far as they go; returns how far it is filled. */
  private fill(out: Uint8Array, filled: number): number {
    while (filled < out.length && this.chunks.length > 0) {
      const chunk = this.chunks[0]!
      const part = Math.min(chunk.length - this.head, out.length - filled)
      out.set(chunk.subarray(this.head, this.head + part), filled)
      filled += part
      this.head += part
      this.buffered -= part
      if (this.head === chunk.length) this.dropFirst()
    }
    return filled
  }

  private dropFirst(): void {
    this.chunks.shift()
    this.head = 0
  }

  private fail(error: ProtocolError): void {
    this.state = { status: 'failed', error }
    this.chunks = []
    this.head = 0
    this.buffered = 0
  }
}

/** Printable ASCII or whitespace: what a line-based client (netcat, telnet, HTTP) sends first. */
function isText(bytes: Uint8Array): boolean {
  return bytes.every((b) => (b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x0a || b === 0x0d)
}
