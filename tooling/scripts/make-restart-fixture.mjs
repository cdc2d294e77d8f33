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
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { exitedWith, modesOf, startRelease } from './release-run.mjs'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
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
    startRelease(
      bin,
      ['--listen', '127.0.0.1:0', '--name', name, '--data-dir', dataDir, '--json', ...extra],
      {
        xdg: join(work, 'xdg'),
        running,
      },
    )
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
  await exitedWith(before, [0])
  mkdirSync(dir('alice'), { mode: 0o700 })
  for (const file of ['identity.key', 'identity.pub'])
    cpSync(join(dir('alice-before'), file), join(dir('alice'), file))
  const after = node('alice', dir('alice'), ['--peer', bobAddress])
  await bob.event('connected', () => true, 2)
  after.child.kill('SIGTERM')
  await exitedWith(after, [0])
  for (const proc of [bob, carol]) {
    proc.child.kill('SIGTERM')
    await exitedWith(proc, [0])
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
