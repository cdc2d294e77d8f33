#!/usr/bin/env node
/**
 * Figures for issue 5 ("Nothing lost"), measured with the built `parley` (run `pnpm build` first):
 *   node tooling/bench/faults.mjs [throughput|reconnect|dead-peer ...]
 * - throughput: acknowledged messages per second, sender -> receiver, both persisting to a data dir
 *   (and, for comparison, --plain, which persists nothing); the receiver runs with --rate 0, since
 *   the default rate limit (200/s) would be measured otherwise; median of 3 runs
 * - reconnect: kill -9 the receiver, restart it on the same port and data dir, time from its `listening`
 *   to the sender's next `connected`; median of 7, after a quick restart and after 3 s down
 * - dead-peer: stall a link through a proxy (no FIN) at points spread over one keepalive period,
 *   time to the first `disconnected`; default and --dead-after 2
 * Prints medians (and min/max); no assertions. Everything runs on 127.0.0.1.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer, connect as tcpConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const BIN = fileURLToPath(new URL('../../apps/cli/bin/parley.cjs', import.meta.url))
// What bin/parley.cjs runs: the CLI bundled into one file (see apps/cli/bin/boot.cjs).
const BUILT = fileURLToPath(new URL('../../apps/cli/dist/parley.cjs', import.meta.url))
const dirs = []
const children = new Set()

function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-'))
  dirs.push(dir)
  return dir
}

/** A running parley with its --json events, and a way to wait for the n-th event of a type. */
function parley(args) {
  const child = spawn(process.execPath, [BIN, '--json', ...args], {
    env: { ...process.env, PARLEY_DEBUG: '', XDG_DATA_HOME: tempDir() },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  children.add(child)
  child.stdin.on('error', () => undefined)
  const counts = new Map()
  const waiters = []
  const stderr = []
  let partial = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk) => {
    const now = performance.now()
    partial += chunk
    const lines = partial.split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) {
      let type
      try {
        type = JSON.parse(line).type
      } catch {
        continue
      }
      const n = (counts.get(type) ?? 0) + 1
      counts.set(type, n)
      for (const w of [...waiters]) {
        if (w.type === type && n >= w.n) {
          waiters.splice(waiters.indexOf(w), 1)
          clearTimeout(w.timer)
          w.resolve(now)
        }
      }
    }
  })
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk) => stderr.push(chunk))
  const exited = new Promise((resolve) => child.on('exit', resolve))
  exited.then(() => children.delete(child))
  return {
    child,
    exited,
    count: (type) => counts.get(type) ?? 0,
    /** Resolves with the performance.now() at which the n-th `type` event was read. */
    nth(type, n, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        if ((counts.get(type) ?? 0) >= n) return resolve(performance.now())
        const timer = setTimeout(
          () => reject(new Error(`no ${n}th "${type}" within ${timeoutMs} ms; stderr: ${stderr.join('')}`)),
          timeoutMs,
        )
        waiters.push({ type, n, resolve, timer })
      })
    },
    kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/** A loopback proxy that can stop forwarding without closing anything (a frozen peer, a pulled cable). */
async function stallProxy(targetPort) {
  let stalled = false
  const sockets = new Set()
  const server = createServer((client) => {
    const upstream = tcpConnect(targetPort, '127.0.0.1')
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ]) {
      sockets.add(from)
      from.on('error', () => undefined)
      from.on('data', (chunk) => {
        if (!stalled) to.write(chunk)
      })
      from.on('close', () => to.destroy())
    }
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: server.address().port,
    stall: (on) => {
      stalled = on
    },
    close: () => {
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => server.close(resolve))
    },
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
const summary = (values, unit, digits = 0) =>
  `median ${median(values).toFixed(digits)} ${unit} (min ${Math.min(...values).toFixed(digits)}, max ${Math.max(...values).toFixed(digits)}, n=${values.length})`

