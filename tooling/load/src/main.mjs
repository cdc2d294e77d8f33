#!/usr/bin/env node
/**
 * pnpm load [--quick] [options]: one real `parley` node (the target) under hundreds of hostile
 * connections of each kind, while two real peers (alice and bob) dial it and chat with it. Loopback only;
 * every loop is bounded in count and time, and every process is killed at the end.
 *
 * It checks that every chat line arrives exactly once, that silent and slow-drip sockets are closed by
 * the handshake timeout, that the target stays up, and that its peak RSS stays under the bound; and it
 * reports connections handled per second, refusals by reason (from the target's structured log), peak
 * RSS and chat latency under attack. See README.md in this folder for the figures.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { KINDS, wave } from './attackers.mjs'
import { assertBuilt, memoryOf, nextEvent, startParley, stop } from './processes.mjs'
import { countBy, fixed, summary } from './stats.mjs'

const PRESETS = {
  /** For CI: a few seconds, modest numbers. */
  quick: {
    perKind: 100,
    storm: 300,
    handshakeTimeout: 2,
    messages: 60,
    intervalMs: 25,
    rssBoundMb: 160,
    limitS: 90,
  },
  /** The documented run: hundreds of each kind, thousands of storm connections. */
  full: {
    perKind: 500,
    storm: 2000,
    handshakeTimeout: 5,
    messages: 300,
    intervalMs: 20,
    rssBoundMb: 256,
    limitS: 300,
  },
}

/** Silent sockets from one single source, to show what the per-source cap (8) does there. */
const CROWD = 50
const CROWD_SOURCE = 250

const USAGE = `pnpm load [--quick] [--per-kind N] [--storm N] [--handshake-timeout SECS] [--messages N]
          [--rss-bound MB] [--json] [--keep]
  --quick              CI preset: ${JSON.stringify(PRESETS.quick)}
  (default)            full preset: ${JSON.stringify(PRESETS.full)}
  --per-kind N         garbage, oversize, silent and slow-drip connections, each
  --storm N            connect-and-close connections
  --handshake-timeout  the target's --handshake-timeout, in seconds
  --messages N         chat lines each of alice, bob and the target sends (at least; more while under attack)
  --rss-bound MB       fail if the target's peak RSS (VmHWM) exceeds this
  --json               print the figures as one JSON object
  --keep               keep the temp folder (data dirs and the target's log)`

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function options() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      'per-kind': { type: 'string' },
      storm: { type: 'string' },
      'handshake-timeout': { type: 'string' },
      messages: { type: 'string' },
      'rss-bound': { type: 'string' },
      json: { type: 'boolean' },
      keep: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const preset = { ...(values.quick ? PRESETS.quick : PRESETS.full) }
  const number = (flag, fallback, max) => {
    const text = values[flag]
    if (text === undefined) return fallback
    const n = Number(text)
    if (!Number.isFinite(n) || n < 0 || n > max) throw new Error(`--${flag} takes a number from 0 to ${max}`)
    return n
  }
  return {
    preset: values.quick ? 'quick' : 'full',
    perKind: number('per-kind', preset.perKind, 5_000),
    storm: number('storm', preset.storm, 20_000),
    handshakeTimeout: number('handshake-timeout', preset.handshakeTimeout, 60),
    messages: number('messages', preset.messages, 10_000),
    intervalMs: preset.intervalMs,
    rssBoundMb: number('rss-bound', preset.rssBoundMb, 100_000),
    limitS: preset.limitS,
    json: values.json ?? false,
    keep: values.keep ?? false,
  }
}

