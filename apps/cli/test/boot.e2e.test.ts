/**
 * The `parley` binary runs one bundled file with the V8 code cache the build made for it (bin/boot.cjs).
 * A cache is used only with the build it was made for; when it cannot be used, parley still runs, only
 * slower to start.
 */
import { execFile } from 'node:child_process'
import {
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { assertBuilt, freePort, tempDir } from '@parley/testkit'
import { beforeAll, describe, expect, it } from 'vitest'

const APP = join(dirname(fileURLToPath(import.meta.url)), '..')

beforeAll(() => assertBuilt())

/** Runs `node [flags]` on a script in `app` (a copy of apps/cli, or itself) that loads the bundle and runs `args`. */
function boot(
  app: string,
  args: string[],
  options: { flags?: string[]; input?: string; cacheHome?: string } = {},
): Promise<{ code: number; out: string }> {
  const runner = join(tempDir(), 'boot-runner.cjs')
  writeFileSync(
    runner,
    `const { app, cache } = require(${JSON.stringify(join(app, 'bin', 'boot.cjs'))}).load()
process.stderr.write('cache: ' + cache + '\\n')
app.run(process.argv.slice(2))
`,
  )
  return new Promise((resolve) => {
    // A clean NODE_OPTIONS: a V8 flag there would make V8 refuse every cache.
    const env = { ...process.env, NODE_OPTIONS: '', XDG_CACHE_HOME: options.cacheHome ?? tempDir() }
    const child = execFile(
      process.execPath,
      [...(options.flags ?? []), runner, ...args],
      // A ceiling that only catches a hang; it kills the child, so a failed test leaves no process behind.
      { env, timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number(error.code) : 0, out: `${stdout}${stderr}` })
      },
    )
    child.stdin?.end(options.input ?? '')
  })
}

/**
 * A copy of the built app, its libraries the real ones, its files dated as an install dates them (the
 * same time). `foreignCache`: its cache names another build. `corruptCache`: its cache names this build and
 * runtime, but its data is not V8's. `patch`: the bundle changed after the install,
 * to the same length (as a patch tool or an editor would change it), so it is newer than its cache.
 */
function copyOfApp(options: {
  foreignCache?: boolean
  corruptCache?: boolean
  patch?: [string, string]
}): string {
  const copy = tempDir()
  mkdirSync(join(copy, 'bin'))
  mkdirSync(join(copy, 'dist'))
  copyFileSync(join(APP, 'bin', 'boot.cjs'), join(copy, 'bin', 'boot.cjs'))
  copyFileSync(join(APP, 'package.json'), join(copy, 'package.json'))
  const bundleFile = join(copy, 'dist', 'parley.cjs')
  const cacheFile = join(copy, 'dist', 'parley.cjs.cache')
  const bundle = readFileSync(join(APP, 'dist', 'parley.cjs'), 'latin1')
  writeFileSync(bundleFile, bundle, 'latin1')
  let cache = readFileSync(join(APP, 'dist', 'parley.cjs.cache'))
  if (options.foreignCache) {
    // Same length as a real first line, another build's digest: only the name tells them apart.
    const data = cache.subarray(cache.indexOf(10) + 1)
    cache = Buffer.concat([Buffer.from(`// parley bundle ${'0'.repeat(40)}\n`), data])
  }
  if (options.corruptCache) {
    // Its two lines right (this build, this runtime), its V8 data not: V8 checks the data and refuses it.
    const data = cache.subarray(cache.indexOf(10, cache.indexOf(10) + 1) + 1)
    cache = Buffer.concat([cache.subarray(0, cache.length - data.length), Buffer.alloc(data.length, 0x5a)])
  }
  writeFileSync(cacheFile, cache)
  const installed = new Date('2026-01-01T00:00:00Z')
  utimesSync(bundleFile, installed, installed)
  utimesSync(cacheFile, installed, installed)
  if (options.patch) {
    const [from, to] = options.patch
    expect(to.length).toBe(from.length)
    expect(bundle).toContain(from)
    writeFileSync(bundleFile, bundle.replaceAll(from, to), 'latin1')
  }
  symlinkSync(join(APP, 'node_modules'), join(copy, 'node_modules'))
  return copy
}

