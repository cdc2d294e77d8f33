import { Duplex } from 'node:stream'
import type { Link } from '@parley/core'

/**
 * Bytes held from the remote end while nobody reads (an unverified peer, a paused link) before the link
 * is paused: little, since each read from the link can bring up to 64 KiB more.
 */
const READ_HIGH_WATER_MARK = 16 * 1024
/** Bytes queued for a link that is not taking more, before writers are told to wait: one full record. */
const WRITE_HIGH_WATER_MARK = 65 * 1024

/**
 * A Node Duplex stream over a core `Link`, so that stream libraries (here the record layer of
 * `@hyperswarm/secret-stream`) can run on any transport. Backpressure passes through both ways: a full
 * read buffer pauses the link, and a write the link cannot take yet waits for its `drain`.
 */
export class LinkStream extends Duplex {
  readonly link: Link
  #waitingForDrain: ((error?: Error | null) => void) | undefined
  #discarding = false
  /** Whether this stream paused the link (its read buffer was full). */
  #linkPaused = false
  #contentSizeCheck: ((bytes: number) => void) | undefined

  constructor(link: Link) {
    super({
      allowHalfOpen: true,
      readableHighWaterMark: READ_HIGH_WATER_MARK,
      writableHighWaterMark: WRITE_HIGH_WATER_MARK,
    })
    this.link = link
    link.attach({
      data: (chunk) => this.#onData(chunk),
      drain: () => this.#onDrain(),
      close: (error) => this.#onClose(error),
    })
  }

  /**
   * From now on the remote end's bytes are thrown away unread, and the link keeps reading so that its
   * close is seen. For a peer this node refused: nothing it sends past the handshake is looked at.
   */
  discardInput(): void {
    this.#discarding = true
    while (this.read() !== null) {}
    this.#linkPaused = false
    this.link.resume()
  }

  /**
   * Called by `@hyperswarm/secret-stream` when a record it has begun to read needs `bytes` more than it
   * has; it allocates them next. `check` may destroy the reader first.
   */
  setContentSize(bytes: number): void {
    this.#contentSizeCheck?.(bytes)
  }

  onContentSize(check: (bytes: number) => void): void {
    this.#contentSizeCheck = check
  }

  override _read(): void {
    if (!this.#linkPaused) return
    this.#linkPaused = false
    this.link.resume()
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.link.write(chunk)) callback()
    else this.#waitingForDrain = callback
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.link.end()
    callback()
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#waitingForDrain = undefined
    this.link.destroy()
    callback(error)
  }

  #onData(chunk: Uint8Array): void {
    if (this.#discarding) return
    if (this.push(chunk)) return
    this.#linkPaused = true
    this.link.pause()
  }

  #onDrain(): void {
    const callback = this.#waitingForDrain
    this.#waitingForDrain = undefined
    callback?.()
  }

  #onClose(error: Error | undefined): void {
    // A clean close ends the readable side after what was pushed, so nothing buffered is lost.
    if (error) this.destroy(error)
    else if (this.#discarding) this.destroy()
    else this.push(null)
  }
}
