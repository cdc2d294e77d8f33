/// <reference path="./types/secret-stream.d.ts" />
import { EventEmitter } from 'node:events'
import SecretStream from '@hyperswarm/secret-stream'
import type { Link, LinkHandlers } from '@parley/core'
import { TransportError } from '@parley/core'
import type { HandshakeResult } from './handshake.js'

/** The first record each side sends after the handshake: whether it accepts the other's key. */
export const STATUS = { ACCEPT: 0x01, REFUSE: 0x02 } as const
/** Coalesced writes are cut into records of at most this many bytes (the frame codec reassembles them). */
export const MAX_RECORD = 64 * 1024

export interface SecureLinkInfo {
  direction: 'inbound' | 'outbound'
  /** The dialed address (outbound) or the remote socket address (inbound), for messages. */
  address: string
  remoteKey: string
  /** Builds the error reported when the remote end refuses this node's key. */
  remoteRefused: () => TransportError
}

/**
 * The raw side of the secret stream: records go to the inner link, and the inner link's bytes come back.
 * Data is held until the secret stream has opened and listens for it.
 */
class RawSide extends EventEmitter {
  private backlog: Array<Uint8Array | 'end'> | undefined = []

  constructor(private readonly inner: Link) {
    super()
  }

  open(): void {
    const backlog = this.backlog ?? []
    this.backlog = undefined
    for (const item of backlog) this.deliver(item)
  }

  feed(item: Uint8Array | 'end'): void {
    if (this.backlog) this.backlog.push(item)
    else this.deliver(item)
  }

  fail(error: Error): void {
    this.emit('error', error)
  }

  write(chunk: Uint8Array): boolean {
    return this.inner.write(chunk)
  }

  end(): void {
    this.inner.end()
  }

  destroy(): void {
    this.inner.destroy()
  }

  // Backpressure towards the remote end is applied by SecureLink on the inner link itself.
  pause(): void {}
  resume(): void {}

  private deliver(item: Uint8Array | 'end'): void {
    if (item === 'end') this.emit('end')
    else this.emit('data', Buffer.from(item.buffer, item.byteOffset, item.byteLength))
  }
}

type LinkState =
  | { status: 'awaiting-status' }
  | { status: 'refusing' }
  | { status: 'open' }
  | { status: 'closed'; error?: Error }

/** How long a refused link may take to flush its refusal before it is destroyed. */
const REFUSAL_GRACE_MS = 2000

/**
 * A Link whose bytes travel as authenticated, encrypted records (libsodium secretstream, through
 * @hyperswarm/secret-stream) over an inner Link. Writes made in the same tick become one record.
 */
export class SecureLink implements Link {
  readonly direction: 'inbound' | 'outbound'
  readonly remoteAddress: string
  readonly localAddress: string
  readonly source: string | undefined
  readonly remoteKey: string
  /** Resolves when the remote end accepted this node's key; rejects when it refused or the link broke first. */
  readonly ready: Promise<void>

  private state: LinkState = { status: 'awaiting-status' }
  private readonly stream: SecretStream
  private readonly raw: RawSide
  private handlers: LinkHandlers | undefined
  private readonly inbox: Uint8Array[] = []
  private closeReported = false
  private paused = false
  private outbox: Uint8Array[] = []
  private outboxBytes = 0
  private flushScheduled = false
  private streamBlocked = false
  private needDrain = false
  private ending = false
  private failure: Error | undefined
  private settleReady!: (error?: Error) => void
  private readonly records = new RecordLengths()

  constructor(
    private readonly inner: Link,
    handshake: HandshakeResult,
    private readonly info: SecureLinkInfo,
  ) {
    this.direction = info.direction
    this.remoteAddress = inner.remoteAddress
    this.localAddress = inner.localAddress
    this.source = inner.source
    this.remoteKey = info.remoteKey
    this.ready = new Promise<void>((resolve, reject) => {
      this.settleReady = (error) => (error ? reject(error) : resolve())
    })
    this.raw = new RawSide(inner)
    this.stream = new SecretStream(info.direction === 'outbound', this.raw, { handshake, enableSend: false })
    this.stream.on('connect', () => this.raw.open())
    this.stream.on('data', (record: Buffer) => this.onRecord(record))
    this.stream.on('end', () => this.finish(undefined))
    this.stream.on('error', (err: Error) => {
      this.failure ??= this.mapError(err)
    })
    this.stream.on('close', () => this.finish(this.failure))
    this.stream.on('drain', () => this.onStreamDrain())
  }

  /** Bytes from the inner link (everything after the handshake). A refused peer's bytes are never read. */
  receive(chunk: Uint8Array): void {
    if (this.state.status === 'refusing') return
    const oversize = this.records.check(chunk)
    if (oversize !== undefined) {
      // The record layer would allocate whatever a record announces: refuse before it gets the bytes.
      this.fail(
        new TransportError(
          'CRYPTO',
          `peer at ${this.info.address} announced a ${oversize}-byte secure record; the limit is ${RECORD_LIMIT}`,
        ),
      )
      return
    }
    this.raw.feed(chunk)
  }

  /** The inner link closed; an error means it broke rather than ended. */
  innerClosed(error?: Error): void {
    if (error) this.raw.fail(error)
    else this.raw.feed('end')
  }

  innerDrained(): void {
    this.raw.emit('drain')
  }

  /** Tells the remote end that this node accepts its key. */
  accept(): void {
    this.stream.write(Uint8Array.of(STATUS.ACCEPT))
  }

  /** Tells the remote end that this node refuses its key, then ends the link without reading from it. */
  refuse(): void {
    this.state = { status: 'refusing' }
    this.stream.write(Uint8Array.of(STATUS.REFUSE))
    this.stream.end()
    setTimeout(() => this.stream.destroy(), REFUSAL_GRACE_MS).unref()
  }

