/// <reference path="./types/secret-stream.d.ts" />
import type NoiseState from 'noise-handshake'
import { curve, Noise } from './commonjs.js'
import type { KeyPair } from './identity.js'

/** Binds every handshake to this protocol and version: a peer speaking anything else fails to authenticate. */
export const PROLOGUE = Buffer.from('parley/secure/1')
/** Each handshake message and record on the wire is prefixed by its length as a 3-byte little-endian number. */
export const LENGTH_BYTES = 3

/** Noise XX sizes with ed25519 keys and empty payloads: -> e (32), <- e, ee, s, es (96), -> s, se (64). */
const EXPECTED = { initiator: [96], responder: [32, 64] } as const

export interface HandshakeResult {
  tx: Buffer
  rx: Buffer
  hash: Buffer
  publicKey: Buffer
  remotePublicKey: Buffer
}

export type HandshakeStep =
  | { status: 'continue'; send?: Uint8Array }
  | { status: 'done'; send?: Uint8Array; result: HandshakeResult; rest: Uint8Array }
  | { status: 'failed'; code: 'NOT_SECURE' | 'CRYPTO'; detail: string }

/**
 * Drives one Noise XX handshake (done by noise-handshake) over a byte stream, and tells a peer that is
 * not speaking it (a plain parley node, netcat) from one whose messages fail to authenticate.
 * Pure: it returns the bytes to send and never touches a socket.
 */
export class NoiseHandshake {
  private readonly noise: NoiseState
  private readonly expected: number[]
  private received = 0
  private buffer: Buffer = Buffer.alloc(0)
  private finished = false

  constructor(
    readonly isInitiator: boolean,
    private readonly keyPair: KeyPair,
  ) {
    this.noise = new Noise(
      'XX',
      isInitiator,
      { publicKey: toBuffer(keyPair.publicKey), secretKey: toBuffer(keyPair.secretKey) },
      { curve },
    )
    this.noise.initialise(PROLOGUE)
    this.expected = [...(isInitiator ? EXPECTED.initiator : EXPECTED.responder)]
  }

  /** The initiator's first message; the responder sends nothing until it hears from the initiator. */
  start(): Uint8Array | undefined {
    return this.isInitiator ? frame(this.noise.send()) : undefined
  }

  /** Bytes seen so far from the remote end. */
  get bytesReceived(): number {
    return this.received
  }

  push(chunk: Uint8Array): HandshakeStep {
    if (this.finished) return { status: 'failed', code: 'CRYPTO', detail: 'handshake already finished' }
    this.received += chunk.length
    this.buffer = this.buffer.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buffer, chunk])
    let send: Uint8Array | undefined
    for (;;) {
      const length = this.expected[0]!
      const mismatch = this.checkLengthPrefix(length)
      if (mismatch) return this.fail(mismatch.code, mismatch.detail)
      if (this.buffer.length < LENGTH_BYTES + length)
        return send ? { status: 'continue', send } : { status: 'continue' }
      const message = this.buffer.subarray(LENGTH_BYTES, LENGTH_BYTES + length)
      this.buffer = this.buffer.subarray(LENGTH_BYTES + length)
      this.expected.shift()
      try {
        this.noise.recv(message)
        if (!this.noise.complete) send = frame(this.noise.send())
      } catch (err) {
        return this.fail('CRYPTO', `handshake message did not authenticate (${(err as Error).message})`)
      }
      if (this.noise.complete) {
        this.finished = true
        const result = this.result()
        return send
          ? { status: 'done', send, result, rest: this.buffer }
          : { status: 'done', result, rest: this.buffer }
      }
      if (this.buffer.length === 0) return send ? { status: 'continue', send } : { status: 'continue' }
    }
  }

  /** Checks the length prefix byte by byte, so a text or plain-frame peer is recognised from its first byte. */
  private checkLengthPrefix(length: number): { code: 'NOT_SECURE' | 'CRYPTO'; detail: string } | undefined {
    const first = this.expected.length === (this.isInitiator ? EXPECTED.initiator : EXPECTED.responder).length
    const seen = Math.min(LENGTH_BYTES, this.buffer.length)
    for (let i = 0; i < seen; i++) {
      if (this.buffer[i] !== (length >>> (8 * i)) % 256) {
        return first
          ? { code: 'NOT_SECURE', detail: describeForeignBytes(this.buffer) }
          : { code: 'CRYPTO', detail: `handshake message of unexpected length (expected ${length} bytes)` }
      }
    }
    return undefined
  }

  private fail(code: 'NOT_SECURE' | 'CRYPTO', detail: string): HandshakeStep {
    this.finished = true
    this.buffer = Buffer.alloc(0)
    return { status: 'failed', code, detail }
  }

  private result(): HandshakeResult {
    const { tx, rx, hash, rs } = this.noise
    return {
      tx: Buffer.from(tx!),
      rx: Buffer.from(rx!),
      hash: Buffer.from(hash!),
      publicKey: toBuffer(this.keyPair.publicKey),
      remotePublicKey: Buffer.from(rs!),
    }
  }
}

function frame(message: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(LENGTH_BYTES + message.length)
  out.writeUIntLE(message.length, 0, LENGTH_BYTES)
  out.set(message, LENGTH_BYTES)
  return out
}

/** Says what a non-secure peer sent first, for the error's cause (the message itself is fixed). */
export function describeForeignBytes(bytes: Uint8Array): string {
  const head = bytes.subarray(0, 16)
  const isText = head.every((b) => (b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x0a || b === 0x0d)
  if (isText) return `it sent text starting ${JSON.stringify(Buffer.from(head).toString('latin1'))}`
  if (head.length >= 5 && head[0] === 0 && head[1] === 0 && head[4] === 0x7b)
    return 'it sent a plain parley frame'
  return `it sent bytes starting ${Buffer.from(head).toString('hex')}`
}

export function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}
