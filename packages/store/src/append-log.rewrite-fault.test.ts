/**
 * A rewrite that fails half way, after its new file is written and synced but before it is renamed over
 * the log (as a crash or a full disk there would leave it): the old log stays the one in use. And one
 * whose new file is slow to write: appends go on meanwhile.
 */
import * as fs from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

const faults = vi.hoisted(() => ({
  failRename: false,
  /** Set: the sync of a rewrite's new file tells `reached`, then waits for this promise. */
  holdRewriteSync: undefined as { reached: () => void; release: Promise<void> } | undefined,
}))
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>()
  return {
    ...real,
    rename: async (from: string, to: string) => {
      if (faults.failRename) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })
      return real.rename(from, to)
    },
    open: async (...args: Parameters<typeof real.open>) => {
      const handle = await real.open(...args)
      const hold = faults.holdRewriteSync
      if (!hold || !String(args[0]).endsWith('.rewrite')) return handle
      faults.holdRewriteSync = undefined
      const sync = handle.sync.bind(handle)
      handle.sync = async () => {
        hold.reached()
        await hold.release
        return sync()
      }
      return handle
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
  faults.holdRewriteSync = undefined
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

  it('lets appends made meanwhile complete while the new file is written, and keeps them after the rename', async () => {
    const log = await AppendLog.open(path, { accountOf })
    await log.append([
      { from: 'bob', n: 1 },
      { from: 'bob', n: 2 },
    ])
    let release = () => {}
    const reached = new Promise<void>((resolve) => {
      faults.holdRewriteSync = { reached: resolve, release: new Promise((r) => (release = r)) }
    })
    const rewritten = log.rewrite([{ from: 'bob', n: 2 }])
    await reached
    // The new file's sync is held: these are durable in the old file, and must not wait for it.
    await log.append([{ from: 'carol', n: 3 }])
    await log.append([{ from: 'bob', n: 4 }])
    release()
    await rewritten
    await log.append([{ from: 'carol', n: 5 }])
    expect(log.size).toBe((await fs.stat(path)).size)
    await log.close()
    const reopened = await AppendLog.open(path, { accountOf })
    await reopened.close()
    expect(reopened.records).toEqual([
      { from: 'bob', n: 2 },
      { from: 'carol', n: 3 },
      { from: 'bob', n: 4 },
      { from: 'carol', n: 5 },
    ])
    expect(reopened.usage.accounts()).toEqual(log.usage.accounts())
  })
})
