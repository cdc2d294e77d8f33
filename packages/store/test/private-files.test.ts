/**
 * A local attacker who could write the data dir would plant links where parley expects its files. The
 * data dir must be this user's and closed to others, and no file parley writes is opened through a link.
 */

import { closeSync, writeSync } from 'node:fs'
import { chmod, chown, lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type DataDir, openDataDir } from '../src/data-dir.js'
import { AppendLog, DataDirError, LogError, openForAppend, replaceFile } from '../src/index.js'

let root: string
let victim: string
const VICTIM_TEXT = 'export PATH=/usr/bin\n'
const opened: DataDir[] = []
const isRoot = process.getuid?.() === 0

async function refusal(path: string): Promise<DataDirError> {
  const error = await openDataDir(path, { onWarning: () => undefined }).then(
    (dir) => {
      opened.push(dir)
      return undefined
    },
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(DataDirError)
  expect((error as Error).message).not.toContain('\n')
  return error as DataDirError
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'parley-private-'))
  victim = join(root, 'victim-rc')
  await writeFile(victim, VICTIM_TEXT)
})
afterEach(async () => {
  for (const dir of opened.splice(0)) dir.release()
  await rm(root, { recursive: true, force: true })
})

describe('a data dir others could write is refused', () => {
  it.each([0o777, 0o770, 0o755 | 0o020, 0o702])('mode %o: with a chmod hint', async (mode) => {
    const path = join(root, 'data')
    await mkdir(path)
    await chmod(path, mode)
    const error = await refusal(path)
    expect(error.code).toBe('UNSAFE_PERMISSIONS')
    expect(error.message).toContain(`chmod go-w ${path}`)
  })

  it.skipIf(!isRoot)('one that belongs to another user: with a chown hint', async () => {
    const path = join(root, 'data')
    await mkdir(path, { mode: 0o700 })
    await chown(path, 4242, 4242)
    const error = await refusal(path)
    expect(error.code).toBe('NOT_OWNED')
    expect(error.message).toContain('uid 4242')
    expect(error.message).toContain(`chown -R ${process.getuid?.()} ${path}`)
  })

  it('one inside a directory any user can change (not sticky)', async () => {
    const open = join(root, 'shared')
    await mkdir(open)
    await chmod(open, 0o777)
    const error = await refusal(join(open, 'data'))
    expect(error.code).toBe('UNSAFE_PERMISSIONS')
    expect(error.message).toContain(`chmod o-w ${open}`)
  })

  it('but not one made by an earlier release (0700) or by hand with the usual 0755, even under /tmp', async () => {
    for (const [name, mode] of [
      ['made-by-parley', 0o700],
      ['made-by-hand', 0o755],
    ] as const) {
      const path = join(root, name)
      await mkdir(path)
      await chmod(path, mode)
      const dir = await openDataDir(path, { onWarning: () => undefined })
      opened.push(dir)
      expect((await stat(path)).mode & 0o777).toBe(mode)
    }
    // A sticky, world-writable parent (as /tmp is) is fine: others cannot move our directory.
    const sticky = join(root, 'sticky')
    await mkdir(sticky)
    await chmod(sticky, 0o1777)
    opened.push(await openDataDir(join(sticky, 'data'), { onWarning: () => undefined }))
  })
})

describe('files parley writes are never opened through a link', () => {
  it('refuses a journal that is a link, says so, and leaves the target alone', async () => {
    const journal = join(root, 'journal.log')
    await symlink(victim, journal)
    const error = await AppendLog.open(journal).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(LogError)
    expect((error as Error).message).toContain('symbolic link')
    expect(await readFile(victim, 'utf8')).toBe(VICTIM_TEXT)
  })

  it('rewrites a journal through a fresh file even when a link sits at the temporary name', async () => {
    const journal = join(root, 'journal.log')
    const log = await AppendLog.open(journal)
    await log.append([{ n: 1 }])
    await symlink(victim, `${journal}.rewrite`)
    await log.rewrite([{ n: 2 }])
    await log.close()
    expect(await readFile(victim, 'utf8')).toBe(VICTIM_TEXT)
    expect((await lstat(journal)).isSymbolicLink()).toBe(false)
    const again = await AppendLog.open(journal)
    expect(again.records).toEqual([{ n: 2 }])
    await again.close()
  })

  it('takes the lock without writing through a link planted at its draft name', async () => {
    const data = join(root, 'data')
    await mkdir(data, { mode: 0o700 })
    await symlink(victim, join(data, `lock.${process.pid}`))
    opened.push(await openDataDir(data, { onWarning: () => undefined }))
    expect(await readFile(victim, 'utf8')).toBe(VICTIM_TEXT)
    expect(await readFile(join(data, 'lock'), 'utf8')).toBe(`${process.pid}\n`)
  })

  it('appends only to a real file', async () => {
    const file = join(root, 'parley.log')
    const fd = openForAppend(file)
    writeSync(fd, 'one\n')
    closeSync(fd)
    expect(await readFile(file, 'utf8')).toBe('one\n')
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    await rm(file)
    await symlink(victim, file)
    expect(() => openForAppend(file)).toThrow(expect.objectContaining({ code: 'ELOOP' }))
    expect(await readFile(victim, 'utf8')).toBe(VICTIM_TEXT)
  })

  it('replaces a file by renaming a fresh one over it: a link there is replaced, its target untouched', async () => {
    const file = join(root, 'shown')
    await symlink(victim, file)
    await symlink(victim, `${file}.tmp`)
    replaceFile(file, 'abc 1\n')
    expect(await readFile(victim, 'utf8')).toBe(VICTIM_TEXT)
    expect((await lstat(file)).isSymbolicLink()).toBe(false)
    expect(await readFile(file, 'utf8')).toBe('abc 1\n')
  })
})
