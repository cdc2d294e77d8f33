/**
 * Piped input read in runs of lines: each read of the stream is split into its lines at once, where
 * readline hands them over one event each. A piped file of a hundred thousand lines is a hundred reads.
 * Lines end where readline ends them (`\n`, `\r\n`, or a `\r` alone), the last one needs no newline, and
 * bytes that are not UTF-8 become U+FFFD.
 */
import { EventEmitter } from 'node:events'
import { StringDecoder } from 'node:string_decoder'

/** Splits text that comes in pieces into lines. */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8')
  /** The start of a line whose end has not come yet. */
  private partial = ''

  /** The lines this chunk ends, in order. */
  push(chunk: Uint8Array | string): string[] {
    const decoded = typeof chunk === 'string' ? chunk : this.decoder.write(chunk as Buffer)
    // A chunk that ends no line is kept as it is: a long line is joined once, when it ends.
    if (!decoded.includes('\n') && !decoded.includes('\r')) {
      this.partial += decoded
      return []
    }
    let text = this.partial + decoded
    // A `\r` at the end may be the first half of a `\r\n` split between two chunks: it waits.
    const held = text.charCodeAt(text.length - 1) === 0x0d
    if (held) text = text.slice(0, -1)
    const lines = text.includes('\r') ? text.split(/\r\n|\r|\n/) : text.split('\n')
    this.partial = (lines.pop() as string) + (held ? '\r' : '')
    return lines
  }

  /** The last line, when the text ended without a newline. */
  end(): string[] {
    const text = this.partial + this.decoder.end()
    this.partial = ''
    if (text.charCodeAt(text.length - 1) === 0x0d) return this.push(`${text.slice(0, -1)}\n`)
    return text === '' ? [] : this.push(`${text}\n`)
  }
}

/** Piped stdin as Node.js gives it: a file's read stream or a pipe's socket, both `stream.Readable`. */
export type ReadableInput = NodeJS.ReadableStream & { readonly readableLength: number }

/**
 * A readable stream (piped stdin) as lines: a `lines` event per read with the lines it ended, in order,
 * then `close` once, when the stream ends or fails or `close()` is called. Paused until `resume()`.
 * @example
 * const input = new PipedLines(process.stdin)
 * input.on('lines', (lines) => node.sendLines(lines))
 * input.once('close', () => console.error('input ended'))
 * input.resume()
 */
export class PipedLines extends EventEmitter<{ lines: [string[]]; close: [] }> {
  private readonly splitter = new LineSplitter()
  private closed = false
  /** The stream ended and every line of it was handed over (not closed early by `close()`). */
  private ended = false
  private readonly onData = (chunk: Uint8Array | string) => this.give(this.splitter.push(chunk))
  private readonly onEnd = () => {
    this.give(this.splitter.end())
    this.ended = true
    this.close()
  }

  constructor(private readonly stream: ReadableInput) {
    super()
    stream.pause()
    stream.on('data', this.onData)
    stream.on('end', this.onEnd)
    // A read that fails (a closed terminal, EIO) ends the input like its end would.
    stream.on('error', this.onEnd)
  }

  pause(): void {
    if (!this.closed) this.stream.pause()
  }

  resume(): void {
    if (!this.closed) this.stream.resume()
  }

  /**
   * Whether the input ended and every line of it was handed over, when reading is paused. A paused stream
   * does not say that it ended, even when its last read found the end: the end waits for a resume that a
   * full outbox holds back. Asked here, a stream whose last read found the end and whose reads were all
   * handed over ends now (its last line without a newline handed over, and `close` told). A stream with
   * reads still buffered, or no end yet, stays as it is.
   */
  async endedWhole(): Promise<boolean> {
    if (!this.closed && this.stream.readableLength === 0) {
      // On a stream at its end with nothing buffered, a read of 0 bytes emits `end` (on the next tick);
      // on any other, it at most starts a read into the buffer, which stays paused.
      this.stream.read(0)
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
    return this.ended
  }

  /** Stops reading: no line after this one, and `close` is told (once). */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.stream.off('data', this.onData)
    this.stream.off('end', this.onEnd)
    this.stream.pause()
    this.emit('close')
  }

  private give(lines: string[]): void {
    if (!this.closed && lines.length > 0) this.emit('lines', lines)
  }
}
