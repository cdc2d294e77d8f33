import type { Socket } from 'node:net'
import { type Link, type LinkHandlers, TransportError } from '@parley/core'
import { endpoint, plainHost } from './endpoint.js'
import { linkError } from './errors.js'

/**
 * Until `attach` the socket stays paused, so bytes wait in the kernel and nothing is lost. A close that
 * happens before `attach` is remembered and reported by it.
 */
type LinkState =
  | { status: 'waiting'; missedDrain: boolean }
  | { status: 'closed-unseen'; error: TransportError | undefined }
  | { status: 'attached'; handlers: LinkHandlers }
  | { status: 'closed' }

/** Bytes queued in one turn before `write` asks the caller to wait for `drain`. */
const QUEUE_LIMIT = 64 * 1024

/** A `Link` over one connected `net.Socket`. */
export class TcpLink implements Link {
  readonly remoteAddress: string
  readonly localAddress: string
  /** The remote host, so caps per source count every port of one machine together. */
  readonly source: string
  #state: LinkState = { status: 'waiting', missedDrain: false }
  #error: TransportError | undefined
  #paused = false
  #queue: Uint8Array[] = []
  #queuedBytes = 0
  #flushScheduled = false
  #socketFull = false
  #needDrain = false

  constructor(
    private readonly socket: Socket,
    readonly direction: 'inbound' | 'outbound',
    fallbackRemote = 'unknown',
  ) {
    this.remoteAddress = endpoint(socket.remoteAddress, socket.remotePort) ?? fallbackRemote
    this.localAddress = endpoint(socket.localAddress, socket.localPort) ?? 'unknown'
    this.source = socket.remoteAddress === undefined ? this.remoteAddress : plainHost(socket.remoteAddress)
    socket.setNoDelay(true)
    socket.pause()
    socket.on('error', (error) => this.#onError(error))
    socket.on('close', () => this.#onClose())
    socket.on('drain', () => this.#onDrain())
  }

  attach(handlers: LinkHandlers): void {
    const state = this.#state
    switch (state.status) {
      case 'waiting':
        this.#startFlowing(handlers, state.missedDrain)
        return
      case 'closed-unseen':
        this.#state = { status: 'closed' }
        queueMicrotask(() => handlers.close(state.error))
        return
      case 'attached':
      case 'closed':
        throw new TransportError('UNKNOWN', `the link to ${this.remoteAddress} is already attached`)
      default: {
        const _exhaustive: never = state
        throw new Error(`unexpected link state ${_exhaustive}`)
      }
    }
  }

  write(chunk: Uint8Array): boolean {
    // Writing to an ended or destroyed socket makes node raise an error; the close handler already says why.
    if (this.socket.destroyed || this.socket.writableEnded) return false
    // Frames written in one turn leave in one socket write (one syscall) instead of one each.
    this.#queue.push(chunk)
    this.#queuedBytes += chunk.length
    if (!this.#flushScheduled) {
      this.#flushScheduled = true
      process.nextTick(() => this.#flush())
    }
    const ok = !this.#socketFull && this.#queuedBytes < QUEUE_LIMIT
    if (!ok) this.#needDrain = true
    return ok
  }

  #flush(): void {
    this.#flushScheduled = false
    if (this.#queuedBytes === 0 || this.socket.destroyed || this.socket.writableEnded) return
    const data = this.#queue.length === 1 ? this.#queue[0]! : Buffer.concat(this.#queue, this.#queuedBytes)
    this.#queue = []
    this.#queuedBytes = 0
    if (!this.socket.write(data)) this.#socketFull = true
    else if (this.#needDrain) this.#onDrain()
  }

  pause(): void {
    this.#paused = true
    this.socket.pause()
  }

  resume(): void {
    this.#paused = false
    if (this.#state.status === 'attached') this.socket.resume()
  }

  end(): void {
    this.#flush()
    this.socket.end()
  }

  destroy(): void {
    this.socket.destroy()
  }

  #startFlowing(handlers: LinkHandlers, missedDrain: boolean): void {
    this.#state = { status: 'attached', handlers }
    this.socket.on('data', (chunk: Buffer) => handlers.data(chunk))
    if (missedDrain) queueMicrotask(() => this.#onDrain())
    if (!this.#paused) this.socket.resume()
  }

  #onError(error: Error): void {
    this.#error ??= linkError(error)
  }

  #onDrain(): void {
    this.#socketFull = false
    if (this.#queuedBytes >= QUEUE_LIMIT) return
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
