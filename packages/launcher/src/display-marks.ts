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
 *
 * When lines go to a regular file (`parley >> chat.log`), each write is announced before it is made
 * (`intend`): the file's identity, the offset the write starts at, its length and CRC-32, and the marks it
 * will earn. A kill between the write and its mark leaves that announcement last in the file; the next
 * start reads the output file at that offset, and if the write is there, byte for byte, takes its marks
 * instead of showing it again. Whatever it cannot check (a pipe, a terminal, another file, a write cut
 * short) is shown again, as before: never lost.
 *
 * A write that leaves the output inside a line (a part of a long line, `more`) is marked with the output's
 * identity (`> DEV INO`), and the next mark, or the end of that line, clears it. A pipe cannot be read back:
 * a next run whose stdout is that same pipe (a shell loop that starts parley again on it) learns from this
 * that the pipe's reader holds an open line, and ends it first, so the rest is not glued to it.
 */
import {
  type BigIntStats,
  closeSync,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  readSync,
  writeSync,
} from 'node:fs'
import { dirname } from 'node:path'
import { DEFAULT_HISTORY_LIMIT } from '@parley/core'
import { crc32, isLinkRefusal, linkAdvice, openForAppend, replaceFile } from '@parley/store'
import { dataDirFailure } from './data-dir-failure.js'
import { ExitCode, FatalError } from './exit-codes.js'

export const DISPLAY_MARKS_FILE = 'shown'
const COMPACT_ABOVE_BYTES = 1024 * 1024
/** Senders whose marks are kept, the most recently marked: four times as many as the recent history holds messages. */
export const MAX_MARKED_SENDERS = 4 * DEFAULT_HISTORY_LIMIT

export interface DisplayMarksOptions {
  /** The file is rewritten with one line per sender once it holds more than this many bytes. */
  readonly compactAboveBytes?: number
  /**
   * The descriptor lines are shown on (the CLI's stdout). When it is a regular file, `intend` announces
   * each write, and a write a kill parted from its mark is found there at the next start, not shown again.
   */
  readonly output?: number
}

/** An output (stdout) as `fstat` names it: a pipe, a file, a terminal. */
interface OutputId {
  readonly dev: bigint
  readonly ino: bigint
}

/** A write of lines announced in the marks file before it was made (`intend`). */
export interface IntendedWrite {
  readonly dev: bigint
  readonly ino: bigint
  /** The output file's size when the write began: where its bytes start. */
  readonly offset: bigint
  readonly length: number
  readonly crc: number
  /** The marks the write earns once it is made. */
  readonly marks: ReadonlyMap<string, number>
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
  /** The output, when it is a regular file: writes to it are announced. */
  private readonly output: number | undefined
  /**
   * The last run's last write, announced and never marked, was found whole in the output file: its marks
   * were taken instead of showing it again (undefined when there was none, or it could not be checked).
   */
  readonly recovered: ReadonlyMap<string, number> | undefined
  /**
   * The output is the pipe (or other output that is no regular file) the last run's last write left inside
   * a line: what this run writes first must end that line. A regular file is read instead (`endsInsideLine`).
   */
  readonly leftInsideLine: boolean
  /** The output, whatever its kind, as `mark` names it when a write leaves it inside a line. */
  private readonly outputId: OutputId | undefined
  /** The output the file says was left inside a line by the last write marked, kept through a compaction. */
  private openOutput: OutputId | undefined

  constructor(
    private readonly file: string,
    options: DisplayMarksOptions = {},
  ) {
    this.limit = options.compactAboveBytes ?? COMPACT_ABOVE_BYTES
    this.compactAbove = this.limit
    const read = readMarks(file)
    const text = read ?? ''
    const parsed = read === undefined ? undefined : parse(text)
    this.marks = parsed?.marks
    const outputStat = options.output === undefined ? undefined : statOf(options.output)
    this.output = outputStat?.isFile() ? options.output : undefined
    this.outputId = outputStat && { dev: outputStat.dev, ino: outputStat.ino }
    this.openOutput = parsed?.open
    const left = parsed?.open
    this.leftInsideLine =
      left !== undefined &&
      outputStat !== undefined &&
      !outputStat.isFile() &&
      left.dev === outputStat.dev &&
      left.ino === outputStat.ino
    const pending = parsed?.pending
    if (pending && this.output !== undefined && this.marks && landed(pending, this.output)) {
      this.recovered = pending.marks
      for (const [peer, seq] of pending.marks) raise(this.marks, peer, seq)
    }
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
    // Recorded as a mark, so that the next start has it whatever this run's output is.
    if (this.recovered) {
      try {
        this.mark(this.recovered)
      } catch (error) {
        closeSync(this.fd)
        throw error
      }
    }
  }

