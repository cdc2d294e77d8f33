/**
 * How far each sender's messages have been shown, kept in DATA_DIR/shown. Written with a plain
 * synchronous write right after lines reach the screen or stdout: a process killed at any instant has
 * at most the one write in flight between the two (at most 4,000 bytes of lines), instead of a whole
 * journal batch. The file is synced when it is closed, and a compaction reaches the disk (file, then
 * directory) before it replaces the old file, so a machine crash can never leave an empty file that
 * would show everything again.
 */
import { closeSync, existsSync, fsyncSync, readFileSync, writeSync } from 'node:fs'
import { isLinkRefusal, linkAdvice, openForAppend, replaceFile } from '@parley/store'
import { ExitCode, FatalError } from './exit-codes.js'

export const DISPLAY_MARKS_FILE = 'shown'
const COMPACT_ABOVE_BYTES = 1024 * 1024

export class DisplayMarks {
  /** Highest shown seq per sender; undefined when the data dir predates the marks (show nothing again). */
  readonly marks: Map<string, number> | undefined
  private fd: number

  constructor(private readonly file: string) {
    const existed = existsSync(file)
    this.marks = existed ? parse(readFileSync(file, 'utf8')) : undefined
    if (existed && this.marks && readFileSync(file).length > COMPACT_ABOVE_BYTES) this.compact(this.marks)
    try {
      this.fd = openForAppend(file, 0o600)
    } catch (error) {
      if (isLinkRefusal(error)) throw new FatalError(ExitCode.DATA_DIR, linkAdvice(file), { cause: error })
      throw error
    }
  }

  /** Records, in one write, how far each sender's messages were shown. */
  mark(marks: ReadonlyMap<string, number>): void {
    let text = ''
    for (const [peer, seq] of marks) text += `${peer} ${seq}\n`
    if (text) writeSync(this.fd, text)
  }

  close(): void {
    try {
      fsyncSync(this.fd)
    } finally {
      closeSync(this.fd)
    }
  }

  private compact(marks: Map<string, number>): void {
    let text = ''
    for (const [peer, seq] of marks) text += `${peer} ${seq}\n`
    replaceFile(this.file, text, 0o600)
  }
}

/** The last mark per sender; a torn last line (the process died mid-write) is ignored. */
function parse(text: string): Map<string, number> {
  const marks = new Map<string, number>()
  for (const line of text.split('\n')) {
    const match = /^([0-9a-f]{16,128}) (\d{1,16})$/.exec(line)
    if (!match) continue
    const seq = Number(match[2])
    if (seq > (marks.get(match[1]!) ?? 0)) marks.set(match[1]!, seq)
  }
  return marks
}
