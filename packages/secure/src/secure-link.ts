/// <reference path="./types/secret-stream.d.ts" />
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import type { Link, LinkHandlers } from '@parley/core'
import { TransportError } from '@parley/core'

/** The first record each side sends after the handshake: whether it accepts the other's key. */
export const STATUS = { ACCEPT: 0x01, REFUSE: 0x02 } as const
/** Coalesced writes are cut into records of at most this many bytes (the frame codec reassembles them). */
export const MAX_RECORD = 64 * 1024
/**
 * The most a record may still need after the read that carried its length: what this package ever
 * writes, plus the cipher's overhead. The record layer allocates whatever a record announces.
 */
export const RECORD_LIMIT = MAX_RECORD + 1024

export interface SecureLinkInfo {
  direction: 'inbound' | 'outbound'
  /** The dialed address (outbound) or the remote socket address (inbound), for messages. */
  address: string
  remoteAddress: string
  localAddress: string
  /** Where the inner link came from, as its transport reports it (for caps). */
  source: string | undefined
  remoteKey: string
  /** Builds the error reported when the remote end refuses this node's key. */
  remoteRefused: () => TransportError
}

type LinkState = { status: 'awaiting-status' } | { status: 'open' } | { status: 'closed'; error?: Error }

/**
 * A Link over an encrypted stream (`@hyperswarm/secret-stream`, whose records are libsodium
 * secretstream). It opens once the remote end's first record says it accepts this node's key.
 * Frames written in one tick are coalesced into one record: encrypting each on its own would cost a
 * record header, a tag and a libsodium call per frame.
 */
export class SecureLink implements Link {
  readonly direction: 'inbound' | 'outbound'
  readonly remoteAddress: string
  readonly localAddress: string
  readonly source: string | undefined
  readonly remoteKey: string
  /** Resolves when the remote end accepted this node's key; rejects when it refused or the link broke first. */
  readonly ready: Promise<void>

  #state: LinkState = { status: 'awaiting-status' }
  #handlers: LinkHandlers | undefined
  #closeReported = false
  #paused = false
  #outbox: Uint8Array[] = []
  #outboxBytes = 0
  #flushScheduled = false
  #streamBlocked = false
  #needDrain = false
  #ending = false
  #failure: Error | undefined
  #settleReady!: (error?: Error) => void