async function run(opts, dir, procs) {
  const timeoutMs = opts.handshakeTimeout * 1000
  const logFile = join(dir, 'target.log')
  const target = startParley('target', [
    '--listen',
    '127.0.0.1:0',
    '--data-dir',
    join(dir, 'target'),
    '--log-file',
    logFile,
    '--handshake-timeout',
    String(opts.handshakeTimeout),
  ])
  procs.push(target)
  const listening = await nextEvent(target, (e) => e.type === 'listening', 15_000, 'listening')
  const port = Number(/:(\d+)$/.exec(listening.address)[1])
  const peerArgs = (name) => [
    '--listen',
    '127.0.0.1:0',
    '--peer',
    `127.0.0.1:${port}`,
    '--data-dir',
    join(dir, name),
  ]
  const alice = startParley('alice', peerArgs('alice'))
  const bob = startParley('bob', peerArgs('bob'))
  procs.push(alice, bob)
  for (const name of ['alice', 'bob']) {
    await nextEvent(target, (e) => e.type === 'connected' && e.peer === name, 20_000, `${name} connected`)
  }

  // Chat: alice and bob each send to the target, the target sends to both; latencies are measured
  // against the sender's own timestamp (same machine, same clock).
  const sent = { alice: [], bob: [], target: [] }
  const chat = async (phase, count, keepGoing = () => false) => {
    for (let i = 0; (i < count || keepGoing()) && i < count * 20; i++) {
      for (const [name, proc] of [
        ['alice', alice],
        ['bob', bob],
        ['target', target],
      ]) {
        const body = `${name} ${phase} ${i}`
        sent[name].push(body)
        proc.send(body)
      }
      await sleep(opts.intervalMs)
    }
  }
  await chat('calm', 20)
  await sleep(500)
  const idle = memoryOf(target.child.pid)

  let peakRss = idle.rss
  const sampler = setInterval(() => {
    const { rss } = memoryOf(target.child.pid)
    if (rss > peakRss) peakRss = rss
  }, 100)
  const attackStarted = Date.now()
  let attacking = true
  const chatting = chat('attack', opts.messages, () => attacking)
  // The deadlines only catch a target that never closes: how fast it closed is a figure, not a check, and
  // the reasons in its log (below) tell a connection dropped for its bytes from one that was waited out.
  const held = { deadlineMs: timeoutMs + 20_000, dripMs: 250 }
  const prompt = { deadlineMs: 20_000, dripMs: 0 }
  // First the connections the target drops on their first bytes, then the ones it must wait out. Held
  // together, the second kind fills the handshake caps and the first would only meet TOO_MANY.
  // Garbage and oversize stay under the cap of connections in their handshake (64) between them, so
  // each is refused for its bytes however slowly the target reads; the storm comes after them, since
  // its sockets can sit in the target's table until it sees them close, and would push them over.
  const BYTES_CONCURRENCY = 24
  const refusedForBytes = await Promise.all([
    wave('garbage', { port, count: opts.perKind, concurrency: BYTES_CONCURRENCY, ...prompt }),
    wave('oversize', { port, count: opts.perKind, concurrency: BYTES_CONCURRENCY, ...prompt }),
  ])
  const dropped = [
    ...refusedForBytes,
    await wave('storm', { port, count: opts.storm, concurrency: 50, ...prompt }),
  ]
  const droppedMs = Date.now() - attackStarted
  // A newcomer dials in while silent sockets hold the handshake slots: how long until it gets in?
  const newcomer = (async () => {
    await sleep(300)
    const started = Date.now()
    const carol = startParley('carol', peerArgs('carol'))
    procs.push(carol)
    const connected = await nextEvent(
      target,
      (e) => e.type === 'connected' && e.peer === 'carol',
      opts.handshakeTimeout * 1000 * 2 + 20_000,
      'carol connected',
    ).then(
      () => Date.now() - started,
      () => Number.NaN,
    )
    return { carol, connectedAfterMs: connected }
  })()
  const waited = await Promise.all([
    wave('silent', { port, count: opts.perKind, concurrency: opts.perKind, ...held }),
    wave('slowloris', { port, count: opts.perKind, concurrency: opts.perKind, ...held }),
    wave('silent', { port, count: CROWD, concurrency: CROWD, sources: 1, base: CROWD_SOURCE, ...held }),
  ])
  const waves = [...dropped, ...waited]
  const attackMs = Date.now() - attackStarted
  const heldMs = attackMs - droppedMs
  attacking = false
  await chatting
  const { carol, connectedAfterMs: newcomerMs } = await newcomer

  const everything = () =>
    bodies(target, 'alice').length >= sent.alice.length &&
    bodies(target, 'bob').length >= sent.bob.length &&
    bodies(alice, 'target').length >= sent.target.length &&
    bodies(bob, 'target').length >= sent.target.length
  for (let waited = 0; !everything() && waited < 30_000; waited += 100) await sleep(100)
  clearInterval(sampler)
  const end = memoryOf(target.child.pid)
  const targetAlive = target.alive()

  for (const proc of [alice, bob, carol, target]) await stop(proc)
  const log = readLog(logFile)
  return {
    opts,
    port,
    timeoutMs,
    sent,
    alice,
    bob,
    target,
    waves,
    attackMs,
    droppedMs,
    heldMs,
    newcomerMs,
    idle,
    peakRss,
    end,
    targetAlive,
    log,
  }
}

const bodies = (proc, from) =>
  proc.events.filter((e) => e.type === 'message' && e.from === from).map((e) => e.body)

function latencies(proc, from, phase) {
  return proc.events
    .filter((e) => e.type === 'message' && e.from === from && e.body.includes(` ${phase} `))
    .map((e) => e.at - e.ts)
}

