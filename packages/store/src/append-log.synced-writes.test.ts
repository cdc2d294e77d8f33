/**
 * How a flush reaches the disk: on Linux the log is opened with O_DSYNC, so its one `write` returns once
 * durable and no `fdatasync` follows; elsewhere each write is followed by `fdatasync`. Both ways every
 * append whose promise resolved is on the disk.
 */
import { constants } from 'node:fs'
import { mkdtemp, open, realpath, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { openFlagsOf } from '../test/fd-flags.js'

let dir: string
beforeEach(async () => {
  // Resolved: /proc names a descriptor's file by its real path, and a temp dir may be reached by a link.
  dir = await realpath(await mkdtemp(join(tmpdir(), 'parley-store-')))
})
afterEach(async () => {
  vi.restoreAllMocks()
  vi.resetModules()
  await rm(dir, { recursive: true, force: true })
})

/** The open(2) flags of this process's one descriptor on `path`, from /proc (Linux). */
function flagsOf(path: string): number {
  const all = openFlagsOf(path)
  expect(all).toHaveLength(1)
  return all[0]!
}

/** Counts `fdatasync` calls on any FileHandle from now on. */
async function countDatasyncs() {
  const probe = await open(join(dir, 'probe'), 'w')
  const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> }
  await probe.close()
  return vi.spyOn(proto, 'datasync')
}

const record = (i: number) => ({ t: 'msg', i, body: `line ${i}` })

describe.runIf(process.platform === 'linux')('synced writes on Linux', () => {
  it('opens a new log and an existing one with O_DSYNC, and no flush calls fdatasync', async () => {
    const { AppendLog } = await import('./append-log.js')
    const path = join(dir, 'journal.log')
    const datasync = await countDatasyncs()
    const log = await AppendLog.open(path)
    expect(flagsOf(path) & constants.O_DSYNC).toBe(constants.O_DSYNC)
    for (let i = 0; i < 20; i++) await log.append([record(i)])
    await Promise.all(Array.from({ length: 20 }, (_, i) => log.append([record(20 + i)])))
    expect(log.stats.flushes).toBeGreaterThanOrEqual(21)
    expect(datasync).not.toHaveBeenCalled()
    await log.close()

    const seen: unknown[] = []
    const again = await AppendLog.open(path, { onRecords: (records) => void seen.push(...records) })
    expect(seen).toHaveLength(40)
    expect(flagsOf(path) & constants.O_DSYNC).toBe(constants.O_DSYNC)
    await again.append([record(40)])
    expect(datasync).not.toHaveBeenCalled()
    await again.close()
  })

  it('keeps O_DSYNC on the file a rewrite puts in place', async () => {
    const { AppendLog } = await import('./append-log.js')
    const path = join(dir, 'journal.log')
    const log = await AppendLog.open(path)
    await log.append([record(1), record(2)])
    await log.rewrite([record(2)])
    expect(flagsOf(path) & constants.O_DSYNC).toBe(constants.O_DSYNC)
    const datasync = await countDatasyncs()
    await log.append([record(3)])
    expect(datasync).not.toHaveBeenCalled()
    await log.close()
    const seen: unknown[] = []
    await (await AppendLog.open(path, { onRecords: (records) => void seen.push(...records) })).close()
    expect(seen).toEqual([record(2), record(3)])
  })
})

describe('where writes are not synced (macOS, Windows)', () => {
  it('calls fdatasync once for each flush', async () => {
    vi.resetModules()
    const platform = Object.getOwnPropertyDescriptor(process, 'platform')!
    Object.defineProperty(process, 'platform', { value: 'darwin' })
    let AppendLog: typeof import('./append-log.js').AppendLog
    let syncOnWrite: number
    try {
      ;({ AppendLog } = await import('./append-log.js'))
      ;({ SYNC_ON_WRITE: syncOnWrite } = await import('./private-files.js'))
    } finally {
      Object.defineProperty(process, 'platform', platform)
    }
    expect(syncOnWrite).toBe(0)
    const path = join(dir, 'journal.log')
    const log = await AppendLog.open(path)
    if (process.platform === 'linux') expect(flagsOf(path) & constants.O_DSYNC).toBe(0)
    const datasync = await countDatasyncs()
    for (let i = 0; i < 5; i++) await log.append([record(i)])
    expect(log.stats.flushes).toBe(5)
    expect(datasync).toHaveBeenCalledTimes(5)
    await log.close()
  })
})
