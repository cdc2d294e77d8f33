#!/usr/bin/env node
/**
 * pnpm load:attacks [--quick] [--json] [--only NAME]: a real `parley` node (the victim, the built CLI with
 * default flags) under each attack of an authenticated stranger, one fresh victim per attack, while an
 * honest member (alice, also the built CLI) sends it a line every 50 ms. Loopback only; every attack is
 * bounded in count and time, and every process is killed at the end. The attackers run in a worker thread,
 * so that making frames as fast as the victim reads them never delays the reading of the victim's output
 * (each honest line's latency is the victim printing it minus alice's timestamp in it).
 *
 * For each attack it reports the victim's memory before and at its peak, what the attack grew the data
 * dir by, the honest lines' latency (p50, p95), how the victim ended the attackers' links, and whether the
 * victim stayed up and got every honest line once. It exits 1 when the victim died, lost or repeated an
 * honest line, or passed a memory bound: for each hostile peer at once (one, or the disk attack's
 * identities), 64 MiB more kept than before, kept being what survives a full collection (heap in use and
 * memory outside the heap, sampled in the victim by retained-hook.mjs); for 100 of them, 512 MiB of RSS in
 * all. RSS is reported beside it: it also counts how far V8 sized its heap up for the attack's garbage.
 * Latency is a figure, not a check: it depends on the machine.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import { Adversary, ForgedOrigin } from '@parley/adversary'
import { assertBuilt, memoryOf, nextEvent, startParley, stop } from './processes.mjs'
import { countBy, fixed, summary } from './stats.mjs'

const MIB = 1024 * 1024
/** Loaded into the victim: what survives a full collection, every half second (see retained-hook.mjs). */
const RETAINED_HOOK = fileURLToPath(new URL('./retained-hook.mjs', import.meta.url))
const ONE_PEER_BOUND_MB = 64
const CROWD_BOUND_MB = 512
const HONEST_INTERVAL_MS = 50

const PRESETS = {
  quick: { seconds: 4, throwaway: 150, reorder: 4_095, crowd: 20, diskIdentities: 4 },
  full: { seconds: 20, throwaway: 1_100, reorder: 4_095, crowd: 100, diskIdentities: 4 },
}

const USAGE = `pnpm load:attacks [--quick] [--json] [--only NAME]
  NAME: ${'ack-flood, throwaway-keys, reorder, disk, crowd'}
  --quick   ${JSON.stringify(PRESETS.quick)}
  (default) ${JSON.stringify(PRESETS.full)}`

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Attackers redial until `until` passes: a stranger that is dropped comes back with a new key. */
async function redialing(port, until, attack) {
  const codes = []
  let links = 0
  while (Date.now() < until) {
    let adversary
    try {
      adversary = await Adversary.dial(`127.0.0.1:${port}`, { name: `x${links}` })
      links++
      await adversary.join()
      await attack(adversary)
      codes.push(codeOf(await endedWithin(adversary, Math.max(0, until - Date.now()))))
    } catch (error) {
      codes.push(error?.code ?? 'DIAL_FAILED')
      await sleep(50)
    } finally {
      adversary?.close()
    }
  }
  return { links, codes }
}

/** How the victim ended a link: the code in its bye, CLOSED without one, OPEN if it had not ended it. */
const codeOf = (closed) =>
  closed === undefined
    ? 'OPEN'
    : closed.bye
      ? (closed.code ?? /\b([A-Z][A-Z_]{3,})\b/.exec(closed.bye)?.[1] ?? 'BYE')
      : 'CLOSED'
const endedWithin = (adversary, ms) => Promise.race([adversary.closed, sleep(ms).then(() => undefined)])

/** Out-of-order messages from a member whose first message never comes, so none can be shown. */
function* outOfOrder(count, body) {
  const origin = new ForgedOrigin('far')
  origin.say('withheld')
  for (let seq = 2; seq <= count + 1; seq++) yield { ...origin.say(`${seq} ${body}`, { unsigned: true }) }
}

/** In-order, signed messages of `body`, until `until` passes. */
function* signedFlood(origin, body, until) {
  for (let i = 0; Date.now() < until; i++) yield { ...origin.say(`${i} ${body}`) }
}

