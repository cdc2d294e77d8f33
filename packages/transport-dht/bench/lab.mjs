// Time to a first link in the NAT lab (needs root, iproute2, iptables): real node processes behind two
// home NATs, by key, by room code, and through a relay with both NATs randomized.
// Run after `pnpm build`, as root: node bench/lab.mjs [runs]
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { LAB_ADDRESSES as A, buildLab, labUnavailableReason } from '@parley/netlab'
import { createRoomCode } from '../dist/index.js'

const RUNS = Number(process.argv[2] ?? 5)
const BOOTSTRAP = A.bootstrap.map((host) => `${host}:${A.bootstrapPort}`).join(',')
const script = (name) => fileURLToPath(new URL(`../test/agent/${name}`, import.meta.url))

const reason = labUnavailableReason()
if (reason !== undefined) {
  console.log(`lab bench skipped: ${reason}`)
  process.exit(0)
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

/** A process in the lab whose JSON lines can be awaited. */
function start(lab, host, name, args) {
  const spawned = performance.now()
  const child = spawn(
    'ip',
    ['netns', 'exec', lab.namespaces[host], process.execPath, script(name), ...args],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, PARLEY_DHT_PRIVATE_ONLY: '1' },
    },
  )
  const events = []
  const waiters = []
  let buffered = ''
  child.stdout.setEncoding('utf8').on('data', (text) => {
    buffered += text
    const lines = buffered.split('\n')
    buffered = lines.pop()
    for (const line of lines) {
      const event = { ...JSON.parse(line), at: performance.now() - spawned }
      events.push(event)
      for (const waiter of waiters.splice(0)) {
        if (waiter.match(event)) waiter.resolve(event)
        else waiters.push(waiter)
      }
    }
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  return {
    next(match) {
      const seen = events.find(match)
      return seen ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ match, resolve }))
    },
    event(name) {
      return this.next((e) => e.event === name || e.event === 'error').then((e) => {
        if (e.event === 'error') throw new Error(`${name}: ${e.code} ${e.message}`)
        return e
      })
    },
    stop() {
      child.stdin.end()
      return exited
    },
  }
}

async function byKey(lab, extra) {
  const alice = start(lab, 'hostA', 'agent.mjs', ['--bootstrap', BOOTSTRAP, '--listen', ...extra])
  const key = (await alice.event('ready')).key
  await alice.event('listening')
  const bob = start(lab, 'hostB', 'agent.mjs', ['--bootstrap', BOOTSTRAP, '--dial', key, ...extra])
  const link = await bob.event('link')
  await Promise.all([alice.stop(), bob.stop()])
  return { inProcess: link.ms, fromSpawn: link.at, kind: link.path.kind }
}

async function byRoom(lab) {
  const code = createRoomCode()
  const alice = start(lab, 'hostA', 'agent.mjs', ['--bootstrap', BOOTSTRAP, '--room', code])
  await alice.event('listening')
  const bob = start(lab, 'hostB', 'agent.mjs', ['--bootstrap', BOOTSTRAP, '--room', code])
  const link = await bob.event('link')
  await Promise.all([alice.stop(), bob.stop()])
  return { inProcess: link.ms, fromSpawn: link.at, kind: link.path.kind }
}

const lab = await buildLab()
const services = []
try {
  const bootstrap = start(lab, 'inet', 'services.mjs', [
    'bootstrap',
    A.bootstrap.join(','),
    String(A.bootstrapPort),
  ])
  services.push(bootstrap)
  await bootstrap.event('ready')
  const relayService = start(lab, 'public', 'services.mjs', [
    'relay',
    '--bootstrap',
    BOOTSTRAP,
    '--host',
    A.public,
  ])
  services.push(relayService)
  const relayKey = (await relayService.event('ready')).key

  const rows = []
  const measure = async (name, run) => {
    const samples = []
    for (let i = 0; i < RUNS; i++) samples.push(await run())
    const kinds = [...new Set(samples.map((s) => s.kind))].join('/')
    rows.push({
      case: name,
      path: kinds,
      'process start → link, ms (median)': median(samples.map((s) => s.inProcess)),
      'spawn → link, ms (median)': Math.round(median(samples.map((s) => s.fromSpawn))),
    })
  }
  await measure('by key, two NATs', () => byKey(lab, []))
  await measure('by room code, two NATs', () => byRoom(lab))
  await lab.randomize(true)
  await measure('by key, both NATs randomized', () =>
    byKey(lab, ['--relay', relayKey, '--random-punch-ms', '1000']),
  )
  console.log(`NAT lab, ${RUNS} runs each (run ${randomBytes(2).toString('hex')})`)
  console.table(rows)
} finally {
  await Promise.all(services.map((service) => service.stop()))
  await lab.destroy()
}
