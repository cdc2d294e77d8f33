/**
 * A data dir on a disk that refuses writes: full (with room left for empty files, as a disk has
 * inodes to spare), over the user's quota, or failing. Each is refused at open in one line that says so.
 */
import * as fs from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

const disk = vi.hoisted(() => ({
  /** Set: a write of more than `room` bytes fails with this code, as the disk would. */
  refuses: undefined as string | undefined,
  room: 0,
}))
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>()
  return {
    ...real,
    // As the system does: the file is created (the open succeeds), and the write that needs room fails.
    writeSync: (...args: Parameters<typeof real.writeSync>) => {
      const data = args[1]
      const bytes = typeof data === 'string' ? Buffer.byteLength(data) : (data as Uint8Array).byteLength
      if (disk.refuses && bytes > disk.room) {
        throw Object.assign(new Error(`${disk.refuses}: the disk refused the write, write`), {
          code: disk.refuses,
        })
      }
      return real.writeSync(...(args as Parameters<typeof real.writeSync>))
    },
  }
})

const { openDataDir, ROOM_PROBE_BYTES } = await import('./data-dir.js')
const { DataDirError, diskTrouble, LogError, systemCode } = await import('./errors.js')

let root: string
beforeEach(async () => {
  root = await fs.mkdtemp(join(process.env.PARLEY_TEST_TMP ?? tmpdir(), 'parley-datadir-full-'))
  disk.refuses = undefined
  disk.room = 0
})
afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true })
})

async function refusal(path: string) {
  const error = await openDataDir(path, { onWarning: () => undefined }).then(
    (dir) => {
      dir.release()
      return undefined
    },
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(DataDirError)
  expect((error as Error).message).not.toContain('\n')
  return error as InstanceType<typeof DataDirError>
}

describe('a data dir on a disk that refuses writes', () => {
  it('is refused when the disk is full, even with room for empty files, and leaves nothing behind', async () => {
    disk.refuses = 'ENOSPC'
    disk.room = 16
    const error = await refusal(root)
    expect(error.code).toBe('NO_SPACE')
    expect(error.message).toBe(
      `data dir ${root} is not writable (ENOSPC); the disk holding it is full; free space on that disk, then run parley again`,
    )
    expect(await fs.readdir(root)).toEqual([])
  })

  it('opens when the disk has the room a node needs to start', async () => {
    disk.refuses = 'ENOSPC'
    disk.room = ROOM_PROBE_BYTES
    const dir = await openDataDir(root, { onWarning: () => undefined })
    dir.release()
    expect(await fs.readdir(root)).toEqual([])
  })

  it('says a used-up quota and a failing disk in words of their own', async () => {
    disk.refuses = 'EDQUOT'
    const quota = await refusal(root)
    expect(quota.code).toBe('NO_SPACE')
    expect(quota.message).toMatch(/\(EDQUOT\); your disk quota there is used up; free space in it/)
    disk.refuses = 'EIO'
    const failing = await refusal(root)
    expect(failing.code).toBe('UNWRITABLE')
    expect(failing.message).toMatch(/\(EIO\); the disk holding it reports an I\/O error; check that disk/)
  })
})

describe('the system error behind a store error', () => {
  const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })

  it("finds a failed write's code through the error that reports it", () => {
    const error = new LogError('IO', 'cannot append to /x/journal.log (ENOSPC)', { cause: enospc })
    expect(systemCode(error)).toBe('ENOSPC')
    expect(diskTrouble(error)).toBe('ENOSPC')
    expect(diskTrouble(new Error('outer', { cause: error }))).toBe('ENOSPC')
  })

  it('tells a failure of the file or of the records from one of the disk', () => {
    const denied = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' })
    expect(systemCode(denied)).toBe('EACCES')
    expect(diskTrouble(denied)).toBeUndefined()
    expect(systemCode(new LogError('TOO_LARGE', 'too large'))).toBeUndefined()
    expect(diskTrouble(new LogError('IO', '/x changed at offset 8; reopen it'))).toBeUndefined()
    expect(diskTrouble('ENOSPC')).toBeUndefined()
  })
})
