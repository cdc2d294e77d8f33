// What hostile, authenticated neighbours cost a node, measured on the node's own process: its resident
// set (now and at its peak) and an honest neighbour's latency (send to the node's ack) during each attack.
// Each attacker completes a real secure handshake with a throwaway key, then:
//   acks     acks whose `have` names 256 unknown members each, as fast as the node reads them
//   reorder  10,000-character messages that can never be shown (seq 1 withheld), as fast as it reads them
// Run after `pnpm build`: node tooling/adversary/bench/budgets.mjs [peers=1,100] [rounds=3]
// Bounded: each attacker stops when the node drops it; every round ends once every attacker is dropped.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { hex, member } from './member.mjs'

const PEERS = (process.argv[2] ?? '1,100').split(',').map(Number)
const ROUNDS = Number(process.argv[3] ?? 3)

/** A helper process: each `ask` writes a line to it and resolves with the JSON after the first word of its answer. */
function child(script, ...args) {
  // PARLEY_BENCH_CPU_PROF=DIR writes a CPU profile of each helper process there (where the node's time goes).
  const dir = process.env.PARLEY_BENCH_CPU_PROF
  const flags = dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []
  const proc = spawn(process.execPath, [...flags, fileURLToPath(new URL(script, import.meta.url)), ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const waiting = []
  createInterface({ input: proc.stdout }).on('line', (line) => waiting.shift()?.(line))
  const first = new Promise((resolve) => waiting.push(resolve))
  const ask = (what) =>
    new Promise((resolve) => {
      waiting.push((line) => resolve(JSON.parse(line.slice(line.indexOf(' ') + 1))))
      proc.stdin.write(`${what}\n`)
    })
  children.push(proc)
  return { first, ask, proc }
}

const children = []
process.on('exit', () => {
  for (const proc of children) proc.kill()
})
const victim = child('./victim.mjs')
const address = (await victim.first).split(' ')[1]
const ask = victim.ask

async function ackFlood(peer) {
  while (!peer.isClosed()) {
    const have = {}
    for (let i = 0; i < 256; i++) have[hex(32)] = 1_000_000
    await peer.send({ type: 'ack', upTo: 0, have })
  }
}

async function reorderFlood(peer) {
  const origin = hex(32)
  const body = 'x'.repeat(9_990)
  for (let seq = 2; seq <= 4_096 && !peer.isClosed(); seq++)
    await peer.send({ type: 'msg', id: hex(8), seq, ts: Date.now(), from: origin, body, prev: hex(32) })
  if (!peer.isClosed()) peer.link.destroy()
}

const mib = (bytes) => `${(bytes / 1048576).toFixed(0)} MiB`
const quantile = (xs, q) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
}

const honest = child('./honest.mjs', address)
await honest.first
const before = await ask('rss')
console.log(`victim at rest: rss ${mib(before.rss)}`)
for (const peers of PEERS) {
  for (const attack of ['acks', 'reorder']) {
    for (let r = 0; r < ROUNDS; r++) {
      // Joined 8 at a time, as many as the node lets one host handshake at once; all are linked before any attacks.
      const attackers = []
      while (attackers.length < peers) {
        const batch = Math.min(8, peers - attackers.length)
        attackers.push(
          ...(await Promise.all(Array.from({ length: batch }, () => member(address, 'hostile')))),
        )
      }
      await Promise.all(attackers.map((a) => (attack === 'acks' ? ackFlood(a) : reorderFlood(a))))
      await Promise.all(attackers.map((a) => a.closed))
    }
    const after = await ask('rss')
    console.log(
      `${peers} hostile peer(s), ${attack}, ${ROUNDS} rounds: victim rss ${mib(after.rss)}, peak ${mib(after.peak)}, held now ${after.held} bytes`,
    )
  }
}
const latencies = await honest.ask('stop')
console.log(
  `honest latency during all attacks (send to ack), ${latencies.length} lines: p50 ${quantile(latencies, 0.5).toFixed(1)} ms, p95 ${quantile(latencies, 0.95).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`,
)
console.log(`refusals: ${JSON.stringify(await ask('codes'))}`)
victim.proc.stdin.write('quit\n')
await new Promise((resolve) => victim.proc.once('exit', resolve))