describe('the bundled binary and its code cache', () => {
  it('compiles from the cache the build made, and from an installed copy of it', async () => {
    const { code, out } = await boot(APP, ['--version'])
    expect(out).toMatch(/^cache: used$/m)
    expect(out).toMatch(/^parley \d+\.\d+\.\d+/m)
    expect(code).toBe(0)
    const installed = await boot(copyOfApp({}), ['--version'])
    expect(installed.out).toMatch(/^cache: used$/m)
    expect(installed.code).toBe(0)
  })

  it('never uses a cache made for another build, and still runs', async () => {
    const copy = copyOfApp({ foreignCache: true })
    const { code, out } = await boot(copy, ['id', '--data-dir', join(tempDir(), 'node')])
    expect(out).toMatch(/^cache: none$/m)
    expect(out).toMatch(/[a-z0-9]{4}-[a-z0-9]{4}/)
    expect(code).toBe(0)
  })

  it('runs a bundle patched since the build without its cache, so the patch is what runs', async () => {
    // V8 checks only the length of the source: given the cache, it would run the build's code.
    const copy = copyOfApp({ patch: ['listening on ', 'LISTENING ON '] })
    const closed = await freePort()
    const args = ['--peer', `127.0.0.1:${closed}`, '--listen', '127.0.0.1:0', '--wait', '0']
    const { code, out } = await boot(copy, [...args, '--data-dir', join(tempDir(), 'node')], {
      input: 'one line\n',
    })
    expect(out).toMatch(/^cache: none$/m)
    expect(out).toMatch(/^parley: LISTENING ON 127\.0\.0\.1:\d+$/m)
    // Nothing was delivered: the line waits in the outbox (exit 7).
    expect(code).toBe(7)
  })

  it('leaves a cache of its own for the next start when it cannot use the packaged one', async () => {
    const copy = copyOfApp({ foreignCache: true })
    const cacheHome = tempDir()
    const first = await boot(copy, ['--version'], { cacheHome })
    expect(first.out).toMatch(/^cache: none$/m)
    const kept = readdirSync(join(cacheHome, 'parley'))
    expect(kept).toHaveLength(1)
    expect(kept[0]).toMatch(
      new RegExp(`^parley-[0-9a-f]{12}-${process.version}-${process.arch}-[0-9a-f]+\\.cache$`),
    )
    const second = await boot(copy, ['id', '--data-dir', join(tempDir(), 'node')], { cacheHome })
    expect(second.out).toMatch(/^cache: used-local$/m)
    expect(second.code).toBe(0)
  })

  it("keeps one cache per V8 flags, and the newest four at most, another bundle's apart", async () => {
    const cacheHome = tempDir()
    mkdirSync(join(cacheHome, 'parley'))
    const old = new Date('2025-01-01T00:00:00Z')
    for (let i = 0; i < 4; i++) {
      const file = join(cacheHome, 'parley', `parley-000000000000-v0.0.${i}-x64-0.cache`)
      writeFileSync(file, 'an older build\n')
      utimesSync(file, old, old)
    }
    // Another bundle's caches (parley-tui's) are kept apart: they neither count nor go.
    const other = join(cacheHome, 'parley', 'parley-tui-000000000000-v0.0.0-x64-0.cache')
    writeFileSync(other, 'the screen side of parley-tui\n')
    utimesSync(other, old, old)
    const flags = ['--stack-size=2000']
    // The packaged cache was made without the flag: not even tried (V8 would refuse it).
    expect((await boot(APP, ['--version'], { cacheHome, flags })).out).toMatch(/^cache: none$/m)
    expect((await boot(APP, ['--version'], { cacheHome, flags })).out).toMatch(/^cache: used-local$/m)
    // Without the flag, the packaged cache serves, and nothing more is written.
    expect((await boot(APP, ['--version'], { cacheHome })).out).toMatch(/^cache: used$/m)
    const kept = readdirSync(join(cacheHome, 'parley'))
    expect(kept.filter((name) => name.startsWith('parley-tui-'))).toHaveLength(1)
    const ours = kept.filter((name) => !name.startsWith('parley-tui-'))
    expect(ours).toHaveLength(4)
    expect(ours.filter((name) => name.includes(process.version))).toHaveLength(1)
  })

  it('says in one line what to do, and exits 1, when its bundle is missing', async () => {
    // An install without dist/ (a build cut short), running the real executable.
    const copy = tempDir()
    mkdirSync(join(copy, 'bin'))
    for (const file of ['parley.cjs', 'boot.cjs'])
      copyFileSync(join(APP, 'bin', file), join(copy, 'bin', file))
    copyFileSync(join(APP, 'package.json'), join(copy, 'package.json'))
    symlinkSync(join(APP, 'node_modules'), join(copy, 'node_modules'))
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [join(copy, 'bin', 'parley.cjs'), 'id', '--data-dir', join(tempDir(), 'node')],
        { timeout: 60_000 },
        (error, _stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stderr }),
      )
    })
    const bundle = join(copy, 'dist', 'parley.cjs')
    expect(stderr).toBe(
      `parley: internal error: cannot load ${bundle}: ENOENT: no such file or directory, open '${bundle}' (reinstall parley, or run pnpm build in its repository)\n`,
    )
    expect(code).toBe(1)
  })

  it('runs as before when the cache dir cannot be written', async () => {
    const notADir = join(tempDir(), 'file')
    writeFileSync(notADir, '')
    const copy = copyOfApp({ foreignCache: true })
    for (let run = 0; run < 2; run++) {
      const { code, out } = await boot(copy, ['--version'], { cacheHome: notADir })
      expect(out).toMatch(/^cache: none$/m)
      expect(code).toBe(0)
    }
  })

  it('runs when V8 refuses a cache made for its runtime, and leaves a good one for the next start', async () => {
    const copy = copyOfApp({ corruptCache: true })
    const cacheHome = tempDir()
    const first = await boot(copy, ['id', '--data-dir', join(tempDir(), 'node')], { cacheHome })
    expect(first.out).toMatch(/^cache: refused$/m)
    expect(first.out).toMatch(/[a-z0-9]{4}-[a-z0-9]{4}/)
    expect(first.code).toBe(0)
    const second = await boot(copy, ['--version'], { cacheHome })
    expect(second.out).toMatch(/^cache: used-local$/m)
  })
})
