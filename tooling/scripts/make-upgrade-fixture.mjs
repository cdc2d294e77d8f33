#!/usr/bin/env node
/**
 * Makes the data dirs of `apps/cli/test/fixtures/datadir-*` with an earlier release of parley, so that
 * the end-to-end tests can prove that the current build opens them with nothing lost
 * (`apps/cli/test/upgrade.e2e.test.ts`).
 *
 *   node tooling/scripts/make-upgrade-fixture.mjs [--release COMMIT] [--release-dir DIR] [--out DIR] [--piped]
 *
 * Without `--release-dir` it checks out the release (`--release`, default 79f2ecc, which made
 * `datadir-0.1`) in a git worktree in the temp dir, installs and builds it, and removes the worktree when
 * done. With one, it uses that checkout's `apps/cli/bin/parley.cjs` (or `parley.js`) as built. A fixture is made once, by the
 * release it stands for; never regenerate an old one with a newer build.
 * The scenario, on loopback with port 0 and each node's own data dir:
 *   - alice listens; bob dials alice; carol dials bob only, so alice and carol reach each other through bob;
 *   - all three chat, one line at a time, each line waited for everywhere before the next;
 *   - bob is stopped and started again with a tiny compaction threshold, so his journal goes through the
 *     release's startup compaction, then carol and bob leave;
 *   - alone, alice sends lines that stay unacknowledged in her outbox, and exits;
 *   - with `--piped` (`datadir-0.3` on), alice runs once more, alone, with three lines piped in text mode,
 *     which releases since 960c2e0 keep as one message of several lines; they wait behind the others.
 * `fixture.json` records what the tests compare against: ids and fingerprints as the release printed them,
 * each dir's history as it was shown, alice's outbox, the addresses the release pinned, and file modes (git
 * keeps none of 0600/0700).
 */
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
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
/** The release the fixture stands for: 79f2ecc, the last landed release before the formats changed. */
const RELEASE = option('--release') ?? '79f2ecc'
const out = resolve(option('--out') ?? join(ROOT, 'apps/cli/test/fixtures/datadir-0.1'))

const work = mkdtempSync(join(tmpdir(), 'parley-fixture-'))
let releaseDir = option('--release-dir')
const ownCheckout = releaseDir === undefined
const running = new Set()
try {
  if (ownCheckout) releaseDir = buildRelease(join(work, `parley-${RELEASE}`))
  // Releases up to 0.1.0 ship bin/parley.js; later ones bin/parley.cjs.
  const bin = ['parley.cjs', 'parley.js']
    .map((name) => join(releaseDir, 'apps/cli/bin', name))
    .find(existsSync)
  if (!existsSync(join(releaseDir, 'apps/cli/dist/index.js'))) throw new Error(`${releaseDir} is not built`)
  const manifest = await makeDirs(bin, join(work, 'dirs'), { piped: args.includes('--piped') })
  rmSync(out, { recursive: true, force: true })
  mkdirSync(out, { recursive: true })
  for (const name of ['alice', 'bob', 'carol']) {
    cpSync(join(work, 'dirs', name), join(out, name), { recursive: true })
  }
  manifest.modes = modesOf(join(work, 'dirs'))
  // One history entry per line keeps the file short and its diffs readable.
  const text = JSON.stringify(manifest, null, 2).replace(
    /\{\n\s+"direction": ("\w+"),\n\s+"from": ("\w+"),\n\s+"body": (".*")\n\s+\}/g,
    '{ "direction": $1, "from": $2, "body": $3 }',
  )
  writeFileSync(join(out, 'fixture.json'), `${text}\n`)
  console.log(`fixture written to ${relative(ROOT, out)} from ${RELEASE}`)
} finally {
  for (const child of running) child.kill('SIGKILL')
  if (ownCheckout && releaseDir) {
    execFileSync('git', ['worktree', 'remove', '--force', releaseDir], { cwd: ROOT, stdio: 'inherit' })
  }
  rmSync(work, { recursive: true, force: true })
}

function buildRelease(dir) {
  execFileSync('git', ['worktree', 'add', '--detach', dir, RELEASE], { cwd: ROOT, stdio: 'inherit' })
  const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1' }
  execFileSync('pnpm', ['install', '--frozen-lockfile'], { cwd: dir, stdio: 'inherit', env })
  execFileSync('pnpm', ['build'], { cwd: dir, stdio: 'inherit', env })
  return dir
}

