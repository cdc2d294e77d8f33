/// <reference path="./types/hyper.d.ts" />
import type { Link, LinkHandlers } from '@parley/core'
import type HyperDHT from 'hyperdht'
import { DhtError, describe, hyperCode, shortKey } from './errors.js'
import { toHex } from './keys.js'

/** How a DHT link reaches its peer, as the status line and `--json` show it. */
export type LinkPath =
  /** A UDP path straight to the peer's address as seen through its NAT (HyperDHT punched it when needed). */
  | { kind: 'holepunched'; remoteHost: string; remotePort: number }
  /** Through a blind relay; the relay forwards encrypted records it cannot read. */
  | { kind: 'relayed'; relayKey: string; relayHost: string; relayPort: number }

/** Why the link exists: a dial or an inbound connection by key, or a meeting in a room. */
export type LinkPurpose = { kind: 'key' } | { kind: 'room'; code: string }

/** Tells a link where its UDP path leads: to a relay (whose key it names) or to the peer. */
export type PathResolver = (remoteHost: string, remotePort: number) => LinkPath

type LinkState =
  | { status: 'waiting'; missedDrain: boolean }
  | { status: 'closed-unseen'; error: DhtError | undefined }
  | { status: 'attached'; handlers: LinkHandlers }
  | { status: 'closed' }

/**
 * Writes queued in one turn are sent together, in records of at most this size (a record is authenticated
 * only once it has fully arrived); more queued than this asks the caller to wait for `drain`.
 */
const RECORD_BYTES = 64 * 1024

/**
 * A `Link` over one HyperDHT connection. The connection is a Noise secret stream that already proved the
 * peer's ed25519 key, so `remoteKey` is set and the link is not encrypted a second time.
 */
export class DhtLink implements Link {
  readonly remoteKey: string
  readonly localAddress: string
  readonly purpose: LinkPurpose
  #state: LinkState = { status: 'waiting', missedDrain: false }
  #early: Uint8Array[]
  #error: DhtError | undefined
  #paused = false
  #needDrain = false
  #queue: Uint8Array[] = []
  #queuedBytes = 0
  #flushScheduled = false
  #streamFull = false

  constructor(
    private readonly stream: HyperDHT.SecretStream,
    readonly direction: 'inbound' | 'outbound',
    purpose: LinkPurpose,
    private readonly resolvePath: PathResolver,
    early: Uint8Array[] = [],
  ) {
    this.remoteKey = toHex(stream.remotePublicKey)
    this.localAddress = `dht:${toHex(stream.publicKey)}`
    this.purpose = purpose
    this.#early = early
    stream.pause()
    stream.on('error', (error: unknown) => this.#onError(error))
    stream.on('close', () => this.#onClose())
    stream.on('drain', () => this.#onDrain())
    // A link is not half-open: when the peer ends, end this side too so the stream closes, as TCP links do.
    stream.on('end', () => this.end())
  }

  /** The peer as `dht:KEY`: its key is its address. */
  get remoteAddress(): string {
    return `dht:${this.remoteKey}`
  }

  /** Where it came from, for the caps on connections per source: the peer's proven key. */
  get source(): string {
    return this.remoteKey
  }

  /** How the link reaches its peer right now; a relayed link moves to a direct path when a later punch works. */
  get path(): LinkPath {
    const raw = this.stream.rawStream
    return this.resolvePath(raw?.remoteHost ?? 'unknown', raw?.remotePort ?? 0)
  }

  attach(handlers: LinkHandlers): void {
    const state = this.#state
    switch (state.status) {
      case 'waiting':
        this.#state = { status: 'attached', handlers }
        for (const chunk of this.#early.splice(0)) handlers.data(chunk)
        this.stream.on('data', (chunk: Buffer) => handlers.data(chunk))
        if (state.missedDrain) queueMicrotask(() => handlers.drain())
        if (!this.#paused) this.stream.resume()
        return
      case 'closed-unseen':
        this.#state = { status: 'closed' }
        for (const chunk of this.#early.splice(0)) handlers.data(chunk)
        queueMicrotask(() => handlers.close(state.error))
        return
      case 'attached':
      case 'closed':
        throw new DhtError('CLOSED', `the link to ${shortKey(this.remoteKey)} is already attached`)
      default: {
        const _exhaustive: never = state
        throw new Error(`unexpected link state ${_exhaustive}`)
      }
    }
  }

  write(chunk: Uint8Array): boolean {
    if (this.stream.destroyed || this.stream.destroying) return false
    // Frames written in one turn leave as one record: each record costs a seal and a UDX message or more.
    this.#queue.push(chunk)
    this.#queuedBytes += chunk.byteLength
    if (!this.#flushScheduled) {
      this.#flushScheduled = true
      process.nextTick(() => this.#flush())
    }
    const ok = !this.#streamFull && this.#queuedBytes < RECORD_BYTES
    if (!ok) this.#needDrain = true
    return ok
  }

  pause(): void {
    this.#paused = true
    this.stream.pause()
  }

  resume(): void {
    this.#paused = false
    if (this.#state.status === 'attached') this.stream.resume()
  }

  end(): void {
    this.#flush()
    if (!this.stream.destroyed) this.stream.end()
  }

  #flush(): void {
    this.#flushScheduled = false
    if (this.#queuedBytes === 0 || this.stream.destroyed || this.stream.destroying) return
    const data =
      this.#queue.length === 1
        ? (this.#queue[0] as Uint8Array)
        : Buffer.concat(this.#queue, this.#queuedBytes)
    this.#queue = []
    this.#queuedBytes = 0
    for (let start = 0; start < data.byteLength; start += RECORD_BYTES) {
      if (!this.stream.write(data.subarray(start, start + RECORD_BYTES))) this.#streamFull = true
    }
    if (!this.#streamFull && this.#needDrain) this.#onDrain()
  }

  destroy(): void {
    this.stream.destroy()
  }

  #onError(error: unknown): void {
    // The older of two connections between the same keys is ended: the peer restarted, or redialed.
    // Hyperswarm says so with a plain error of that message, HyperDHT's pool with a code.
    const text =
      hyperCode(error) === 'DUPLICATE_CONNECTION' || describe(error) === 'Duplicate connection'
        ? 'a newer connection from the same peer took its place (it restarted, or dialed again)'
        : // The line that shows it names the peer already, by name and fingerprint: not again by hex key.
          `the link failed: ${describe(error)}`
    this.#error ??= new DhtError('LINK_LOST', text, { cause: error })
  }

  #onDrain(): void {
    this.#streamFull = false
    if (!this.#needDrain || this.#queuedBytes >= RECORD_BYTES) return
    this.#needDrain = false
    const state = this.#state
    if (state.status === 'attached') state.handlers.drain()
    else if (state.status === 'waiting') state.missedDrain = true
  }

  #onClose(): void {
    const state = this.#state
    if (state.status === 'waiting') this.#state = { status: 'closed-unseen', error: this.#error }
    if (state.status !== 'attached') return
    this.#state = { status: 'closed' }
    state.handlers.close(this.#error)
  }
}