  constructor(
    private readonly stream: NoiseSecretStream,
    private readonly info: SecureLinkInfo,
  ) {
    this.direction = info.direction
    this.remoteAddress = info.remoteAddress
    this.localAddress = info.localAddress
    this.source = info.source
    this.remoteKey = info.remoteKey
    this.ready = new Promise<void>((resolve, reject) => {
      this.#settleReady = (error) => (error ? reject(error) : resolve())
    })
    stream.on('data', (record: Buffer) => this.#onRecord(record))
    stream.on('end', () => this.#finish(undefined))
    stream.on('error', (err: Error) => {
      this.#failure ??= this.#mapError(err)
    })
    stream.on('close', () => this.#finish(this.#failure))
    stream.on('drain', () => this.#onStreamDrain())
    stream.write(Uint8Array.of(STATUS.ACCEPT))
  }

  /** Ends the link with `error` (a timeout or an abort during the handshake). */
  fail(error: Error): void {
    this.#failure ??= error
    this.stream.destroy(error)
  }

  attach(handlers: LinkHandlers): void {
    if (this.#handlers)
      throw new TransportError('UNKNOWN', `the secure link to ${this.info.address} is already attached`)
    this.#handlers = handlers
    queueMicrotask(() => {
      if (this.#state.status === 'closed') this.#reportClose()
      else if (!this.#paused) this.stream.resume()
    })
  }

  write(chunk: Uint8Array): boolean {
    if (this.#state.status !== 'open' || this.#ending) return false
    if (chunk.length > 0) {
      this.#outbox.push(chunk)
      this.#outboxBytes += chunk.length
      if (!this.#flushScheduled) {
        this.#flushScheduled = true
        // After every promise continuation of this turn: the runtime writes from chained continuations,
        // which a microtask would cut into one record each.
        process.nextTick(() => this.#flush())
      }
    }
    const ok = !this.#streamBlocked && this.#outboxBytes < MAX_RECORD
    if (!ok) this.#needDrain = true
    return ok
  }

  pause(): void {
    this.#paused = true
    this.stream.pause()
  }

  resume(): void {
    this.#paused = false
    if (this.#handlers && this.#state.status === 'open') this.stream.resume()
  }

  end(): void {
    if (this.#state.status === 'closed' || this.#ending) return
    this.#flush()
    this.#ending = true
    this.stream.end()
  }

  destroy(): void {
    this.#outbox = []
    this.#outboxBytes = 0
    this.stream.destroy()
  }

  #flush(): void {
    this.#flushScheduled = false
    if (this.#outboxBytes === 0 || this.#state.status !== 'open') return
    const all = this.#outbox.length === 1 ? this.#outbox[0]! : Buffer.concat(this.#outbox, this.#outboxBytes)
    this.#outbox = []
    this.#outboxBytes = 0
    for (let offset = 0; offset < all.length; offset += MAX_RECORD) {
      if (!this.stream.write(all.subarray(offset, offset + MAX_RECORD))) this.#streamBlocked = true
    }
    if (!this.#streamBlocked) this.#emitDrain()
  }

  #onStreamDrain(): void {
    this.#streamBlocked = false
    if (this.#outboxBytes < MAX_RECORD) this.#emitDrain()
  }

  #emitDrain(): void {
    if (!this.#needDrain || this.#state.status !== 'open') return
    this.#needDrain = false
    this.#handlers?.drain()
  }

  #onRecord(record: Buffer): void {
    const state = this.#state
    switch (state.status) {
      case 'awaiting-status':
        this.#onStatus(record)
        return
      case 'open':
        if (this.#handlers && !this.#paused) this.#handlers.data(record)
        else {
          // Not expected (a paused stream emits nothing), but a record must never be dropped.
          this.stream.pause()
          this.stream.unshift(record)
        }
        return
      case 'closed':
        return
      default: {
        const _exhaustive: never = state
        throw new Error(`unexpected state ${JSON.stringify(_exhaustive)}`)
      }
    }
  }

  #onStatus(record: Buffer): void {
    if (record.length === 1 && record[0] === STATUS.ACCEPT) {
      this.#state = { status: 'open' }
      // The remote end's records wait in the stream (which pushes back) until the runtime attaches.
      if (!this.#handlers || this.#paused) this.stream.pause()
      this.#settleReady()
      return
    }
    const error =
      record.length === 1 && record[0] === STATUS.REFUSE
        ? this.info.remoteRefused()
        : new TransportError('CRYPTO', `peer at ${this.info.address} sent an unexpected first record`)
    this.fail(error)
  }

  #finish(error: Error | undefined): void {
    const previous = this.#state
    if (previous.status === 'closed') return
    this.#state = error ? { status: 'closed', error } : { status: 'closed' }
    this.#outbox = []
    this.#outboxBytes = 0
    this.stream.destroy()
    if (previous.status === 'awaiting-status') {
      this.#settleReady(
        error ??
          new TransportError(
            'CLOSED',
            `peer at ${this.info.address} closed the link right after the secure handshake, before accepting this node`,
          ),
      )
      return
    }
    this.#reportClose()
  }

  #reportClose(): void {
    const state = this.#state
    if (state.status !== 'closed' || this.#closeReported || !this.#handlers) return
    this.#closeReported = true
    this.#handlers.close(state.error)
  }

  #mapError(err: Error): Error {
    if (err instanceof TransportError) return err
    return new TransportError(
      'CRYPTO',
      `secure link with ${this.info.address} failed: a record did not authenticate (corrupted or tampered with in transit)`,
      { cause: err },
    )
  }
}
