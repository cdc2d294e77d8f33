/**
 * A rewrite that fails half way, after its new file is written and synced but before it is renamed over
 * the log (as a crash or a full disk there would leave it): the old log stays the one in use.
 */
import * as fs from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

const faults = vi.hoisted(() => ({ failRename: false }))
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>()
  return {
    ...real,
    rename: async (from: string, to: string) => {
      if (faults.failRename) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })
      return real.rename(from, to)
    },
  }
})

const { AppendLog } = await import('./append-log.js')

let dir: string
let path: string
beforeEach(async () => {
  dir = await fs.mkdtemp(join(tmpdir(), 'parley-store-fault-'))
  path = join(dir, 'journal.log')
  faults.failRename = false
})
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true })
})

const accountOf = (record: unknown) => (record as { from?: string }).from

describe('a rewrite that fails before its rename', () => {
  it('leaves the old log in use, with appends made around it, its usage counts, and no temporary file', async () => {
    const log = await AppendLog.open(path, { accountOf })
    await log.append([
      { from: 'bob', n: 1 },
      { from: 'bob', n: 2 },
    ])
    const before = log.usage.bytesOf('bob')
    faults.failRename = true
    const rewritten = log.rewrite([{ from: 'bob', n: 2 }])
    const after = log.append([{ from: 'carol', n: 3 }])
    await expect(rewritten).rejects.toMatchObject({
      code: 'IO',
      message: expect.stringContaining('unchanged'),
    })
    await after
    faults.failRename = false
    expect(log.usage.bytesOf('bob')).toBe(before)
    await log.append([{ from: 'bob', n: 4 }])
    await log.close()
    await expect(fs.stat(`${path}.rewrite`)).rejects.toMatchObject({ code: 'ENOENT' })
    const reopened = await AppendLog.open(path, { accountOf })
    await reopened.close()
    expect(reopened.records).toEqual([
      { from: 'bob', n: 1 },
      { from: 'bob', n: 2 },
      { from: 'carol', n: 3 },
      { from: 'bob', n: 4 },
    ])
    expect(reopened.usage.bytesOf('bob')).toBe(log.usage.bytesOf('bob'))
  })
})
