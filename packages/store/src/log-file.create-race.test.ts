/**
 * Two openers of one new log: the second finds it missing, then loses the race to create it (EEXIST) and
 * opens the winner's file instead. The race is made by creating the file, or a link, just before the
 * exclusive create runs.
 */
import { constants, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { mkdtemp, realpath, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { openFlagsOf } from '../test/fd-flags.js'

const race = vi.hoisted(() => ({ before: undefined as ((path: string) => void) | undefined, creates: 0 }))

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>()
  const { constants: c } = await import('node:fs')
  return {
    ...real,
    open: (path: string, flags: number, mode?: number) => {
      if (typeof flags === 'number' && flags & c.O_CREAT && flags & c.O_EXCL && race.before) {
        race.creates++
        race.before(path)
      }
      return real.open(path, flags, mode)
    },
  }
})

const { AppendLog } = await import('./append-log.js')
const { LogError } = await import('./errors.js')

let dir: string
beforeEach(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), 'parley-store-race-')))
  race.creates = 0
})
afterEach(async () => {
  race.before = undefined
  await rm(dir, { recursive: true, force: true })
})

describe('a log created by another opener first', () => {
  it('is opened and used, with the same synced writes', async () => {
    const path = join(dir, 'journal.log')
    race.before = (at) => writeFileSync(at, '', { mode: 0o600 })
    const log = await AppendLog.open(path)
    expect(race.creates).toBe(1)
    await log.append([{ t: 'msg', body: 'after the race' }])
    if (process.platform === 'linux') {
      const flags = openFlagsOf(path)
      expect(flags).toHaveLength(1)
      expect(flags[0]! & constants.O_DSYNC).toBe(constants.O_DSYNC)
    }
    await log.close()
    race.before = undefined
    const again = await AppendLog.open(path)
    expect(await again.readAll()).toEqual([{ t: 'msg', body: 'after the race' }])
    await again.close()
  })

  it('is refused in one line when the winner planted a symbolic link there', async () => {
    const path = join(dir, 'journal.log')
    const target = join(dir, 'precious.txt')
    writeFileSync(target, 'keep me\n')
    race.before = (at) => symlinkSync(target, at)
    const opening = AppendLog.open(path)
    await expect(opening).rejects.toBeInstanceOf(LogError)
    await expect(opening).rejects.toMatchObject({ code: 'IO' })
    await expect(opening).rejects.toThrow(`${path} is a symbolic link`)
    expect(race.creates).toBe(1)
    expect(readFileSync(target, 'utf8')).toBe('keep me\n')
  })
})