const ATTACKS = {
  /** Finding 1: acks naming 256 unknown members each, as fast as the victim reads them. */
  'ack-flood': async ({ port, until }) =>
    redialing(port, until, async (a) => {
      await a.floodAcks({ origins: 256, frames: 20_000 })
    }),

  /** Finding 2: throwaway keys that each send one line and leave; then a newcomer must still get in. */
  'throwaway-keys': async ({ port, preset }) => {
    const codes = []
    let next = 0
    const one = async () => {
      while (next < preset.throwaway) {
        const i = next++
        try {
          const a = await Adversary.dial(`127.0.0.1:${port}`, { name: `t${i}` })
          await a.join()
          a.say(`throwaway ${i}`)
          await a.drained()
          a.close()
          codes.push('LEFT')
        } catch (error) {
          codes.push(error?.code ?? 'DIAL_FAILED')
        }
      }
    }
    await Promise.all(Array.from({ length: 20 }, one))
    return { links: preset.throwaway, codes, newcomer: true }
  },

  /** Finding 7: 8 links each sending 4,095 out-of-order 10,000-character messages. */
  reorder: async ({ port, preset }) => {
    const body = 'x'.repeat(9_990)
    const results = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const a = await Adversary.dial(`127.0.0.1:${port}`, { name: `r${i}` })
        await a.join()
        await a.flood(outOfOrder(preset.reorder, body))
        const ended = await endedWithin(a, 5_000)
        a.close()
        return codeOf(ended)
      }),
    )
    return { links: 8, codes: results }
  },

  /** Finding 8: identities sending signed 10,000-character messages, redialing when dropped. */
  disk: async ({ port, until, preset }) => {
    const body = 'y'.repeat(9_990)
    const runs = await Promise.all(
      Array.from({ length: preset.diskIdentities }, () => {
        const origin = new ForgedOrigin('filler')
        return redialing(port, until, async (a) => {
          // Each link relays the same origin's chain on from where the last one was cut off.
          await a.flood(signedFlood(origin, body, until))
        })
      }),
    )
    return {
      links: runs.reduce((n, r) => n + r.links, 0),
      codes: runs.flatMap((r) => r.codes),
      // Each identity is one hostile peer at a time (its links come one after another), so each gets the bound.
      grewBound: preset.diskIdentities * ONE_PEER_BOUND_MB,
    }
  },

  /** 100 hostile peers at once, each filling its reorder buffer and naming unknown members in acks. */
  crowd: async ({ port, preset }) => {
    const body = 'z'.repeat(9_990)
    const results = await Promise.all(
      Array.from({ length: preset.crowd }, async (_, i) => {
        try {
          const a = await Adversary.dial(`127.0.0.1:${port}`, { name: `c${i}` })
          await a.join()
          if (i % 2 === 0) await a.flood(outOfOrder(preset.reorder, body))
          else await a.floodAcks({ origins: 256, frames: 2_000 })
          const ended = await endedWithin(a, 5_000)
          a.close()
          return codeOf(ended)
        } catch (error) {
          return error?.code ?? 'DIAL_FAILED'
        }
      }),
    )
    return { links: preset.crowd, codes: results, bound: CROWD_BOUND_MB }
  },
}

/** Runs one attack in a worker thread and resolves with what it reports. */
function inWorker(job) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: job })
    worker.once('message', resolve)
    worker.once('error', reject)
    worker.once(
      'exit',
      (code) => code !== 0 && reject(new Error(`the attack ${job.name} ended with code ${code}`)),
    )
  })
}

/** After throwaway keys filled the member table: a newcomer (a real parley) must still get in and be heard. */
async function newcomerGetsIn(port, dir, victim, codes) {
  const dave = startParley('dave', [
    '--listen',
    '127.0.0.1:0',
    '--peer',
    `127.0.0.1:${port}`,
    '--data-dir',
    join(dir, 'dave'),
  ])
  try {
    await nextEvent(victim, (e) => e.type === 'connected' && e.peer === 'dave', 30_000, 'dave connected')
    dave.send('dave is in')
    await nextEvent(victim, (e) => e.type === 'message' && e.body === 'dave is in', 30_000, "dave's line")
    codes.push('NEWCOMER_IN')
    return true
  } catch {
    codes.push('NEWCOMER_LOCKED_OUT')
    return false
  } finally {
    await stop(dave)
  }
}

