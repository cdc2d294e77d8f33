import { execFileSync } from 'node:child_process'
import {
  appendFileSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DisplayMarks, MAX_MARKED_SENDERS } from './display-marks.js'
import { ExitCode, FatalError } from './exit-codes.js'

const alice = 'a'.repeat(64)
const bob = 'b'.repeat(64)
// Inside the test run's own folder (removed when the run ends), as the testkit's tempDir() does.
const fresh = () => join(mkdtempSync(join(process.env.PARLEY_TEST_TMP ?? tmpdir(), 'parley-marks-')), 'shown')

describe('display marks: how far each sender was shown', () => {
  it('says nothing for a data dir from before the marks existed, so nothing is shown twice', () => {
    const marks = new DisplayMarks(fresh())
    expect(marks.marks).toBeUndefined()
    marks.close()
  })

  it('refuses a directory where its file goes, in one line with the data dir exit code', () => {
    const file = fresh()
    mkdirSync(file)
    let error: unknown
    try {
      new DisplayMarks(file).close()
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(FatalError)
    expect((error as FatalError).exitCode).toBe(ExitCode.DATA_DIR)
    expect((error as Error).message).toBe(
      `${file} is a directory, where parley keeps how far messages were shown; move it away`,
    )
  })

  it('keeps the highest mark per sender across reopenings', () => {
    const file = fresh()
    const first = new DisplayMarks(file)
    first.mark(new Map([[alice, 3]]))
    first.mark(
      new Map([
        [alice, 7],
        [bob, 2],
      ]),
    )
    first.close()
    const again = new DisplayMarks(file)
    expect(again.marks).toEqual(
      new Map([
        [alice, 7],
        [bob, 2],
      ]),
    )
    again.close()
  })

  it('ignores a line torn by a crash in the middle of a write', () => {
    const file = fresh()
    writeFileSync(file, `${alice} 5\n`)
    appendFileSync(file, `${alice} 9`.slice(0, 40))
    const marks = new DisplayMarks(file)
    expect(marks.marks?.get(alice)).toBe(5)
    marks.close()
  })

  it('starts a new line after one torn by a crash, so the next mark is not lost with it', () => {
    const file = fresh()
    writeFileSync(file, `${alice} 5\n`)
    appendFileSync(file, `${alice} 9`.slice(0, 40))
    const marks = new DisplayMarks(file)
    marks.mark(new Map([[bob, 3]]))
    marks.close()
    const again = new DisplayMarks(file)
    expect(again.marks).toEqual(
      new Map([
        [alice, 5],
        [bob, 3],
      ]),
    )
    again.close()
  })

  it('compacts a large file to one line per sender', () => {
    const file = fresh()
    writeFileSync(file, `${alice} 1\n`.repeat(20_000))
    new DisplayMarks(file).close()
    expect(readFileSync(file, 'utf8')).toBe(`${alice} 1\n`)
  })

  it('stays small while it runs: past its limit it is rewritten with one line per sender', () => {
    const file = fresh()
    const marks = new DisplayMarks(file, { compactAboveBytes: 4096 })
    marks.mark(new Map([[bob, 2]]))
    let largest = 0
    for (let seq = 1; seq <= 2_000; seq++) {
      marks.mark(new Map([[alice, seq]]))
      largest = Math.max(largest, statSync(file).size)
    }
    // 2,000 lines of about 70 bytes would be 139,000 bytes; the write that crosses the limit compacts.
    expect(largest).toBeLessThanOrEqual(4096)
    marks.mark(new Map([[alice, 2_001]]))
    marks.close()
    const again = new DisplayMarks(file)
    expect(again.marks).toEqual(
      new Map([
        [bob, 2],
        [alice, 2_001],
      ]),
    )
    again.close()
  })

  it('with many senders, rewrites the file a few times, not on every mark', () => {
    const file = fresh()
    const marks = new DisplayMarks(file, { compactAboveBytes: 4096 })
    const sender = (i: number) => i.toString(16).padStart(64, '0')
    let rewrites = 0
    let inode = statSync(file).ino
    for (let i = 0; i < 5_000; i++) {
      marks.mark(new Map([[sender(i), 1]]))
      const now = statSync(file).ino
      if (now !== inode) rewrites++
      inode = now
    }
    marks.close()
    // 5,000 senders of 67 bytes each: twice as much again before each rewrite, so about log2(335k / 4k).
    expect(rewrites).toBeLessThanOrEqual(12)
    expect(new DisplayMarks(file).marks?.size).toBe(5_000)
  })

  it('keeps the latest MAX_MARKED_SENDERS senders, one raised again among them', () => {
    const file = fresh()
    const sender = (i: number) => i.toString(16).padStart(64, '0')
    const marks = new DisplayMarks(file)
    for (let i = 0; i <= MAX_MARKED_SENDERS; i += 1_000)
      marks.mark(new Map(Array.from({ length: 1_000 }, (_, j) => [sender(i + j), 1])))
    marks.mark(new Map([[sender(5), 2]]))
    marks.close()
    new DisplayMarks(file).close()
    const kept = new DisplayMarks(file).marks!
    expect(kept.size).toBe(MAX_MARKED_SENDERS)
    expect(kept.get(sender(5))).toBe(2)
    expect(kept.has(sender(0))).toBe(false)
    expect(kept.get(sender(MAX_MARKED_SENDERS))).toBe(1)
  })
})

describe('display marks with a file as the output: a write a kill parted from its mark', () => {
  /** A marks file and an output file opened for appending (`>>`), as a fresh run of parley has them. */
  function run(dir = mkdtempSync(join(process.env.PARLEY_TEST_TMP ?? tmpdir(), 'parley-marks-'))) {
    const output = openSync(join(dir, 'chat.log'), 'a')
    const marks = new DisplayMarks(join(dir, 'shown'), { output })
    return { dir, output, marks }
  }
  const written = (shown: number) =>
    Array.from({ length: shown }, (_, i) => `<alice> line ${i + 1}\n`).join('')

  it('takes the marks of an announced write found whole in the file, and records them', () => {
    const first = run()
    first.marks.mark(new Map([[alice, 2]]))
    first.marks.intend(new Map([[alice, 5]]), written(5))
    writeSync(first.output, written(5))
    // Killed here: the mark for seq 5 was never written.
    closeSync(first.output)
    const second = run(first.dir)
    expect(second.marks.marks).toEqual(new Map([[alice, 5]]))
    expect(second.marks.recovered).toEqual(new Map([[alice, 5]]))
    second.marks.close()
    closeSync(second.output)
    // Recorded as a mark: a start with another output (a terminal) has it too.
    const third = new DisplayMarks(join(first.dir, 'shown'))
    expect(third.marks).toEqual(new Map([[alice, 5]]))
    third.close()
  })

  it('shows again a write that was announced and never made', () => {
    const first = run()
    first.marks.mark(new Map([[alice, 2]]))
    first.marks.intend(new Map([[alice, 5]]), written(5))
    closeSync(first.output)
    const second = run(first.dir)
    expect(second.marks.marks).toEqual(new Map([[alice, 2]]))
    expect(second.marks.recovered).toBeUndefined()
    second.marks.close()
    closeSync(second.output)
  })

  it('shows again a write cut short, or whose place in the file holds other bytes', () => {
    const short = run()
    short.marks.intend(new Map([[alice, 5]]), written(5))
    writeSync(short.output, written(5).slice(0, 30))
    closeSync(short.output)
    const afterShort = run(short.dir)
    expect(afterShort.marks.marks).toEqual(new Map())
    afterShort.marks.close()
    closeSync(afterShort.output)

    const other = run()
    other.marks.intend(new Map([[alice, 5]]), written(5))
    // Somebody else appended to the file as long a text after the kill.
    writeSync(other.output, written(5).replace('line 3', 'line 9'))
    closeSync(other.output)
    const afterOther = run(other.dir)
    expect(afterOther.marks.marks).toEqual(new Map())
    afterOther.marks.close()
    closeSync(afterOther.output)
  })

  it('shows again a write announced for another file than the output now', () => {
    const first = run()
    first.marks.intend(new Map([[alice, 5]]), written(5))
    writeSync(first.output, written(5))
    closeSync(first.output)
    // The next run writes to another file, in which the same bytes happen to be.
    const elsewhere = join(first.dir, 'other.log')
    writeFileSync(elsewhere, written(5))
    const output = openSync(elsewhere, 'a')
    const second = new DisplayMarks(join(first.dir, 'shown'), { output })
    expect(second.marks).toEqual(new Map())
    second.close()
    closeSync(output)
  })

  it('announces nothing when the output is not a regular file (a pipe, a terminal)', () => {
    const dir = mkdtempSync(join(process.env.PARLEY_TEST_TMP ?? tmpdir(), 'parley-marks-'))
    const file = join(dir, 'shown')
    // This test's stdin under vitest is no regular file; nor is /dev/null.
    const output = openSync('/dev/null', 'a')
    const marks = new DisplayMarks(file, { output })
    marks.intend(new Map([[alice, 5]]), written(5))
    marks.mark(new Map([[alice, 5]]))
    marks.close()
    closeSync(output)
    expect(readFileSync(file, 'utf8')).toBe(`${alice} 5\n`)
  })

  it('reads an announcement line by line as a release before them skips it, and a torn one as nothing', () => {
    const first = run()
    first.marks.mark(new Map([[bob, 1]]))
    first.marks.intend(new Map([[alice, 5]]), written(5))
    writeSync(first.output, written(5))
    first.marks.mark(new Map([[alice, 5]]))
    first.marks.intend(new Map([[alice, 7]]), written(2))
    writeSync(first.output, written(2))
    closeSync(first.output)
    const text = readFileSync(join(first.dir, 'shown'), 'utf8')
    const lines = text.trimEnd().split('\n')
    // A mark line as every release reads it; an announcement starts with "@", which no mark can.
    expect(lines.filter((l) => /^([0-9a-f]{16,128}) (\d{1,16})$/.test(l))).toEqual([`${bob} 1`, `${alice} 5`])
    expect(lines.filter((l) => l.startsWith('@ '))).toHaveLength(2)
    // The last announcement torn by the kill: nothing to check, so nothing is taken from it.
    writeFileSync(join(first.dir, 'shown'), text.slice(0, -20))
    const second = run(first.dir)
    expect(second.marks.marks).toEqual(
      new Map([
        [bob, 1],
        [alice, 5],
      ]),
    )
    second.marks.close()
    closeSync(second.output)
  })

  it('opens a marks file an earlier release wrote as it did', () => {
    const dir = mkdtempSync(join(process.env.PARLEY_TEST_TMP ?? tmpdir(), 'parley-marks-'))
    // What the release before announcements wrote: mark lines only, the last torn.
    writeFileSync(join(dir, 'shown'), `${alice} 3\n${bob} 4\n${alice} 8\n${bob} 6`)
    const { marks, output } = run(dir)
    expect(marks.marks).toEqual(
      new Map([
        [alice, 8],
        [bob, 6],
      ]),
    )
    marks.close()
    closeSync(output)
  })
})

describe('display marks with a pipe as the output: a run killed inside a line', () => {
  /** A named pipe, opened for reading and writing so that no open waits: a pipe as stdout, to `fstat`. */
  function pipe(dir: string, name: string): number {
    const path = join(dir, name)
    execFileSync('mkfifo', [path])
    return openSync(path, 'r+')
  }
  const setup = () => {
    const dir = mkdtempSync(join(process.env.PARLEY_TEST_TMP ?? tmpdir(), 'parley-marks-'))
    const file = join(dir, 'shown')
    const open = (output?: number, compactAboveBytes?: number) =>
      new DisplayMarks(file, {
        ...(output === undefined ? {} : { output }),
        ...(compactAboveBytes === undefined ? {} : { compactAboveBytes }),
      })
    /** Whether a run on `output` learns that the last run left it inside a line. */
    const leftInside = (output?: number) => {
      const marks = open(output)
      const left = marks.leftInsideLine
      marks.close()
      return left
    }
    return { dir, open, leftInside }
  }

  it('tells a next run on that same pipe, and on no other output, that its last write left a line open', () => {
    const { dir, open, leftInside } = setup()
    const same = pipe(dir, 'same')
    const other = pipe(dir, 'other')
    const log = openSync(join(dir, 'chat.log'), 'a')
    const first = open(same)
    first.mark(new Map([[alice, 1]]), true)
    // Killed here.
    expect(leftInside(same)).toBe(true)
    expect(leftInside(other)).toBe(false)
    expect(leftInside()).toBe(false)
    // A file is read instead (endsInsideLine).
    expect(leftInside(log)).toBe(false)
    first.close()
    for (const fd of [same, other, log]) closeSync(fd)
  })

  it('forgets it once a later write ends the line, or the line is ended without a message', () => {
    const { dir, open, leftInside } = setup()
    const out = pipe(dir, 'out')
    const run = open(out)
    run.mark(new Map([[alice, 1]]), true)
    run.mark(new Map([[alice, 2]]))
    expect(leftInside(out)).toBe(false)
    run.mark(new Map([[alice, 3]]), true)
    expect(leftInside(out)).toBe(true)
    run.mark(new Map())
    expect(leftInside(out)).toBe(false)
    run.close()
    closeSync(out)
  })

  it('keeps it through a compaction, while it runs and when it opens', () => {
    const { dir, open, leftInside } = setup()
    const out = pipe(dir, 'out')
    const run = open(out, 64)
    for (let seq = 1; seq <= 10; seq++) run.mark(new Map([[alice, seq]]), true)
    run.close()
    expect(leftInside(out)).toBe(true)
    const again = open(out, 16)
    expect(again.leftInsideLine).toBe(true)
    again.close()
    expect(leftInside(out)).toBe(true)
    const last = open()
    expect(last.marks).toEqual(new Map([[alice, 10]]))
    last.close()
    closeSync(out)
  })
})
