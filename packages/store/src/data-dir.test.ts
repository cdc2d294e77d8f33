import { spawnSync } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type DataDir, defaultDataDir, LOCK_FILE, openDataDir } from './data-dir.js'
import { DataDirError } from './errors.js'

let root: string
const opened: DataDir[] = []
const warnings: string[] = []
const onWarning = (message: string) => warnings.push(message)

async function open(path: string): Promise<DataDir> {
  const dir = await openDataDir(path, { onWarning })
  opened.push(dir)
  return dir
}

async function refusal(path: string): Promise<DataDirError> {
  const error = await open(path).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(DataDirError)
  expect((error as Error).message).not.toContain('\n')
  return error as DataDirError
}

/** A pid that is certainly not running: a child that has exited. */
function deadPid(): number {
  const { pid } = spawnSync(process.execPath, ['-e', ''])
  return pid as number
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'parley-datadir-'))
  warnings.length = 0
})
afterEach(async () => {
  for (const dir of opened.splice(0)) dir.release()
  await rm(root, { recursive: true, force: true })
})

describe('openDataDir', () => {
  it('creates a missing directory, and its missing parents, readable only by the owner', async () => {
    const path = join(root, 'a', 'b', 'parley')
    const dir = await open(path)
    expect(dir.path).toBe(path)
    expect((await stat(path)).mode & 0o777).toBe(0o700)
    expect(dir.file('journal.log')).toBe(join(path, 'journal.log'))
  })

  it('writes its pid into the lock file and removes it on release', async () => {
    const dir = await open(root)
    expect(await readFile(join(root, LOCK_FILE), 'utf8')).toBe(`${process.pid}\n`)
    dir.release()
    dir.release()
    await expect(stat(join(root, LOCK_FILE))).rejects.toMatchObject({ code: 'ENOENT' })
    const again = await open(root)
    again.release()
  })

  it('refuses a directory another live process has locked, naming its pid', async () => {
    const other = process.ppid
    await writeFile(join(root, LOCK_FILE), `${other}\n`)
    const error = await refusal(root)
    expect(error.code).toBe('LOCKED')
    expect(error.message).toBe(
      `data dir ${root} is in use by another parley (pid ${other}); give each node its own --data-dir` +
        ` (or delete ${join(root, LOCK_FILE)} if pid ${other} is not parley)`,
    )
    expect(await readFile(join(root, LOCK_FILE), 'utf8')).toBe(`${other}\n`)
  })

  it('refuses a second open of the same directory in this process', async () => {
    await open(root)
    const error = await refusal(root)
    expect(error.code).toBe('LOCKED')
    expect(error.message).toContain('already open in this process')
  })

  it('takes over a lock left by a process that is gone, with a warning', async () => {
    const dead = deadPid()
    await writeFile(join(root, LOCK_FILE), `${dead}\n`)
    await open(root)
    expect(await readFile(join(root, LOCK_FILE), 'utf8')).toBe(`${process.pid}\n`)
    expect(warnings).toEqual([
      `data dir ${root}: took over a lock of pid ${dead}, which is not running (a parley that did not exit cleanly)`,
    ])
  })

  it('removes the room probe a process left as it died, and leaves one a running process writes', async () => {
    const dead = `.probe-${deadPid()}`
    const running = `.probe-${process.ppid}`
    await writeFile(join(root, dead), Buffer.alloc(64 * 1024))
    await writeFile(join(root, running), '')
    await open(root)
    expect((await readdir(root)).sort()).toEqual([running, LOCK_FILE].sort())
  })

  it.each([
    ['empty', ''],
    ['garbage', 'not a pid'],
    ['pid 0', '0\n'],
  ])('takes over an unreadable lock (%s), with a warning', async (_, content) => {
    await writeFile(join(root, LOCK_FILE), content)
    await open(root)
    expect(warnings).toEqual([expect.stringContaining('took over an unreadable lock')])
  })

  it('takes over a lock holding its own pid that it does not hold (pid reuse, as pid 1 in a container)', async () => {
    await writeFile(join(root, LOCK_FILE), `${process.pid}\n`)
    await open(root)
    expect(warnings).toHaveLength(1)
  })

  it('leaves a lock that another process took over in place when released', async () => {
    const dir = await open(root)
    await writeFile(join(root, LOCK_FILE), `${process.ppid}\n`)
    dir.release()
    expect(await readFile(join(root, LOCK_FILE), 'utf8')).toBe(`${process.ppid}\n`)
  })

  it('refuses a path whose parent is a file', async () => {
    await writeFile(join(root, 'file'), '')
    const error = await refusal(join(root, 'file', 'parley'))
    expect(error.code).toBe('NOT_A_DIRECTORY')
    expect(error.message).toContain('a parent of it is a file')
  })

  it('refuses a lock that is a directory or a link, dangling or not, in one line that says what to remove', async () => {
    const asDir = join(root, 'a')
    await mkdir(join(asDir, LOCK_FILE), { recursive: true, mode: 0o700 })
    await chmod(asDir, 0o700)
    const dirError = await refusal(asDir)
    expect(dirError.code).toBe('UNWRITABLE')
    expect(dirError.message).toBe(
      `${join(asDir, LOCK_FILE)} is a directory, where parley keeps its lock; move it away`,
    )
    for (const target of ['/nonexistent-parley-target', join(root, 'elsewhere')]) {
      const dir = await mkdtemp(join(root, 'b-'))
      await writeFile(join(root, 'elsewhere'), `${process.pid}\n`)
      await symlink(target, join(dir, LOCK_FILE))
      const linkError = await refusal(dir)
      expect(linkError.code).toBe('UNWRITABLE')
      expect(linkError.message).toContain(`${join(dir, LOCK_FILE)} is a symbolic link`)
      expect(linkError.message).toContain('remove the link')
    }
    expect(await readFile(join(root, 'elsewhere'), 'utf8')).toBe(`${process.pid}\n`)
  })

  it('says a path it cannot hold files in is too long, rather than blame its permissions', async () => {
    const error = await refusal(join(root, 'x'.repeat(300)))
    expect(error.code).toBe('UNWRITABLE')
    expect(error.message).toContain('give a shorter --data-dir')
  })

  it('refuses a path that is a file', async () => {
    await writeFile(join(root, 'file'), '')
    expect((await refusal(join(root, 'file'))).code).toBe('NOT_A_DIRECTORY')
  })

  it('refuses a directory it cannot write to (as root, see the read-only mount in test/data-dir.test.ts)', async (context) => {
    if (process.getuid?.() === 0) context.skip('root writes through file modes')
    const path = join(root, 'readonly')
    await mkdir(path, { mode: 0o500 })
    try {
      const error = await refusal(path)
      expect(error.code).toBe('UNWRITABLE')
      expect(error.message).toContain('(EACCES); fix its permissions or give another --data-dir')
    } finally {
      await chmod(path, 0o700)
    }
  })

  it('refuses to hand out paths outside the directory', async () => {
    const dir = await open(root)
    for (const name of ['../escape', 'a/b', '..', '', '.']) expect(() => dir.file(name)).toThrow(TypeError)
  })
})

describe('defaultDataDir', () => {
  it('uses $XDG_DATA_HOME when it is an absolute path, else ~/.local/share', () => {
    expect(defaultDataDir({ XDG_DATA_HOME: '/xdg' }, '/home/ann')).toBe('/xdg/parley')
    expect(defaultDataDir({}, '/home/ann')).toBe('/home/ann/.local/share/parley')
    expect(defaultDataDir({ XDG_DATA_HOME: 'relative' }, '/home/ann')).toBe('/home/ann/.local/share/parley')
    expect(defaultDataDir({ XDG_DATA_HOME: '' }, '/home/ann')).toBe('/home/ann/.local/share/parley')
  })
})