/** The scenario. Returns what the tests need to know about the dirs it made. */
async function makeDirs(bin, dirs, options = {}) {
  const run = (argv, env = {}) => startRelease(bin, argv, { xdg: join(work, 'xdg'), running, env })
  const dir = (name) => join(dirs, name)
  const ids = {}
  for (const name of ['alice', 'bob', 'carol']) {
    const printed = JSON.parse(
      execFileSync(process.execPath, [bin, 'id', '--json', '--data-dir', dir(name)], { encoding: 'utf8' }),
    )
    ids[name] = { id: printed.id, fingerprint: printed.fingerprint }
  }
  const node = (name, extra = [], env = {}) =>
    run(['--listen', '127.0.0.1:0', '--name', name, '--data-dir', dir(name), '--json', ...extra], env)

  const alice = node('alice', ['--wait', '1'])
  const aliceAddress = (await alice.event('listening')).address
  let bob = node('bob', ['--peer', aliceAddress])
  const bobAddress = (await bob.event('listening')).address
  await alice.event('connected')
  const carol = node('carol', ['--peer', bobAddress])
  await carol.event('connected')

  const nodes = { alice, bob, carol }
  const history = { alice: [], bob: [], carol: [] }
  /** One line from `who`, waited for until every other node showed it. */
  const neighbours = { alice: 1, bob: 2, carol: 1 }
  const say = async (who, body, everyone = Object.keys(nodes)) => {
    nodes[who].send(body)
    const sent = await nodes[who].event('sent', (e) => e.body === body)
    // Every neighbour's ack, one at a time: each is a journal record of its own.
    await nodes[who].event('delivered', (e) => e.id === sent.id, neighbours[who])
    for (const other of everyone) {
      if (other === who) history[other].push({ direction: 'out', from: who, body })
      else {
        await nodes[other].event('message', (e) => e.body === body)
        history[other].push({ direction: 'in', from: who, body })
      }
    }
  }
  await say('alice', 'hi bob, alice here')
  await say('bob', 'hi alice! café at 10 ☕')
  await say('carol', 'carol here, through bob 👋')
  await say('alice', 'welcome carol: 東京 notes are in the doc')
  // Bob's own lines, each acknowledged by both neighbours: the acks are what his compaction drops.
  for (let i = 1; i <= 40; i++) await say('bob', `bob line ${i}`)
  await say('carol', 'carol: bye for now')

  // Bob stops, and starts once alone with a compaction threshold of one byte, so that the release rewrites
  // his journal at startup; then he comes back as before and appends to the compacted journal.
  bob.end()
  await exitedWith(bob, [0], 'bob')
  // A small --window, as a user may run: the release halves a journal only when most records are spare.
  // Releases since 79f2ecc say so as a `--json` event and keep receiving once their input is empty, so the
  // run is also told to stop (SIGTERM, which parley ends on cleanly).
  const compacting = run(
    ['--listen', '127.0.0.1:0', '--name', 'bob', '--data-dir', dir('bob'), '--window', '1', '--json'],
    { PARLEY_COMPACT_BYTES: '1' },
  )
  compacting.end()
  const said = [compacting.line('stderr', /journal compacted: /), compacting.event('journal-compacted')]
  for (const waiting of said) waiting.catch(() => {})
  await Promise.any(said)
  compacting.child.kill('SIGTERM')
  await exitedWith(compacting, [0], 'bob (compacting)')
  bob = node('bob', ['--listen', bobAddress, '--peer', aliceAddress])
  nodes.bob = bob
  await alice.event('connected', (e) => e.peer === 'bob', 2)
  await carol.event('connected', (e) => e.peer === 'bob', 2)
  await say('bob', 'bob is back')

  for (const who of ['carol', 'bob']) {
    nodes[who].end()
    await exitedWith(nodes[who], [0], who)
    delete nodes[who]
  }
  await alice.event('disconnected', (e) => e.peer === 'bob', 2)
  const outbox = ['alice, unacknowledged 1', 'alice, unacknowledged 2: ünïcödé', 'alice, unacknowledged 3']
  for (const body of outbox) {
    alice.send(body)
    await alice.event('sent', (e) => e.body === body)
    history.alice.push({ direction: 'out', from: 'alice', body })
  }
  alice.end()
  await alice.line('stderr', /3 message\(s\) not acknowledged yet are safe in the outbox/)
  // Releases since 79f2ecc exit with QUEUED (7) when lines wait in the outbox, as they do here.
  await exitedWith(alice, [0, 7], 'alice')
  /** The lines each message of the outbox carries, in order. */
  let outboxLines = outbox.map(() => 1)
  if (options.piped) {
    // Alice again, alone, with lines piped in text mode: releases since 960c2e0 send lines read together
    // as one message that carries several (`lines`), kept so in the journal, behind the three waiting.
    const piped = ['alice, piped 1', 'alice, piped 2: ünïcödé', 'alice, piped 3']
    const again = run([
      '--listen',
      '127.0.0.1:0',
      '--name',
      'alice',
      '--data-dir',
      dir('alice'),
      '--wait',
      '1',
    ])
    again.child.stdin.end(`${piped.join('\n')}\n`)
    await again.line('stderr', /6 message\(s\) not acknowledged yet are safe in the outbox/)
    await exitedWith(again, [7], 'alice (piped)')
    for (const body of piped) history.alice.push({ direction: 'out', from: 'alice', body })
    outbox.push(...piped)
    // A small append is stored plain: the journal says that the release sent the three as one message.
    if (!readFileSync(join(dir('alice'), 'journal.log')).includes('"lines":3'))
      throw new Error('--piped: the release kept the piped lines apart (is it older than 960c2e0?)')
    outboxLines = [...outboxLines, piped.length]
  }

  return {
    release: RELEASE,
    made: ['node tooling/scripts/make-upgrade-fixture.mjs', ...args].join(' '),
    addresses: { alice: aliceAddress, bob: bobAddress },
    nodes: Object.fromEntries(
      ['alice', 'bob', 'carol'].map((name) => [name, { ...ids[name], name, history: history[name] }]),
    ),
    outbox: { from: 'alice', to: 'bob', bodies: outbox, lines: outboxLines },
  }
}
