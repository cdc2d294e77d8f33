import { appendFileSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DisplayMarks } from './display-marks.js'

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
})
