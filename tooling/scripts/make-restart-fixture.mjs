#!/usr/bin/env node
/**
 * Makes `apps/cli/test/fixtures/restart-<release>`: bob's data dir as a release before 1c7184e left it
 * after a neighbour restarted without its journal and said nothing yet, so his journal ends on a `peer`
 * record of the new epoch without `after`; and alice's dir as that restart made it (same key, new
 * numbering). `apps/cli/test/upgrade-restart.e2e.test.ts` proves this build still takes her new messages
 * through a relay. A fixture is made once, by the release it stands for; never again with a newer build.
 *
 *   node tooling/scripts/make-restart-fixture.mjs --release-dir DIR [--out DIR]
 *
 * DIR is a checkout of the release, built (`pnpm install && pnpm build`). On loopback with port 0:
 *   - bob and carol listen; alice dials both and says one line, which both show; alice exits;
 *   - alice starts again with her key in a new data dir (a new numbering), links to bob, says nothing,
 *     and is stopped; then bob and carol are stopped.
 */
import { execFileSync, spawn } from 'node:child_process'
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const WAIT_MS = 30_000
const args = process.argv.slice(2)
const option = (name) => {
  const at = args.indexOf(name)
  return at === -1 ? undefined : args[at + 1]
}
const releaseDir = resolve(option('--release-dir') ?? '')
const release = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
  cwd: releaseDir,
  encoding: 'utf8',
}).trim()
const out = resolve(option('--out') ?? join(ROOT, `apps/cli/test/fixtures/restart-${release}`))
const bin = ['parley.cjs', 'parley.js'].map((name) => join(releaseDir, 'apps/cli/bin', name)).find(existsSync)
if (!bin) throw new Error(`${releaseDir} is not built`)

const work = mkdtempSync(join(tmpdir(), 'parley-fixture-'))
const running = new Set()
try {
  const dir = (name) => join(work, 'dirs', name)
  const node = (name, dataDir, extra = []) =>
    start(['--listen', '127.0.0.1:0', '--name', name, '--data-dir', dataDir, '--json', ...extra])
  const bob = node('bob', dir('bob'))
  const carol = node('carol', dir('carol'))
  const bobAddress = (await bob.event('listening')).address
  const carolAddress = (await carol.event('listening')).address
  const before = node('alice', dir('alice-before'), ['--peer', bobAddress, '--peer', carolAddress])
  await before.event('connected', () => true, 2)
  const body = 'alice, before her restart'
  before.send(body)
  const shown = await bob.event('message', (e) => e.body === body)
  await carol.event('message', (e) => e.body === body)
  before.end()
  await exited(before, [0])
  mkdirSync(dir('alice'), { mode: 0o700 })
  for (const file of ['identity.key', 'identity.pub'])
    cpSync(join(dir('alice-before'), file), join(dir('alice'), file))
  const after = node('alice', dir('alice'), ['--peer', bobAddress])
  await bob.event('connected', () => true, 2)
  after.child.kill('SIGTERM')
  await exited(after, [0])
  for (const proc of [bob, carol]) {
    proc.child.kill('SIGTERM')
    await exited(proc, [0])
  }
  rmSync(out, { recursive: true, force: true })
  mkdirSync(out, { recursive: true })
  for (const name of ['alice', 'bob']) cpSync(dir(name), join(out, name), { recursive: true })
  rmSync(join(out, 'bob', 'lock'), { force: true })
  const manifest = {
    release,
    made: `node tooling/scripts/make-restart-fixture.mjs --release-dir <checkout of ${release}>`,
    alice: { id: shown.fromId, before: { body, seq: shown.seq, ts: shown.ts } },
    modes: modesOf(out),
  }
  writeFileSync(join(out, 'fixture.json'), `${JSON.stringify(manifest, null, 2)}\n`)
  console.log(`fixture written to ${relative(ROOT, out)} from ${release}`)
} finally {
  for (const child of running) child.kill('SIGKILL')
  rmSync(work, { recursive: true, force: true })
}

async function exited(proc, clean) {
  const code = await proc.exited
  if (!clean.includes(code)) throw new Error(`${proc.label} exited with ${code}`)
}

/** Every dir and file under `root` with its permission bits, as the release created them. */
function modesOf(root) {
  const modes = {}
  const walk = (path) => {
    for (const entry of readdirSync(path)) {
      const full = join(path, entry)
      const info = statSync(full)
      modes[relative(root, full)] = (info.mode & 0o777).toString(8).padStart(4, '0')
      if (info.isDirectory()) walk(full)
    }
  }
  walk(root)
  return modes
}

/** The release's parley, with its `--json` events to wait on. */
function start(argv) {
  const child = spawn(process.execPath, [bin, ...argv], {
    env: { ...process.env, PARLEY_DEBUG: '', XDG_DATA_HOME: join(work, 'xdg') },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  running.add(child)
  const lines = []
  const waiters = []
  let partial = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk) => {
    const parts = (partial + chunk).split('\n')
    partial = parts.pop()
    lines.push(...parts)
    for (const wake of [...waiters]) wake()
  })
  child.stderr.resume()
  const exited = new Promise((done) =>
    child.on('exit', (code) => {
      running.delete(child)
      done(code)
    }),
  )
  const parse = (line) => {
    try {
      return JSON.parse(line)
    } catch {
      return undefined
    }
  }
  const label = argv.join(' ')
  /** Resolves with the `count`th `--json` event of this type that `where` accepts. */
  const event = (type, where = () => true, count = 1) =>
    new Promise((done, fail) => {
      const check = () => {
        const found = lines.map(parse).filter((e) => e?.type === type && where(e))
        if (found.length < count) return
        waiters.splice(waiters.indexOf(check), 1)
        clearTimeout(timer)
        done(found[count - 1])
      }
      const timer = setTimeout(
        () => fail(new Error(`${label}: no ${type} event\n${lines.join('\n')}`)),
        WAIT_MS,
      )
      waiters.push(check)
      check()
    })
  return {
    child,
    exited,
    label,
    event,
    send: (line) => child.stdin.write(`${line}\n`),
    end: () => child.stdin.end(),
  }
}
