/**
 * The `parley` binary runs one bundled file with the V8 code cache the build made for it (bin/boot.cjs).
 * A cache is used only with the build it was made for; when it cannot be used, parley still runs, only
 * slower to start.
 */
import { execFile } from 'node:child_process'
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { assertBuilt, tempDir } from '@parley/testkit'
import { beforeAll, describe, expect, it } from 'vitest'

const APP = join(dirname(fileURLToPath(import.meta.url)), '..')

beforeAll(() => assertBuilt())

/** Runs `node [flags]` on a script in `app` (a copy of apps/cli, or itself) that loads the bundle and runs `args`. */
function boot(app: string, args: string[], flags: string[] = []): Promise<{ code: number; out: string }> {
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
    const env = { ...process.env, NODE_OPTIONS: '' }
    execFile(process.execPath, [...flags, runner, ...args], { env }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code) : 0, out: `${stdout}${stderr}` })
    })
  })
}

/** A copy of the built app whose cache names another build; its libraries are the real ones. */
function copyWithForeignCache(): string {
  const copy = tempDir()
  mkdirSync(join(copy, 'bin'))
  mkdirSync(join(copy, 'dist'))
  copyFileSync(join(APP, 'bin', 'boot.cjs'), join(copy, 'bin', 'boot.cjs'))
  copyFileSync(join(APP, 'package.json'), join(copy, 'package.json'))
  copyFileSync(join(APP, 'dist', 'parley.cjs'), join(copy, 'dist', 'parley.cjs'))
  const cache = readFileSync(join(APP, 'dist', 'parley.cjs.cache'))
  const data = cache.subarray(cache.indexOf(10) + 1)
  // Same length as a real first line, another build's digest: only the name tells them apart.
  const foreign = `// parley bundle ${'0'.repeat(40)}\n`
  writeFileSync(join(copy, 'dist', 'parley.cjs.cache'), Buffer.concat([Buffer.from(foreign), data]))
  symlinkSync(join(APP, 'node_modules'), join(copy, 'node_modules'))
  return copy
}

describe('the bundled binary and its code cache', () => {
  it('compiles from the cache the build made', async () => {
    const { code, out } = await boot(APP, ['--version'])
    expect(out).toMatch(/^cache: used$/m)
    expect(out).toMatch(/^parley \d+\.\d+\.\d+/m)
    expect(code).toBe(0)
  })

  it('never uses a cache made for another build, and still runs', async () => {
    const copy = copyWithForeignCache()
    const { code, out } = await boot(copy, ['id', '--data-dir', join(tempDir(), 'node')])
    expect(out).toMatch(/^cache: none$/m)
    expect(out).toMatch(/[a-z0-9]{4}-[a-z0-9]{4}/)
    expect(code).toBe(0)
  })

  it('runs when V8 refuses the cache (other flags)', async () => {
    const { code, out } = await boot(
      APP,
      ['id', '--data-dir', join(tempDir(), 'node')],
      ['--stack-size=2000'],
    )
    expect(out).toMatch(/^cache: refused$/m)
    expect(out).toMatch(/[a-z0-9]{4}-[a-z0-9]{4}/)
    expect(code).toBe(0)
  })
})
