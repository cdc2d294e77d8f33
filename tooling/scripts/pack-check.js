#!/usr/bin/env node
// Proves that the published packages work outside the workspace: pack every public package,
// install the tarballs into an empty folder, and run `npx parley --help`, `--version` and `id` there (`id`
// loads the crypto library's native addon, which the bundled binary finds from its own package).
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { builtinModules, createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))
const work = mkdtempSync(join(tmpdir(), 'parley-pack-'))
const tarballs = join(work, 'tarballs')
const app = join(work, 'app')
// No NODE_OPTIONS of the caller's: a V8 flag there would make V8 refuse the code cache checked below. A code
// cache a start leaves for the next (see @parley/launcher's boot.cjs) goes to the work folder, not the home.
const env = { ...process.env, NODE_OPTIONS: '', XDG_CACHE_HOME: join(work, 'xdg-cache') }
const run = (cmd, args, cwd) =>
  execFileSync(cmd, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })

try {
  const publishable = []
  for (const group of ['packages', 'apps']) {
    for (const dir of readdirSync(join(root, group))) {
      const manifest = JSON.parse(readFileSync(join(root, group, dir, 'package.json'), 'utf8'))
      if (!manifest.private) publishable.push({ dir: join(root, group, dir), name: manifest.name })
    }
  }
  for (const pkg of publishable) run('pnpm', ['pack', '--pack-destination', tarballs], pkg.dir)
  const files = readdirSync(tarballs).map((f) => join(tarballs, f))
  console.log(`packed ${files.length} packages: ${readdirSync(tarballs).join(', ')}`)

  run('mkdir', ['-p', app], work)
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'parley-pack-check', private: true }))
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...files], app)

  const help = run('npx', ['--no-install', 'parley', '--help'], app)
  if (!help.includes('--listen HOST:PORT')) throw new Error(`unexpected --help output:\n${help}`)
  const version = run('npx', ['--no-install', 'parley', '--version'], app).trim()
  if (!/^parley \d+\.\d+\.\d+/.test(version)) throw new Error(`unexpected --version output: ${version}`)
  const id = run('npx', ['--no-install', 'parley', 'id', '--data-dir', join(work, 'node')], app).trim()
  if (!/[a-z0-9]{4}-[a-z0-9]{4}/.test(id)) throw new Error(`unexpected parley id output: ${id}`)
  const boot = join(app, 'node_modules', '@parley', 'cli', 'bin', 'boot.cjs')
  // A file, not `node -e`: the code given to -e is among `process.execArgv`, which the cache is made for.
  const check = join(work, 'check.cjs')
  writeFileSync(
    check,
    `process.stdout.write(require(${JSON.stringify(boot)}).load({ localCache: false }).cache)`,
  )
  const cache = run('node', [check], app)
  if (cache !== 'used') throw new Error(`the installed parley did not use its code cache (${cache})`)
  // parley-tui's screen side and its node thread run bundles of their own, with their own caches.
  for (const loader of ['tui-boot.cjs', 'node-host-boot.cjs']) {
    const tuiBoot = join(app, 'node_modules', '@parley', 'blessed-ui', 'bin', loader)
    writeFileSync(
      check,
      `process.stdout.write(require(${JSON.stringify(tuiBoot)}).load({ localCache: false }).cache)`,
    )
    const tuiCache = run('node', [check], app)
    if (tuiCache !== 'used')
      throw new Error(`the installed parley-tui (bin/${loader}) did not use its code cache (${tuiCache})`)
  }
  // What a bundle leaves outside itself (native addons, data files, zod) must resolve from where it is
  // installed: a bundle that cannot find one fails only when it first needs it, maybe on a hostile frame.
  for (const bundle of [
    join('cli', 'dist', 'parley.cjs'),
    join('blessed-ui', 'dist', 'parley-tui.cjs'),
    join('blessed-ui', 'dist', 'node-host.cjs'),
  ]) {
    const path = join(app, 'node_modules', '@parley', bundle)
    // The loader the app's bin/ finds by a relative path (without it, it resolves the package: slower).
    if (!existsSync(join(dirname(path), 'boot-loader.cjs')))
      throw new Error(`${bundle} was installed without the loader beside it (boot-loader.cjs)`)
    const needs = [...readFileSync(path, 'latin1').matchAll(/\brequire\("([^"]+)"\)/g)]
      .map((m) => m[1])
      .filter((id) => !id.startsWith('node:') && !builtinModules.includes(id))
    for (const id of new Set(needs)) {
      try {
        createRequire(path).resolve(id)
      } catch {
        // Libraries blessed requires only in a widget parley-tui never loads (see bundle-bin.js).
        if (!['term.js', 'pty.js'].includes(id))
          throw new Error(`${bundle} requires ${id}, not installed with it`)
      }
    }
  }
  for (const pkg of publishable.filter((p) => p.name !== '@parley/cli')) {
    run('node', ['--input-type=module', '-e', `await import(${JSON.stringify(pkg.name)})`], app)
  }
  console.log(`pack check passed: ${version}; every package imports outside the workspace`)
} catch (error) {
  console.error(`pack check failed: ${error.stderr || error.message}`)
  process.exitCode = 1
} finally {
  rmSync(work, { recursive: true, force: true })
}