  /** Ends the link with `error` (a timeout or an abort during the handshake). */
  fail(error: Error): void {
    this.failure ??= error
    this.stream.destroy(error)
  }

  attach(handlers: LinkHandlers): void {
    if (this.handlers)
      throw new TransportError('UNKNOWN', `the secure link to ${this.info.address} is already attached`)
    this.handlers = handlers
    queueMicrotask(() => {
      if (!this.paused && this.state.status !== 'closed') this.inner.resume()
      this.deliver()
    })
  }

  write(chunk: Uint8Array): boolean {
    if (this.state.status !== 'open' || this.ending) return false
    if (chunk.length > 0) {
      this.outbox.push(chunk)
      this.outboxBytes += chunk.length
      if (!this.flushScheduled) {
        this.flushScheduled = true
        // After every promise continuation of this turn: the runtime writes from chained continuations,
        // which a microtask would cut into one record each.
        process.nextTick(() => this.flush())
      }
    }
    const ok = !this.streamBlocked && this.outboxBytes < MAX_RECORD
    if (!ok) this.needDrain = true
    return ok
  }

  pause(): void {
    this.paused = true
    this.inner.pause()
  }

  resume(): void {
    this.paused = false
    if (this.handlers && this.state.status !== 'closed') this.inner.resume()
    this.deliver()
  }

  end(): void {
    if (this.state.status === 'closed' || this.ending) return
    this.flush()
    this.ending = true
    this.stream.end()
  }

  destroy(): void {
    this.outbox = []
    this.outboxBytes = 0
    this.inbox.length = 0
    this.stream.destroy()
  }

  private flush(): void {
    this.flushScheduled = false
    if (this.outboxBytes === 0 || this.state.status !== 'open') return
    const all = this.outbox.length === 1 ? this.outbox[0]! : Buffer.concat(this.outbox)
    this.outbox = []
    this.outboxBytes = 0
    for (let offset = 0; offset < all.length; offset += MAX_RECORD) {
      if (!this.stream.write(all.subarray(offset, offset + MAX_RECORD))) this.streamBlocked = true
    }
    if (!this.streamBlocked) this.emitDrain()
  }

  private onStreamDrain(): void {
    this.streamBlocked = false
    if (this.outboxBytes < MAX_RECORD) this.emitDrain()
  }

  private emitDrain(): void {
    if (!this.needDrain || this.state.status !== 'open') return
    this.needDrain = false
    this.handlers?.drain()
  }

  private onRecord(record: Buffer): void {
    switch (this.state.status) {
      case 'awaiting-status':
        this.onStatus(record)
        return
      case 'open':
        this.inbox.push(record)
        if (!this.handlers || this.paused) this.inner.pause()
        this.deliver()
        return
      case 'refusing':
      case 'closed':
        return
      default: {
        const _exhaustive: never = this.state
        throw new Error(`unexpected state ${JSON.stringify(_exhaustive)}`)
      }
    }
  }

  private onStatus(record: Buffer): void {
    if (record.length === 1 && record[0] === STATUS.ACCEPT) {
      this.state = { status: 'open' }
      // Hold the remote end's bytes until the runtime attaches.
      if (!this.handlers) this.inner.pause()
      this.settleReady()
      return
    }
    const error =
      record.length === 1 && record[0] === STATUS.REFUSE
        ? this.info.remoteRefused()
        : new TransportError('CRYPTO', `peer at ${this.info.address} sent an unexpected first record`)
    this.fail(error)
  }

  private deliver(): void {
    while (this.handlers && !this.paused && this.inbox.length > 0) this.handlers.data(this.inbox.shift()!)
    if (this.state.status === 'closed' && !this.closeReported && this.handlers && this.inbox.length === 0) {
      this.closeReported = true
      this.handlers.close(this.state.error)
    }
  }

  private finish(error: Error | undefined): void {
    const previous = this.state
    if (previous.status === 'closed') return
    this.state = error ? { status: 'closed', error } : { status: 'closed' }
    this.outbox = []
    this.outboxBytes = 0
    this.stream.destroy()
    if (previous.status === 'refusing') return
    if (previous.status === 'awaiting-status') {
      this.settleReady(
        error ??
          new TransportError(
            'CLOSED',
            `peer at ${this.info.address} closed the link right after the secure handshake, before accepting this node`,
          ),
      )
      return
    }
    this.deliver()
  }

  private mapError(err: Error): Error {
    if (err instanceof TransportError) return err
    return new TransportError(
      'CRYPTO',
      `secure link with ${this.info.address} failed: a record did not authenticate (corrupted or tampered with in transit)`,
      { cause: err },
    )
  }
}

/** The largest record a peer may announce: what this package ever writes, plus the cipher's overhead. */
const RECORD_LIMIT = MAX_RECORD + 1024

/** Follows the 3-byte little-endian length prefixes of the inbound record stream, to vet each length. */
class RecordLengths {
  private header: number[] = []
  private remaining = 0

  /** The first announced length over the limit in `chunk`, if any. */
  check(chunk: Uint8Array): number | undefined {
    let offset = 0
    while (offset < chunk.length) {
      if (this.remaining > 0) {
        const skip = Math.min(this.remaining, chunk.length - offset)
        this.remaining -= skip
        offset += skip
        continue
      }
      this.header.push(chunk[offset++]!)
      if (this.header.length < 3) continue
      const length = this.header[0]! | (this.header[1]! << 8) | (this.header[2]! << 16)
      this.header = []
      if (length > RECORD_LIMIT) return length
      this.remaining = length
    }
    return undefined
  }
}