function readLog(file) {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line))
  } catch {
    return []
  }
}

/** Figures and the checks that decide the exit code. */
function evaluate(r) {
  const failures = []
  const check = (ok, what) => ok || failures.push(what)

  for (const [from, to] of [
    ['alice', r.target],
    ['bob', r.target],
    ['target', r.alice],
    ['target', r.bob],
  ]) {
    const got = bodies(to, from)
    check(
      JSON.stringify(got) === JSON.stringify(r.sent[from]),
      `${to.name} got ${got.length} of ${r.sent[from].length} lines from ${from} (each exactly once, in order)`,
    )
  }
  check(r.targetAlive, 'the target exited during the run')
  check(Number.isFinite(r.newcomerMs), 'a peer that dialed in during the attack was never let in')
  check(
    r.end.hwm <= r.opts.rssBoundMb,
    `the target's peak RSS ${fixed(r.end.hwm)} MB is over ${r.opts.rssBoundMb} MB`,
  )

  const crowd = r.waves.pop()
  const kinds = {}
  for (const w of r.waves) {
    const closedBy = countBy(w.results, (x) => (x.closedBy === 'error' ? `error ${x.code}` : x.closedBy))
    const closeMs = summary(w.results.filter((x) => x.closedBy === 'node').map((x) => x.ms))
    kinds[w.kind] = {
      count: w.results.length,
      wallMs: w.wallMs,
      perSecond: (w.results.length * 1000) / w.wallMs,
      closedBy,
      closeMs,
    }
  }
  for (const kind of ['silent', 'slowloris']) {
    const k = kinds[kind]
    check(
      k.closedBy.node === k.count,
      `${kind}: only ${k.closedBy.node ?? 0} of ${k.count} were closed by the target`,
    )
  }
  for (const kind of ['garbage', 'oversize']) {
    const k = kinds[kind]
    check(
      k.closedBy.node === k.count,
      `${kind}: only ${k.closedBy.node ?? 0} of ${k.count} were closed by the target`,
    )
  }
  // Dropped for what they sent (NOT_SECURE in the log), not waited out to the handshake timeout.
  const notSecure = r.log.filter((e) => e.event === 'refused' && e.code === 'NOT_SECURE').length
  const sentGarbage = kinds.garbage.count + kinds.oversize.count
  check(
    notSecure >= sentGarbage,
    `garbage and oversize: only ${notSecure} of ${sentGarbage} were refused for their bytes (NOT_SECURE in the log)`,
  )
  check(kinds.storm.closedBy.self === kinds.storm.count, `storm: ${JSON.stringify(kinds.storm.closedBy)}`)

  const hostile = r.waves.reduce((n, w) => n + w.results.length, crowd.results.length)
  const refused = r.log.filter((e) => e.event === 'refused')
  const figures = {
    preset: r.opts.preset,
    handshakeTimeoutMs: r.timeoutMs,
    hostileConnections: hostile,
    attackMs: r.attackMs,
    connectionsPerSecond: (hostile * 1000) / r.attackMs,
    droppedPhase: {
      connections: r.waves
        .filter((w) => ['garbage', 'oversize', 'storm'].includes(w.kind))
        .reduce((n, w) => n + w.results.length, 0),
      ms: r.droppedMs,
    },
    heldPhaseMs: r.heldMs,
    kinds,
    oneSource: {
      silent: CROWD,
      heldUntilTimeout: crowd.results.filter((x) => x.closedBy === 'node' && x.ms >= r.timeoutMs / 2).length,
      closedEarly: crowd.results.filter((x) => x.closedBy === 'node' && x.ms < r.timeoutMs / 2).length,
    },
    newcomerConnectedAfterMs: r.newcomerMs,
    refusedByCode: countBy(refused, (e) => e.code),
    refusedLogged: refused.length,
    targetStderrLines: r.target.stderrLines,
    rssMb: { idle: r.idle.rss, peakSampled: r.peakRss, peakVmHWM: r.end.hwm, bound: r.opts.rssBoundMb },
    chat: {
      sent: { alice: r.sent.alice.length, bob: r.sent.bob.length, target: r.sent.target.length },
      latencyCalmMs: summary([
        ...latencies(r.target, 'alice', 'calm'),
        ...latencies(r.target, 'bob', 'calm'),
        ...latencies(r.alice, 'target', 'calm'),
        ...latencies(r.bob, 'target', 'calm'),
      ]),
      latencyUnderAttackMs: summary([
        ...latencies(r.target, 'alice', 'attack'),
        ...latencies(r.target, 'bob', 'attack'),
        ...latencies(r.alice, 'target', 'attack'),
        ...latencies(r.bob, 'target', 'attack'),
      ]),
    },
    targetAlive: r.targetAlive,
  }
  return { figures, failures }
}