function dirBytes(path) {
  let total = 0
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const full = join(path, entry.name)
    if (entry.isDirectory()) total += dirBytes(full)
    else if (entry.isFile()) total += statSync(full).size
  }
  return total
}

async function runAttack(name, preset, base, procs) {
  const dir = mkdtempSync(join(base, `${name}-`))
  const retainedFile = join(dir, 'retained.json')
  const victim = startParley(
    'victim',
    ['--listen', '127.0.0.1:0', '--data-dir', join(dir, 'victim')],
    () => {},
    {
      nodeArgs: ['--expose-gc', '--import', RETAINED_HOOK],
      env: { PARLEY_LOAD_RETAINED_FILE: retainedFile },
    },
  )
  procs.push(victim)
  const listening = await nextEvent(victim, (e) => e.type === 'listening', 15_000, 'listening')
  const port = Number(/:(\d+)$/.exec(listening.address)[1])
  const alice = startParley('alice', [
    '--listen',
    '127.0.0.1:0',
    '--peer',
    `127.0.0.1:${port}`,
    '--data-dir',
    join(dir, 'alice'),
  ])
  procs.push(alice)
  await nextEvent(victim, (e) => e.type === 'connected' && e.peer === 'alice', 20_000, 'alice connected')

  // The honest member talks all along; its lines before the attack are the calm figures.
  const sent = []
  let talking = true
  const talk = (async () => {
    for (let i = 0; talking && i < 20_000; i++) {
      const body = `alice ${i}`
      sent.push(body)
      alice.send(body)
      await sleep(HONEST_INTERVAL_MS)
    }
  })()
  // The first second settles the link; the second is the calm figure.
  await sleep(1_000)
  const calmFrom = sent.length
  await sleep(1_000)
  const calmUntil = sent.length
  const before = memoryOf(victim.child.pid).rss
  const keptBefore = retainedSamples(retainedFile).at(-1).bytes / MIB
  const diskBefore = dirBytes(join(dir, 'victim'))
  let peak = before
  const sampler = setInterval(() => {
    const { rss } = memoryOf(victim.child.pid)
    if (rss > peak) peak = rss
  }, 50)
  const started = Date.now()
  let result
  try {
    result = await inWorker({ name, port, until: started + preset.seconds * 1000, preset })
    if (result.newcomer) result.failed = !(await newcomerGetsIn(port, dir, victim, result.codes))
  } finally {
    clearInterval(sampler)
  }
  const attackMs = Date.now() - started
  const attackUntil = sent.length
  talking = false
  await talk
  const last = sent.at(-1)
  let allArrived = true
  try {
    await nextEvent(
      victim,
      (e) => e.type === 'message' && e.from === 'alice' && e.body === last,
      60_000,
      'the last honest line',
    )
  } catch {
    allArrived = false
  }
  const alive = victim.alive()
  const received = victim.events.filter((e) => e.type === 'message' && e.from === 'alice').map((e) => e.body)
  const once = received.length === new Set(received).size && sent.every((b) => received.includes(b))
  const latency = (from, to) =>
    summary(
      victim.events
        .filter((e) => e.type === 'message' && e.from === 'alice')
        .filter((e) => {
          const n = Number(e.body.split(' ')[1])
          return n >= from && n < to
        })
        .map((e) => e.at - e.ts),
    )
  const diskAfter = dirBytes(join(dir, 'victim'))
  // What the victim kept at most from the attack's start until its last honest line was shown.
  const during = retainedSamples(retainedFile).filter((s) => s.at >= started)
  if (during.length === 0) throw new Error(`no memory samples from the victim during the ${name} attack`)
  const keptPeak = Math.max(...during.map((s) => s.bytes)) / MIB
  await stop(alice)
  await stop(victim)
  const bound = result.bound ?? result.grewBound ?? ONE_PEER_BOUND_MB
  const grewMb = peak - before
  const keptGrewMb = keptPeak - keptBefore
  // A bound for a peer (or a few) is on what the node keeps because of it; the crowd's is on RSS in all.
  const withinBound = result.bound ? peak < bound : keptGrewMb <= bound
  return {
    attack: name,
    seconds: attackMs / 1000,
    links: result.links,
    // What the victim said of the links it ended (its --json `error` events), and what the attackers saw.
    victimRefused: countBy(
      victim.events.filter((e) => e.type === 'error' && e.at >= started),
      (e) => e.code,
    ),
    closedWith: countBy(result.codes, (c) => c),
    rssBeforeMb: before,
    rssPeakMb: peak,
    rssGrewMb: grewMb,
    keptBeforeMb: keptBefore,
    keptPeakMb: keptPeak,
    keptGrewMb,
    memoryBound: result.bound ? `RSS < ${bound} MiB` : `kept +${bound} MiB`,
    withinBound,
    diskGrewMb: (diskAfter - diskBefore) / MIB,
    honestCalmMs: latency(calmFrom, calmUntil),
    honestUnderAttackMs: latency(calmUntil, attackUntil),
    alive,
    everyHonestLineOnce: allArrived && once,
    failed: Boolean(result.failed) || !alive || !allArrived || !once || !withinBound,
  }
}