  /**
   * Announces a write of `text` to the output that will earn `marks`, right before it is made: a no-op
   * unless the output is a regular file.
   * @throws FatalError (DATA_DIR) when the announcement cannot be written; the write must not be made then
   */
  intend(marks: ReadonlyMap<string, number>, text: string): void {
    if (this.failure) throw this.failure
    if (this.closed || this.output === undefined || marks.size === 0) return
    const stat = statOf(this.output)
    // Not checkable: the write goes unannounced, and a kill right after it shows it again, as on a pipe.
    if (!stat) return
    const bytes = Buffer.from(text)
    let line = `@ ${stat.dev} ${stat.ino} ${stat.size} ${bytes.length} ${crc32(bytes)}`
    for (const [peer, seq] of marks) line += ` ${peer} ${seq}`
    this.append(`${line}\n`)
  }

  /**
   * Records, in one write, how far each sender's messages were shown, and whether the write they were
   * shown in left the output inside a line (`insideLine`). With no marks, it records only that.
   * @throws FatalError (DATA_DIR) when the write fails (a full disk): one line that says so, and every
   * later call throws it again
   */
  mark(marks: ReadonlyMap<string, number>, insideLine = false): void {
    if (this.failure) throw this.failure
    // Closed, its descriptor may already name another file: nothing is written through it.
    if (this.closed) return
    let text = ''
    for (const [peer, seq] of marks) {
      text += line(peer, seq)
      raise(this.latest, peer, seq)
    }
    const open = insideLine ? this.outputId : undefined
    if (open) text += openLine(open)
    // Any mark line clears what the file said of the output; without one, a line of its own does.
    else if (!text && this.openOutput) text = '>\n'
    this.openOutput = open
    if (!text) return
    this.append(text, true)
  }