function print(figures, failures) {
  const f = figures
  const lines = [
    `parley load (${f.preset}): ${f.hostileConnections} hostile connections in ${fixed(f.attackMs / 1000, 1)} s ` +
      `(${fixed(f.connectionsPerSecond)}/s), handshake timeout ${f.handshakeTimeoutMs} ms`,
    `  first ${f.droppedPhase.connections} garbage, oversize and storm connections in ${fixed(f.droppedPhase.ms / 1000, 1)} s ` +
      `(${fixed((f.droppedPhase.connections * 1000) / f.droppedPhase.ms)}/s), then silent and slow-drip ones for ${fixed(f.heldPhaseMs / 1000, 1)} s`,
    '',
    'kind        count   wall s   conn/s   closed by                          close ms (median / p95 / max)',
  ]
  for (const kind of KINDS) {
    const k = f.kinds[kind]
    const closedBy = Object.entries(k.closedBy)
      .map(([why, n]) => `${why} ${n}`)
      .join(', ')
    lines.push(
      `${kind.padEnd(10)} ${String(k.count).padStart(6)} ${fixed(k.wallMs / 1000, 1).padStart(8)} ${fixed(k.perSecond).padStart(8)}   ` +
        `${closedBy.padEnd(34)} ${fixed(k.closeMs.median)} / ${fixed(k.closeMs.p95)} / ${fixed(k.closeMs.max)}`,
    )
  }
  lines.push(
    '',
    `one source, ${f.oneSource.silent} silent sockets at once: ${f.oneSource.heldUntilTimeout} held until the handshake timeout, ` +
      `${f.oneSource.closedEarly} refused early (at most 8 per source and 64 in all may be in their handshake)`,
    `a newcomer dialing in 0.3 s after the silent sockets arrived was let in after ${fixed(f.newcomerConnectedAfterMs)} ms`,
    `refusals in the target's log (${f.refusedLogged}): ${Object.entries(f.refusedByCode)
      .map(([code, n]) => `${code} ${n}`)
      .join(', ')}`,
    `target stderr: ${f.targetStderrLines} lines`,
    `target RSS: idle ${fixed(f.rssMb.idle)} MB, peak ${fixed(f.rssMb.peakVmHWM)} MB (VmHWM; bound ${f.rssMb.bound} MB)`,
    `chat: alice ${f.chat.sent.alice}, bob ${f.chat.sent.bob}, target ${f.chat.sent.target} lines sent; every one delivered: ${failures.some((x) => x.includes('lines from')) ? 'NO' : 'yes'}`,
    `chat latency ms (median / p95 / max): calm ${fixed(f.chat.latencyCalmMs.median)} / ${fixed(f.chat.latencyCalmMs.p95)} / ${fixed(f.chat.latencyCalmMs.max)}, ` +
      `under attack ${fixed(f.chat.latencyUnderAttackMs.median)} / ${fixed(f.chat.latencyUnderAttackMs.p95)} / ${fixed(f.chat.latencyUnderAttackMs.max)}`,
    '',
    failures.length === 0 ? 'PASS' : `FAIL\n${failures.map((x) => `  - ${x}`).join('\n')}`,
  )
  console.log(lines.join('\n'))
}

async function main() {
  let opts
  try {
    opts = options()
    assertBuilt()
  } catch (error) {
    console.error(`load: ${error.message}\n\n${USAGE}`)
    process.exit(2)
  }
  const dir = mkdtempSync(join(tmpdir(), 'parley-load-'))
  const procs = []
  const killAll = () => {
    for (const proc of procs) if (proc.alive()) proc.child.kill('SIGKILL')
  }
  process.on('exit', killAll)
  const limit = setTimeout(() => {
    console.error(`load: gave up after ${opts.limitS} s; killing every process`)
    killAll()
    process.exit(1)
  }, opts.limitS * 1000)
  let code = 1
  try {
    const result = await run(opts, dir, procs)
    const { figures, failures } = evaluate(result)
    if (opts.json) console.log(JSON.stringify({ ...figures, failures }))
    else print(figures, failures)
    code = failures.length === 0 ? 0 : 1
  } catch (error) {
    console.error(`load: ${error.message}`)
  } finally {
    clearTimeout(limit)
    killAll()
    if (opts.keep) console.error(`load: kept ${dir}`)
    else rmSync(dir, { recursive: true, force: true })
  }
  process.exit(code)
}

await main()
