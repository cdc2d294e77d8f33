/**
 * How far each sender's messages have been shown, kept in DATA_DIR/shown. Written with a plain
 * synchronous write right after lines reach the screen or stdout: a process killed at any instant has
 * at most the one write in flight between the two (at most 4,000 bytes of lines), instead of a whole
 * journal batch. The file is synced when it is closed, and a compaction reaches the disk (file, then
 * directory) before it replaces the old file, so a machine crash can never leave an empty file that
 * would show everything again. It is compacted when it opens and whenever it grows past a limit while
 * parley runs, so a node that runs for months holds one line per sender, not one per batch ever shown.
 * Only the latest `MAX_MARKED_SENDERS` senders are kept: a message is shown again after a kill only if
 * the journal's recent history still holds it, and that history (10,000 messages) names far fewer.
 */
import { closeSync, fsyncSync, readFileSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import { DEFAULT_HISTORY_LIMIT } from '@parley/core'
import { isLinkRefusal, linkAdvice, openForAppend, replaceFile } from '@parley/store'
import { dataDirFailure } from './data-dir-failure.js'
import { ExitCode, FatalError } from './exit-codes.js'

export const DISPLAY_MARKS_FILE = 'shown'
const COMPACT_ABOVE_BYTES = 1024 * 1024
/** Senders whose marks are kept, the most recently marked: four times as many as the recent history holds messages. */
export const MAX_MARKED_SENDERS = 4 * DEFAULT_HISTORY_LIMIT

export interface DisplayMarksOptions {
  /** The file is rewritten with one line per sender once it holds more than this many bytes. */
  readonly compactAboveBytes?: number
}

export class DisplayMarks {
  /** Highest shown seq per sender; undefined when the data dir predates the marks (show nothing again). */
  readonly marks: Map<string, number> | undefined
  /** Highest seq per sender in the file now, the most recently raised last: what a compaction writes. */
  private readonly latest: Map<string, number>
  /** The file is compacted once it holds more than this: the limit, or twice what the last compaction wrote. */
  private compactAbove: number
  private readonly limit: number
  private fd: number
  /** Bytes in the file. */
  private bytes: number
  /** The file ends inside a line (a write torn by a crash or a full disk): the next write starts a new one. */
  private torn: boolean
  /** Set once a write failed: nothing more is recorded, and nothing more may be shown. */
  private failure: FatalError | undefined
  private closed = false

  constructor(
    private readonly file: string,
    options: DisplayMarksOptions = {},
  ) {
    this.limit = options.compactAboveBytes ?? COMPACT_ABOVE_BYTES
    this.compactAbove = this.limit
    const read = readMarks(file)
    const text = read ?? ''
    this.marks = read === undefined ? undefined : parse(text)
    this.latest = new Map(this.marks)
    this.bytes = Buffer.byteLength(text)
    this.torn = text.length > 0 && !text.endsWith('\n')
    if (this.bytes > this.compactAbove) {
      try {
        this.compact()
      } catch (error) {
        throw dataDirFailure(dirname(file), error)
      }
    }
    this.fd = open(file)
  }

  /**
   * Records, in one write, how far each sender's messages were shown.
   * @throws FatalError (DATA_DIR) when the write fails (a full disk): one line that says so, and every
   * later call throws it again
   */
  mark(marks: ReadonlyMap<string, number>): void {
    if (this.failure) throw this.failure
    // Closed, its descriptor may already name another file: nothing is written through it.
    if (this.closed) return
    let text = ''
    for (const [peer, seq] of marks) {
      text += line(peer, seq)
      const had = this.latest.get(peer) ?? 0
      if (seq <= had) continue
      this.latest.delete(peer)
      this.latest.set(peer, seq)
    }
    if (!text) return
    if (this.torn) text = `\n${text}`
    try {
      writeWhole(this.fd, text)
      this.torn = false
      this.bytes += text.length
      if (this.bytes <= this.compactAbove) return
      // The compacted file is on disk before the one being appended to is let go.
      this.compact()
      closeSync(this.fd)
      this.fd = open(this.file)
    } catch (error) {
      this.failure = dataDirFailure(dirname(this.file), error)
      throw this.failure
    }
  }

  /** Syncs and closes the file; once is enough, and a failed sync still closes it. */
  close(): void {
    if (this.closed) return
    this.closed = true
    try {
      fsyncSync(this.fd)
    } finally {
      closeSync(this.fd)
    }
  }

  private compact(): void {
    let excess = this.latest.size - MAX_MARKED_SENDERS
    for (const peer of this.latest.keys()) {
      if (excess-- <= 0) break
      this.latest.delete(peer)
    }
    let text = ''
    for (const [peer, seq] of this.latest) text += line(peer, seq)
    replaceFile(this.file, text, 0o600)
    this.bytes = text.length
    // Amortised: with many senders, the next compaction waits until as much again was appended.
    this.compactAbove = Math.max(this.limit, 2 * this.bytes)
  }
}

/**
 * Writes all of `text`: a write that finds the disk filling up may take only part of it, and the rest then
 * fails with the reason (ENOSPC) instead of leaving a torn mark unsaid.
 */
function writeWhole(fd: number, text: string): void {
  const written = writeSync(fd, text)
  if (written >= text.length) return
  // Marks are ASCII: a character is a byte.
  const bytes = Buffer.from(text)
  for (let done = written; done < bytes.length; ) done += writeSync(fd, bytes, done)
}

/** One mark as the file holds it; `parse` reads it back. */
function line(peer: string, seq: number): string {
  return `${peer} ${seq}\n`
}

function open(file: string): number {
  try {
    return openForAppend(file, 0o600)
  } catch (error) {
    if (isLinkRefusal(error)) throw new FatalError(ExitCode.DATA_DIR, linkAdvice(file), { cause: error })
    throw unusable(file, error)
  }
}

/** The file's text, or undefined when there is none yet. */
function readMarks(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw unusable(file, error)
  }
}

/** The file cannot be read or opened: one line that says what is there and what to do (exit DATA_DIR). */
function unusable(file: string, error: unknown): FatalError {
  const code = (error as NodeJS.ErrnoException).code
  const message =
    code === 'EISDIR'
      ? `${file} is a directory, where parley keeps how far messages were shown; move it away`
      : `cannot use ${file}, where parley keeps how far messages were shown (${code ?? (error as Error).message}); check the data dir`
  return new FatalError(ExitCode.DATA_DIR, message, { cause: error })
}

/** The last mark per sender; a torn last line (the process died mid-write) is ignored. */
function parse(text: string): Map<string, number> {
  const marks = new Map<string, number>()
  for (const line of text.split('\n')) {
    const match = /^([0-9a-f]{16,128}) (\d{1,16})$/.exec(line)
    if (!match) continue
    const seq = Number(match[2])
    const peer = match[1]!
    // The most recently raised last, as `mark` keeps them.
    if (seq <= (marks.get(peer) ?? 0)) continue
    marks.delete(peer)
    marks.set(peer, seq)
  }
  return marks
}