async function pair({ plain = false, receiverArgs = [], senderArgs = [], via } = {}) {
  const port = await freePort()
  const store = (name) => (plain ? ['--plain'] : ['--data-dir', join(tempDir(), name)])
  const receiverBase = ['--listen', `127.0.0.1:${port}`, '--name', 'bob', ...store('bob'), ...receiverArgs]
  const receiver = parley(receiverBase)
  await receiver.nth('listening', 1)
  const target = via ? await via(port) : port
  const sender = parley([
    ...['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${target}`, '--name', 'alice', '--wait', '120'],
    ...store('alice'),
    ...senderArgs,
  ])
  await sender.nth('connected', 1)
  return { port, receiver, receiverBase, sender }
}

async function throughput(count = 20_000, runs = 3) {
  const lines = Array.from({ length: count }, (_, i) => `message ${i} ${'x'.repeat(40)}`).join('\n')
  for (const plain of [false, true]) {
    const rates = []
    for (let run = 0; run < runs; run++) {
      // --rate 0: the default per-peer limit (200/s after a burst of 1,000) would be measured instead.
      const { receiver, sender } = await pair({ plain, receiverArgs: ['--rate', '0'] })
      const t0 = performance.now()
      sender.child.stdin.end(`${lines}\n`)
      const t1 = await sender.nth('delivered', count, 120_000)
      rates.push(count / ((t1 - t0) / 1000))
      await Promise.all([sender.kill(), receiver.kill()])
    }
    const label = plain ? '--plain (no journal, no encryption)' : 'secure, journal on both sides'
    console.log(`throughput, ${label}: ${summary(rates, 'acknowledged msg/s')}`)
  }
}

async function reconnect(trials = 7) {
  for (const downMs of [0, 3_000]) {
    const times = []
    const { receiver: first, receiverBase, sender } = await pair()
    let receiver = first
    for (let trial = 0; trial < trials; trial++) {
      const connectedSoFar = sender.count('connected')
      await receiver.kill('SIGKILL')
      await sleep(downMs)
      receiver = parley(receiverBase)
      const listening = await receiver.nth('listening', 1)
      const connected = await sender.nth('connected', connectedSoFar + 1)
      times.push(connected - listening)
      await sleep(200)
    }
    await Promise.all([sender.kill(), receiver.kill()])
    console.log(
      `reconnect after kill -9 and restart of the receiver (down ${downMs ? `${downMs / 1000} s` : 'only while restarting'}), listening -> connected: ${summary(times, 'ms')}`,
    )
  }
}

async function deadPeer() {
  for (const [label, args, trials, keepaliveMs] of [
    ['default (15 s)', [], 4, 5_000],
    ['--dead-after 2', ['--dead-after', '2'], 6, 666],
  ]) {
    const times = []
    for (let trial = 0; trial < trials; trial++) {
      let proxy
      const { receiver, sender } = await pair({
        receiverArgs: args,
        senderArgs: args,
        via: async (port) => {
          proxy = await stallProxy(port)
          return proxy.port
        },
      })
      // Links are pinged (and checked) every dead-after/3: spread the stall over that period.
      await sleep(300 + Math.round((trial / trials) * keepaliveMs))
      const t0 = performance.now()
      proxy.stall(true)
      const t1 = await Promise.race([
        sender.nth('disconnected', 1, 60_000),
        receiver.nth('disconnected', 1, 60_000),
      ])
      times.push(t1 - t0)
      await Promise.all([sender.kill(), receiver.kill()])
      await proxy.close()
    }
    console.log(`silent dead peer detected, ${label}: ${summary(times, 'ms')}`)
  }
}

const tasks = { throughput, reconnect, 'dead-peer': deadPeer }
const chosen = process.argv.slice(2)
for (const name of chosen)
  if (!(name in tasks)) throw new Error(`unknown task ${name}; use ${Object.keys(tasks)}`)
if (!existsSync(BUILT)) {
  console.error('apps/cli is not built: run `pnpm build` first')
  process.exit(1)
}
try {
  console.log(`node ${process.version}, ${process.platform}/${process.arch}`)
  for (const name of chosen.length ? chosen : Object.keys(tasks)) await tasks[name]()
} finally {
  for (const child of children) child.kill('SIGKILL')
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
}
