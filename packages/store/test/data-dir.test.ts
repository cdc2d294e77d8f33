import { execFile, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDataDir } from '../src/index.js'
import { compileStore, fixture } from './compiled-store.js'

interface Outcome {
  ok: boolean
  pid?: number
  code?: string
  message?: string
}

let store: Awaited<ReturnType<typeof compileStore>>
let root: string

beforeAll(async () => {
  store = await compileStore()
  root = await mkdtemp(join(tmpdir(), 'parley-datadir-proc-'))
})
afterAll(async () => {
  await store?.remove()
  await rm(root, { recursive: true, force: true })
})

async function openInChild(dir: string, wrapper: string[] = []): Promise<Outcome> {
  const command = [...wrapper, process.execPath, fixture('open-data-dir.mjs'), store.url, dir]
  const { stdout } = await promisify(execFile)(command[0] as string, command.slice(1))
  return JSON.parse(stdout) as Outcome
}

describe('a data dir used by real processes', () => {
  it('is unlocked when its process exits without releasing it', async () => {
    const dir = join(root, 'exits')
    expect(await openInChild(dir)).toMatchObject({ ok: true })
    await expect(stat(join(dir, 'lock'))).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('is refused while another process holds it, and taken over once that process is killed -9', async () => {
    const dir = join(root, 'held')
    const child = spawn(process.execPath, [fixture('open-data-dir.mjs'), store.url, dir, 'hold'])
    try {
      const [line] = await once(createInterface({ input: child.stdout }), 'line')
      expect(JSON.parse(line)).toMatchObject({ ok: true, pid: child.pid })

      const refused = await openDataDir(dir).catch((e: unknown) => e)
      expect(refused).toMatchObject({
        code: 'LOCKED',
        message: expect.stringContaining(`(pid ${child.pid})`),
      })
    } finally {
      child.kill('SIGKILL')
      await new Promise((resolve) => child.once('exit', resolve))
    }
    const warnings: string[] = []
    const taken = await openDataDir(dir, { onWarning: (m) => warnings.push(m) })
    expect(warnings).toEqual([
      expect.stringContaining(`took over a lock of pid ${child.pid}, which is not running`),
    ])
    expect(await readFile(join(dir, 'lock'), 'utf8')).toBe(`${process.pid}\n`)
    taken.release()
  })

  // Root writes through file modes, so a read-only mount is the only honest unwritable directory;
  // unshare -m keeps that mount private to one child process.
  it('is refused on a read-only file system, existing or not', async (context) => {
    const dir = join(root, 'readonly')
    await mkdir(dir)
    const readOnly = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0"'
    const probe = spawnSync('unshare', ['-m', 'sh', '-c', `${readOnly} && touch "$0/x"`, dir], {
      encoding: 'utf8',
    })
    if (probe.error || !/Read-only file system/.test(probe.stderr)) {
      context.skip(
        `cannot make a read-only mount here (unshare -m needs root): ${probe.error?.message ?? probe.stderr}`,
      )
    }
    const inReadOnlyMount = ['unshare', '-m', 'sh', '-c', `${readOnly} && exec "$@"`, dir]

    const existing = await openInChild(dir, inReadOnlyMount)
    expect(existing).toMatchObject({ ok: false, code: 'UNWRITABLE' })
    expect(existing.message).toBe(
      `data dir ${dir} is not writable (EROFS); it is on a read-only file system; give another --data-dir`,
    )
    const missing = await openInChild(join(dir, 'parley'), inReadOnlyMount)
    expect(missing).toMatchObject({ ok: false, code: 'UNWRITABLE' })
    expect(missing.message).toContain(`data dir ${join(dir, 'parley')} cannot be created (EROFS)`)
  })
})
