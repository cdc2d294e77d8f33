/** Display marks on a disk that fills up: one line that names the data dir, nothing torn left unsaid. */
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { beforeEach, describe, expect, it, vi } from 'vitest'

const disk = vi.hoisted(() => ({
  /** Set: the next write takes this many bytes, and every write after it fails with ENOSPC. */
  roomLeft: undefined as number | undefined,
}))
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>()
  const full = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
  return {
    ...real,
    writeSync: (fd: number, data: string | Uint8Array, ...rest: unknown[]) => {
      const room = disk.roomLeft
      if (room === undefined) return (real.writeSync as (...args: unknown[]) => number)(fd, data, ...rest)
      if (room === 0) throw full()
      disk.roomLeft = 0
      const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data)
      const offset = typeof rest[0] === 'number' ? rest[0] : 0
      return real.writeSync(fd, bytes.subarray(offset, offset + room))
    },
  }
})

const { DisplayMarks } = await import('./display-marks.js')
const { ExitCode, FatalError } = await import('./exit-codes.js')
type FatalError = InstanceType<typeof FatalError>

const alice = 'a'.repeat(64)
const bob = 'b'.repeat(64)
const fresh = () => join(mkdtempSync(join(process.env.PARLEY_TEST_TMP ?? tmpdir(), 'parley-marks-')), 'shown')

beforeEach(() => {
  disk.roomLeft = undefined
})

function thrown(run: () => void): unknown {
  try {
    run()
  } catch (error) {
    return error
  }
  return undefined
}

describe('display marks on a disk that fills up', () => {
  it('stop with one line that names the data dir and the full disk (exit DATA_DIR), then record nothing more', () => {
    const file = fresh()
    const marks = new DisplayMarks(file)
    marks.mark(new Map([[alice, 1]]))
    disk.roomLeft = 0
    const error = thrown(() => marks.mark(new Map([[alice, 2]])))
    expect(error).toBeInstanceOf(FatalError)
    expect((error as FatalError).exitCode).toBe(ExitCode.DATA_DIR)
    expect((error as Error).message).toMatch(
      new RegExp(
        `^the disk holding the data dir ${dirname(file)} is full \\(ENOSPC\\): nothing parley acknowledged is lost .*; free space on that disk, then run parley again$`,
      ),
    )
    disk.roomLeft = undefined
    expect(thrown(() => marks.mark(new Map([[bob, 1]])))).toBe(error)
    marks.close()
    marks.close()
    expect(readFileSync(file, 'utf8')).toBe(`${alice} 1\n`)
  })

  it('say so when a write is cut short, instead of taking the torn mark for a whole one', () => {
    const file = fresh()
    const marks = new DisplayMarks(file)
    disk.roomLeft = 10
    const error = thrown(() => marks.mark(new Map([[alice, 12]])))
    expect(error).toBeInstanceOf(FatalError)
    expect((error as Error).message).toMatch(/is full \(ENOSPC\)/)
    disk.roomLeft = undefined
    marks.close()
    // The next run shows again what that write showed: the torn mark claims nothing.
    const again = new DisplayMarks(file)
    expect(again.marks?.get(alice)).toBeUndefined()
    again.mark(new Map([[bob, 4]]))
    again.close()
    expect(new DisplayMarks(file).marks).toEqual(new Map([[bob, 4]]))
  })
})