  /** Appends whole lines; with `compact`, rewrites the file once it is past its limit. */
  private append(lines: string, compact = false): void {
    const text = this.torn ? `\n${lines}` : lines
    try {
      writeWhole(this.fd, text)
      this.torn = false
      this.bytes += text.length
      if (!compact || this.bytes <= this.compactAbove) return
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
    if (this.openOutput) text += openLine(this.openOutput)
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

/** `> DEV INO`: the write marked just before left this output inside a line. */
function openLine(output: OutputId): string {
  return `> ${output.dev} ${output.ino}\n`
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

const MARK_LINE = /^([0-9a-f]{16,128}) (\d{1,16})$/
const PEER = /^[0-9a-f]{16,128}$/
const SEQ = /^\d{1,16}$/
const WHOLE = /^\d{1,20}$/
const OPEN_LINE = /^> (\d{1,20}) (\d{1,20})$/

/**
 * The last mark per sender, the last write announced and never marked (`pending`), and the output the last
 * write marked left inside a line (`open`). A torn last line (the process died mid-write) is ignored. An
 * announcement starts with `@`, an open line with `>`: a release before them skips them.
 */
function parse(text: string): { marks: Map<string, number>; pending?: IntendedWrite; open?: OutputId } {
  const marks = new Map<string, number>()
  let pending: IntendedWrite | undefined
  let open: OutputId | undefined
  const lines = text.split('\n')
  // The piece after the last newline is a torn line, or empty.
  const whole = lines.length - 1
  for (let i = 0; i < whole; i++) {
    const line = lines[i]!
    if (line.startsWith('@ ')) {
      pending = parseIntent(line)
      continue
    }
    if (line.startsWith('>')) {
      const output = OPEN_LINE.exec(line)
      open = output ? { dev: BigInt(output[1]!), ino: BigInt(output[2]!) } : undefined
      continue
    }
    const match = MARK_LINE.exec(line)
    if (!match) continue
    pending = undefined
    open = undefined
    // The most recently raised last, as `mark` keeps them.
    raise(marks, match[1]!, Number(match[2]))
  }
  // A mark torn by a crash can only be lower than the one it was: taken, it shows more again, never less.
  const torn = MARK_LINE.exec(lines[whole]!)
  if (torn) raise(marks, torn[1]!, Number(torn[2]))
  if (torn) open = undefined
  return { marks, ...(pending ? { pending } : {}), ...(open ? { open } : {}) }
}

/** `@ DEV INO OFFSET LENGTH CRC PEER SEQ [PEER SEQ …]`, or undefined when it is not one. */
function parseIntent(line: string): IntendedWrite | undefined {
  const fields = line.split(' ')
  if (fields.length < 8 || fields.length % 2 !== 0) return undefined
  for (let i = 1; i <= 5; i++) if (!WHOLE.test(fields[i]!)) return undefined
  const marks = new Map<string, number>()
  for (let i = 6; i < fields.length; i += 2) {
    if (!PEER.test(fields[i]!) || !SEQ.test(fields[i + 1]!)) return undefined
    raise(marks, fields[i]!, Number(fields[i + 1]))
  }
  return {
    dev: BigInt(fields[1]!),
    ino: BigInt(fields[2]!),
    offset: BigInt(fields[3]!),
    length: Number(fields[4]),
    crc: Number(fields[5]),
    marks,
  }
}

/** Raises `peer`'s mark to `seq` (never lowers it), moving it to the end: the most recently raised last. */
function raise(marks: Map<string, number>, peer: string, seq: number): void {
  if (seq <= (marks.get(peer) ?? 0)) return
  marks.delete(peer)
  marks.set(peer, seq)
}

function statOf(fd: number): BigIntStats | undefined {
  try {
    return fstatSync(fd, { bigint: true })
  } catch {
    return undefined
  }
}

/**
 * Whether the output file `fd` ends inside a line: a part of a long line (`more`) was its last write when
 * the last run was killed. False when it cannot tell (not a regular file, not readable).
 */
export function endsInsideLine(fd: number): boolean {
  const stat = statOf(fd)
  if (!stat?.isFile() || stat.size === 0n) return false
  const last = readAt(fd, stat, Number(stat.size - 1n), 1)
  return last !== undefined && last[0] !== 0x0a
}

/** Whether `write` is in the output file `fd` now: the same file, long enough, the same bytes at its offset. */
function landed(write: IntendedWrite, fd: number): boolean {
  const stat = statOf(fd)
  if (!stat || stat.dev !== write.dev || stat.ino !== write.ino) return false
  if (stat.size < write.offset + BigInt(write.length)) return false
  const bytes = readAt(fd, stat, Number(write.offset), write.length)
  return bytes !== undefined && crc32(bytes) === write.crc
}

/**
 * `length` bytes of the output file at `offset`. Stdout is usually open for writing only (`>>`), so the
 * file is opened again for reading through the process's own descriptor (Linux's /proc, else /dev/fd),
 * and used only if it is the same file.
 */
function readAt(fd: number, stat: BigIntStats, offset: number, length: number): Buffer | undefined {
  const bytes = Buffer.alloc(length)
  for (const path of [`/proc/self/fd/${fd}`, `/dev/fd/${fd}`]) {
    let reader: number
    try {
      reader = openSync(path, 'r')
    } catch {
      continue
    }
    try {
      const again = fstatSync(reader, { bigint: true })
      if (again.dev !== stat.dev || again.ino !== stat.ino) continue
      let done = 0
      while (done < length) {
        const read = readSync(reader, bytes, done, length - done, offset + done)
        if (read === 0) return undefined
        done += read
      }
      return bytes
    } catch {
      // Unreadable (permissions, a device): not checkable.
    } finally {
      closeSync(reader)
    }
  }
  return undefined
}
