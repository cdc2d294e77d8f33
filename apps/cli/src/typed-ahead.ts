/**
 * What is typed on the terminal while parley starts (a DHT join takes seconds). The terminal is in its own
 * line mode then, so that Ctrl-C and Ctrl-Z are the signals they stand for; there, Ctrl-D on an empty line
 * ends the input, but only for a reader: a terminal switched to raw mode afterwards hands the line
 * editor a NUL byte in its place (Linux), and the end of the input was lost. So the terminal is read
 * during the start, in its line mode, and what came is handed to the line editor once the prompt is up,
 * as if typed then, and the end of the input with it.
 *
 * A Ctrl-D typed before the terminal left raw mode the first time (keys typed before parley even ran, read
 * after the line editor set raw mode for a moment) comes as that NUL byte too: on an empty line it is the
 * end of the input, after text on a line it only handed that text on, as the terminal's line mode has it.
 * Ctrl-Space types a NUL as well, which the terminal's line mode hands on with the rest of its line: a NUL
 * that more of the same read follows (other than NULs) is that key (the line editor ignores it), not the end.
 */
import type { EventEmitter } from 'node:events'

type Listener = (...args: unknown[]) => void

/** The bracketed-paste marks a terminal puts around what is pasted: no text of their own. */
const PASTE_MARKS = /\x1b\[20[01]~/g

export interface TypedAheadInput extends EventEmitter {
  pause(): unknown
  resume(): unknown
}

/** What was read during the start, and whether the input ended then (Ctrl-D on an empty line). */
export interface TypedAheadText {
  readonly text: Buffer
  readonly ended: boolean
}

/**
 * Reads `input` until `release`, in place of whoever read it before (the line editor, whose listeners
 * are set aside and given back). `onEnd` is told when the input ends meanwhile, with whether anything
 * but blank lines was typed before the end.
 */
export class TypedAhead {
  readonly #bytes: number[] = []
  /** No text typed on the current line since its start (or since a Ctrl-D handed the line on). */
  #lineEmpty = true
  #ended = false
  #released = false
  readonly #data: Listener[]
  readonly #end: Listener[]
  readonly #onData = (chunk: unknown) => {
    if (this.#ended) return
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer)
    // Where the read's last byte other than NUL is: a NUL before it is Ctrl-Space (typed with more after
    // it, however many NULs between), a key and not the end of anything.
    let lastText = bytes.length - 1
    while (lastText >= 0 && bytes[lastText] === 0) lastText--
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i] as number
      if (byte === 0) {
        if (i < lastText) continue
        // Ctrl-D, left as NUL by a change of the terminal's mode: the end on an empty line.
        if (this.#lineEmpty) return this.#onEnd()
        this.#lineEmpty = true
        continue
      }
      this.#bytes.push(byte)
      this.#lineEmpty = byte === 0x0a
    }
  }
  readonly #onEnd = () => {
    if (this.#ended) return
    this.#ended = true
    this.onEnd(this.typed())
  }

  constructor(
    private readonly input: TypedAheadInput,
    private readonly onEnd: (typed: boolean) => void,
  ) {
    this.#data = input.rawListeners('data') as Listener[]
    this.#end = input.rawListeners('end') as Listener[]
    input.removeAllListeners('data')
    input.removeAllListeners('end')
    input.on('data', this.#onData)
    input.on('end', this.#onEnd)
    input.resume()
  }

  /** Whether anything but blank lines was typed. */
  typed(): boolean {
    return this.#text().trim() !== ''
  }

  /** Whether the last line typed is unfinished: the terminal's cursor is still on it, after its text. */
  midLine(): boolean {
    return this.#bytes.length > 0 && this.#bytes[this.#bytes.length - 1] !== 0x0a
  }

  /** Lines typed that hold more than blank space (a line left unfinished counts). */
  lines(): number {
    return this.#text()
      .split('\n')
      .filter((line) => line.trim() !== '').length
  }

  /**
   * Stops reading, paused, and gives the input back to the listeners it was taken from; returns what
   * was typed (up to the end of the input, when it ended), and whether the input ended. Twice: nothing
   * more.
   */
  release(): TypedAheadText {
    if (this.#released) return { text: Buffer.alloc(0), ended: this.#ended }
    this.#released = true
    this.input.pause()
    this.input.off('data', this.#onData)
    this.input.off('end', this.#onEnd)
    for (const listener of this.#data) this.input.on('data', listener)
    for (const listener of this.#end) this.input.on('end', listener)
    return { text: Buffer.from(this.#bytes), ended: this.#ended }
  }

  #text(): string {
    return Buffer.from(this.#bytes).toString('utf8').replace(PASTE_MARKS, '')
  }
}
