/**
 * Piped input read in runs of lines: each read of the stream is split into its lines at once, where
 * readline hands them over one event each. A piped file of a hundred thousand lines is a hundred reads.
 * Lines end at `\n` (a `\r` right before it, as in `\r\n`, is dropped with it), as `wc -l`, `head` and `tail -n`
 * count them, so that "after line N" means the same to parley and to those tools; a `\r` elsewhere is
 * part of its line. The last line needs no newline, and bytes that are not UTF-8 become U+FFFD.
 */
import { EventEmitter } from 'node:events'
import { StringDecoder } from 'node:string_decoder'
import { MAX_BODY_LENGTH } from '@parley/core'
import { bodyEnd } from './session.js'

/** U+FFFD, which the decoder puts in place of bytes that are not UTF-8 (and which UTF-8 text may hold). */
const REPLACEMENT = '\uFFFD'

/** Splits text that comes in pieces into lines. */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8')
  /** The start of a line whose end has not come yet. */
  private partial = ''
  /** Lines handed over so far. */
  private linesBefore = 0
  /** U+FFFD decoded so far, and those the bytes spelled out (EF BF BD): more of the first means bad bytes. */
  private replaced = 0
  private spelled = 0
  /** The last two bytes of the previous chunk, for an EF BF BD split between two chunks. */
  private tail: number[] = []
  private told = false
  /** Pieces cut off the front of the line being read, not taken yet (`takeParts`). */
  private parts: string[] = []

  /**
   * @param notUtf8 told once, with the number of the line that holds them, when the first bytes that are
   *   not UTF-8 come (each such sequence is sent as U+FFFD)
   * @param maxLine a line longer than this is sent in parts of this length (as `splitBody` cuts it): the
   *   line still being read is cut as it grows, so input without a newline (a minified file, a progress
   *   bar's `\r`s) is not held whole
   */
  constructor(
    private readonly notUtf8?: (line: number) => void,
    private readonly maxLine = MAX_BODY_LENGTH,
  ) {}

  /** The lines this chunk ends, in order; then `takeParts` gives what it cut off the line it began. */
  push(chunk: Uint8Array | string): string[] {
    const decoded = typeof chunk === 'string' ? chunk : this.decoder.write(chunk as Buffer)
    if (typeof chunk !== 'string' && !this.told && this.notUtf8) this.check(chunk, decoded)
    const lines = this.split(decoded)
    this.linesBefore += lines.length
    this.cutLong()
    return lines
  }

  /**
   * The parts cut off the front of a line longer than `maxLine` that has not ended yet, in order, each
   * `maxLine` long (one less where a surrogate pair would be cut): they come before the rest of that line,
   * which `push` or `end` gives as a line when it ends. A line is counted once, when it ends.
   */
  takeParts(): string[] {
    const parts = this.parts
    this.parts = []
    return parts
  }

  /** Cuts the line being read while it is longer than `maxLine` and one: a `\r` at its end may still be a `\r\n`'s. */
  private cutLong(): void {
    while (this.partial.length > this.maxLine + 1) {
      // Cut where `splitBody` would cut the whole line.
      const end = bodyEnd(this.partial, 0, this.maxLine)
      this.parts.push(this.partial.slice(0, end))
      this.partial = this.partial.slice(end)
    }
  }

  /** Whether the decoder put U+FFFD for bytes that were not UTF-8; says so once, with the line. */
  private check(bytes: Uint8Array, decoded: string): void {
    const tail = this.tail
    this.tail =
      bytes.length >= 2 ? [bytes[bytes.length - 2]!, bytes[bytes.length - 1]!] : [...tail, ...bytes].slice(-2)
    // A U+FFFD the bytes spell out is decoded in the chunk that completes it: none decoded, none to count.
    if (!decoded.includes(REPLACEMENT)) return
    for (let i = decoded.indexOf(REPLACEMENT); i >= 0; i = decoded.indexOf(REPLACEMENT, i + 1))
      this.replaced++
    const at = (i: number) => (i < 0 ? tail[tail.length + i] : bytes[i])
    for (let i = bytes.indexOf(0xbd); i >= 0; i = bytes.indexOf(0xbd, i + 1))
      if (at(i - 1) === 0xbf && at(i - 2) === 0xef) this.spelled++
    if (this.replaced <= this.spelled) return
    this.told = true
    const text = this.partial + decoded
    const before = text.slice(0, text.indexOf(REPLACEMENT))
    this.notUtf8?.(this.linesBefore + before.split('\n').length)
  }

  private split(decoded: string): string[] {
    // A chunk that ends no line is kept as it is: a long line is joined once, when it ends.
    if (!decoded.includes('\n')) {
      this.partial += decoded
      return []
    }
    const text = this.partial + decoded
    const lines = text.split('\n')
    this.partial = lines.pop() as string
    // The `\r` of a `\r\n` goes with the newline, wherever a read cut between the two.
    if (text.includes('\r'))
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i]!
        if (line.charCodeAt(line.length - 1) === 0x0d) lines[i] = line.slice(0, -1)
      }
    return lines
  }

  /** The last line, when the text ended without a newline. */
  end(): string[] {
    const rest = this.decoder.end()
    // A sequence cut short by the end of the input is not UTF-8 either.
    if (rest.includes(REPLACEMENT) && !this.told && this.notUtf8) {
      this.told = true
      this.notUtf8(this.linesBefore + 1)
    }
    const text = this.partial + rest
    this.partial = ''
    return text === '' ? [] : this.push(`${text}\n`)
  }
}

/** Piped stdin as Node.js gives it: a file's read stream or a pipe's socket, both `stream.Readable`. */
export type ReadableInput = NodeJS.ReadableStream & { readonly readableLength: number }

/**
 * A readable stream (piped stdin) as lines: a `lines` event per read with the lines it ended, in order,
 * then `close` once, when the stream ends or fails or `close()` is called. Paused until `resume()`.
 * A line longer than the message body limit comes in `part` events as it is read (each a message of its
 * own, as a long line is sent), then its rest as a line of a `lines` event, where it counts as one line.
 * `not-utf8` says, once, which line first held bytes that are not UTF-8 (they are sent as U+FFFD).
 * @example
 * const input = new PipedLines(process.stdin)
 * input.on('lines', (lines) => node.sendLines(lines))
 * input.once('close', () => console.error('input ended'))
 * input.resume()
 */
export class PipedLines extends EventEmitter<{
  lines: [string[]]
  part: [string]
  close: []
  'not-utf8': [line: number]
}> {
  /** `not-utf8` is told once, with the line, when the first bytes that are not UTF-8 come. */
  private readonly splitter = new LineSplitter((line) => this.emit('not-utf8', line))
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
    // The lines a read ended come first, then what it cut off the long line it began.
    for (const part of this.splitter.takeParts()) if (!this.closed) this.emit('part', part)
  }
}