/** The victim's samples of what survived a full collection; none means the hook did not run: say so. */
function retainedSamples(file) {
  let samples
  try {
    samples = JSON.parse(readFileSync(file, 'utf8'))
  } catch (error) {
    throw new Error(`no memory samples from the victim (${file}): ${error.message}`)
  }
  if (!Array.isArray(samples) || samples.length === 0)
    throw new Error(`no memory samples from the victim (${file})`)
  return samples
}

function print(rows, preset) {
  console.log(`parley load:attacks: one fresh victim (default flags) per attack; ${JSON.stringify(preset)}`)
  console.log(
    'attack           links  RSS before→peak (grew)   kept before→peak (grew)  bound                disk grew  honest p50/p95 calm → attack   the victim refused',
  )
  for (const r of rows) {
    console.log(
      [
        r.attack.padEnd(15),
        String(r.links).padStart(6),
        `  ${fixed(r.rssBeforeMb)}→${fixed(r.rssPeakMb)} MiB (+${fixed(r.rssGrewMb)})`.padEnd(25),
        `${fixed(r.keptBeforeMb)}→${fixed(r.keptPeakMb)} MiB (+${fixed(r.keptGrewMb)})`.padEnd(25),
        `${r.memoryBound} ${r.withinBound ? 'ok' : 'PASSED'}`.padEnd(21),
        `${fixed(r.diskGrewMb, 1)} MiB`.padStart(10),
        `  ${fixed(r.honestCalmMs.median)}/${fixed(r.honestCalmMs.p95)} → ${fixed(r.honestUnderAttackMs.median)}/${fixed(r.honestUnderAttackMs.p95)} ms`.padEnd(
          28,
        ),
        `  ${Object.entries(r.victimRefused)
          .map(([c, n]) => `${c} ${n}`)
          .join(', ')} (attackers saw ${Object.entries(r.closedWith)
          .map(([c, n]) => `${c} ${n}`)
          .join(', ')})`,
        r.alive ? '' : '  VICTIM DIED',
        r.everyHonestLineOnce ? '' : '  HONEST LINES LOST OR REPEATED',
      ].join(''),
    )
  }
}

async function main() {
  let parsed
  try {
    parsed = parseArgs({
      options: {
        quick: { type: 'boolean' },
        json: { type: 'boolean' },
        only: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (error) {
    console.error(`load:attacks: ${error.message}\n${USAGE}`)
    process.exit(2)
  }
  const { values } = parsed
  if (values.help) {
    console.log(USAGE)
    return
  }
  const names = values.only ?? Object.keys(ATTACKS)
  const unknown = names.filter((n) => !(n in ATTACKS))
  if (unknown.length > 0) {
    console.error(`load:attacks: no attack named ${unknown.join(', ')}\n${USAGE}`)
    process.exit(2)
  }
  assertBuilt()
  const preset = values.quick ? PRESETS.quick : PRESETS.full
  const base = mkdtempSync(join(tmpdir(), 'parley-attacks-'))
  const procs = []
  const rows = []
  try {
    for (const name of names) {
      if (!values.json) console.error(`load:attacks: ${name}`)
      rows.push(await runAttack(name, preset, base, procs))
    }
  } finally {
    for (const proc of procs) await stop(proc, 2_000)
    rmSync(base, { recursive: true, force: true })
  }
  if (values.json) console.log(JSON.stringify({ preset, rows }, null, 2))
  else print(rows, preset)
  process.exit(rows.some((r) => r.failed) ? 1 : 0)
}

if (isMainThread) await main()
else parentPort.postMessage(await ATTACKS[workerData.name](workerData))
