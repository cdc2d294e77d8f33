// Recovery after a short outage behind a NAT, in the NAT lab (needs root, iproute2, iptables): bob runs
// `parley --dht` behind router B, alice dials him by fingerprint from behind router A; router B's internet
// link goes down for OUTAGE seconds and comes back. Measured: from the link coming back to alice's next
// `connected` to bob, and the same for two members of a room. Real `parley` processes, three bootstrap nodes.
// Run after `pnpm build`, as root: node bench/outage.mjs [outage seconds, default 40] [ceiling seconds, default 360]
// PARLEY_LAB_PREFIX names the lab's namespaces (default plab); they are deleted on every way out.
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { LAB_ADDRESSES as A, buildLab, labUnavailableReason } from '@parley/netlab'
import { createRoomCode } from '../dist/index.js'

const OUTAGE_S = Number(process.argv[2] ?? 40)
const CEILING_S = Number(process.argv[3] ?? 360)
const BOOTSTRAP = A.bootstrap.map((host) => `${host}:${A.bootstrapPort}`).join(',')
const PARLEY = fileURLToPath(new URL('../../../apps/cli/bin/parley.cjs', import.meta.url))
const SERVICES = fileURLToPath(new URL('../test/agent/services.mjs', import.meta.url))

const reason = labUnavailableReason()
if (reason !== undefined) {
  console.log(`outage bench skipped: ${reason}`)
  process.exit(0)
}

const temp = mkdtempSync(join(tmpdir(), 'parley-outage-'))
const children = []

/** A process inside `host`'s namespace whose JSON lines on stdout can be awaited. */
function inside(lab, host, argv, label) {
  const child = spawn('ip', ['netns', 'exec', lab.namespaces[host], ...argv], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, PARLEY_DHT_PRIVATE_ONLY: '1' },
  })
  children.push(child)
  child.stdin.on('error', () => undefined)
  const events = []
  const waiters = []
  const feed = (stream, parse) => {
    let buffered = ''
    stream.setEncoding('utf8').on('data', (text) => {
      buffered += text
      const lines = buffered.split('\n')
      buffered = lines.pop()
      for (const line of lines) {
        if (process.env.OUTAGE_VERBOSE) console.log(`  ${label}: ${line}`)
        const event = parse(line)
        if (event === undefined) continue
        event.at = performance.now()
        events.push(event)
        for (const waiter of waiters.splice(0)) {
          if (waiter.match(event)) waiter.resolve(event)
          else waiters.push(waiter)
        }
      }
    })
  }
  feed(child.stdout, (line) => (line.startsWith('{') ? JSON.parse(line) : undefined))
  feed(child.stderr, (line) => ({ type: 'stderr', text: line }))
  return {
    child,
    events,
    next(match, after = 0) {
      const take = (e) => e.at >= after && match(e)
      const seen = events.find(take)
      return seen ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ match: take, resolve }))
    },
  }
}

function identity() {
  const dir = mkdtempSync(join(temp, 'data-'))
  const out = execFileSync(process.execPath, [PARLEY, 'id', '--json', '--data-dir', dir], {
    encoding: 'utf8',
  })
  return { dir, key: JSON.parse(out.trim().split('\n').at(-1)).id }
}

function parley(lab, host, label, args) {
  return inside(lab, host, [process.execPath, PARLEY, '--bootstrap', BOOTSTRAP, '--json', ...args], label)
}

const within = (promise, seconds, what) =>
  Promise.race([
    promise,
    new Promise((_, reject) =>
      setTimeout(() => reject(new Error(`no ${what} within ${seconds} s`)), seconds * 1000),
    ),
  ])

const connectedTo = (proc, key, after) => proc.next((e) => e.type === 'connected' && e.peerId === key, after)

let lab
try {
  lab = await buildLab()
  const services = inside(
    lab,
    'inet',
    [process.execPath, SERVICES, 'bootstrap', A.bootstrap.join(','), String(A.bootstrapPort)],
    'bootstrap',
  )
  await within(
    services.next((e) => e.event === 'ready'),
    30,
    'bootstrap nodes',
  )

  // By key: bob announces, alice dials him by his fingerprint.
  const bob = identity()
  const alice = identity()
  const atBob = parley(lab, 'hostB', 'bob', ['--dht', '--data-dir', bob.dir, '--name', 'bob', '--recv-only'])
  await within(
    atBob.next((e) => e.type === 'listening'),
    30,
    'bob listening',
  )
  const atAlice = parley(lab, 'hostA', 'alice', [
    '--peer',
    bob.key,
    '--data-dir',
    alice.dir,
    '--name',
    'alice',
    '--recv-only',
  ])
  await within(connectedTo(atAlice, bob.key), 60, 'first link by key')

  // A room, on the same two homes.
  const code = createRoomCode()
  const [carol, dave] = [identity(), identity()]
  const atCarol = parley(lab, 'hostA', 'carol', [
    '--room',
    code,
    '--data-dir',
    carol.dir,
    '--name',
    'carol',
    '--recv-only',
  ])
  parley(lab, 'hostB', 'dave', ['--room', code, '--data-dir', dave.dir, '--name', 'dave', '--recv-only'])
  await within(connectedTo(atCarol, dave.key), 60, 'first link in the room')

  console.log(`links up; router B's internet link goes down for ${OUTAGE_S} s`)
  await lab.exec('natB', ['ip', 'link', 'set', 'wan', 'down'])
  const down = performance.now()
  await within(
    atAlice.next((e) => e.type === 'disconnected', down),
    OUTAGE_S + 30,
    'disconnect by key',
  ).catch(() => undefined)
  await new Promise((resolve) =>
    setTimeout(resolve, Math.max(0, OUTAGE_S * 1000 - (performance.now() - down))),
  )
  await lab.exec('natB', ['ip', 'link', 'set', 'wan', 'up'])
  const up = performance.now()
  console.log('router B is back online')

  const seconds = (event) => ((event.at - up) / 1000).toFixed(1)
  const [byKey, inRoom] = await Promise.all([
    within(connectedTo(atAlice, bob.key, down), CEILING_S, 'link by key again').then(
      seconds,
      (e) => `none (${e.message})`,
    ),
    within(connectedTo(atCarol, dave.key, down), CEILING_S, 'link in the room again').then(
      seconds,
      (e) => `none (${e.message})`,
    ),
  ])
  console.log(`after the outage: by key ${byKey} s, in a room ${inRoom} s (from the link coming back)`)
  const said = atAlice.events.filter(
    (e) => e.type === 'stderr' || e.type === 'state' || e.type === 'dial-error',
  )
  for (const e of said.slice(-6)) console.log(`  alice: ${e.text ?? JSON.stringify(e)}`)
} finally {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
  await lab?.destroy()
  rmSync(temp, { recursive: true, force: true })
}
