// Fan-out latency across a mesh of parley nodes in one process, over real loopback TCP and secure links,
// each node signing with its own identity key: the time from send() on one node to the moment the last
// other node shows the message. Nodes are wired as a random connected graph (a random spanning tree plus
// n/2 extra links), so most members are reached only through relays.
// Run after `pnpm build`: node bench/fanout.mjs [nodes] [messages] [--journal]
//   --journal  every node makes messages durable in an @parley/store journal (fsync) before it shows or
//              acks them, as the CLI does (it relays them at once: the neighbour that sent one keeps it
//              until the ack)
// All nodes share one event loop, so the figure includes every node's work done one after another: a
// real mesh of separate machines does that work in parallel. That is why it also reports the CPU the
// process spent per message (all nodes, acks included): on a busy machine the latency follows the load,
// and the CPU much less.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ParleyNode } from '@parley/core'
import { createMessageAuth, createSecureTransport, generateKeyPair } from '@parley/secure'
import { AppendLog } from '@parley/store'
import { createTcpTransport } from '@parley/transport-tcp'

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'))
const NODES = Number(args[0] ?? 50)
const MESSAGES = Number(args[1] ?? 21)
const JOURNAL = process.argv.includes('--journal')

function seeded(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function randomGraph(n, random) {
  const edges = new Map()
  const add = (a, b) => {
    if (a !== b) edges.set(a < b ? `${a}-${b}` : `${b}-${a}`, [Math.min(a, b), Math.max(a, b)])
  }
  for (let i = 1; i < n; i++) add(i, Math.floor(random() * i))
  for (let k = 0; k < Math.floor(n / 2); k++) add(Math.floor(random() * n), Math.floor(random() * n))
  return [...edges.values()]
}

/** Hops from node 0 to the farthest node: the path a message has to be relayed along. */
function diameterFrom(n, edges, start) {
  const next = Array.from({ length: n }, () => [])
  for (const [a, b] of edges) {
    next[a].push(b)
    next[b].push(a)
  }
  const depth = new Array(n).fill(-1)
  depth[start] = 0
  const queue = [start]
  while (queue.length) {
    const at = queue.shift()
    for (const to of next[at]) {
      if (depth[to] >= 0) continue
      depth[to] = depth[at] + 1
      queue.push(to)
    }
  }
  return Math.max(...depth)
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]

async function main() {
  const random = seeded(42)
  const edges = randomGraph(NODES, random)
  const dir = JOURNAL ? mkdtempSync(join(tmpdir(), 'parley-fanout-')) : undefined
  const nodes = []
  for (let i = 0; i < NODES; i++) {
    const keyPair = generateKeyPair()
    const id = Buffer.from(keyPair.publicKey).toString('hex')
    const log = dir ? await AppendLog.open(join(dir, `n${i}.log`)) : undefined
    const node = new ParleyNode({
      transport: createSecureTransport(createTcpTransport(), { keyPair }),
      auth: createMessageAuth(keyPair),
      id,
      name: `n${i}`,
      listen: '127.0.0.1:0',
      ...(log ? { journal: { append: (records) => log.append(records) } } : {}),
      rateLimit: false,
    })
    const shown = new Map()
    node.on((e) => {
      if (e.type === 'message') shown.set(e.body, performance.now())
    })
    nodes.push({ node, shown, log, address: await node.start() })
  }
  const linkedAt = performance.now()
  for (const [a, b] of edges) nodes[a].node.connect(nodes[b].address)
  const degree = (i) => edges.filter(([a, b]) => a === i || b === i).length
  while (!nodes.every((n, i) => n.node.sessionsSnapshot().filter((s) => s.connected).length >= degree(i))) {
    await new Promise((r) => setTimeout(r, 20))
  }
  const setupMs = performance.now() - linkedAt
  // Each node then learns who is in the room from the others' presence (relayed, paced under what each
  // neighbour takes): measured from a room that knows itself, as a room that has been up a while does.
  const settle = performance.now()
  while (!nodes.every((n) => n.node.members().filter((m) => m.present).length >= NODES - 1)) {
    if (performance.now() - settle > 60_000) break
    await new Promise((r) => setTimeout(r, 50))
  }
  const presenceMs = performance.now() - settle

  const samples = []
  const cpuBefore = process.cpuUsage()
  for (let k = 0; k < MESSAGES; k++) {
    const sender = (k * 7) % NODES
    const body = `fan-out ${k}`
    const t0 = performance.now()
    nodes[sender].node.send(body)
    const others = nodes.filter((_, i) => i !== sender)
    while (!others.every((n) => n.shown.has(body))) await new Promise((r) => setImmediate(r))
    samples.push(Math.max(...others.map((n) => n.shown.get(body))) - t0)
    // Let acks settle so each message starts from a quiet mesh.
    await new Promise((r) => setTimeout(r, 30))
  }
  const cpu = process.cpuUsage(cpuBefore)
  samples.sort((a, b) => a - b)
  const ms = (v) => `${v.toFixed(1)} ms`
  console.log(
    `${NODES} nodes, ${edges.length} links (random connected graph, up to ${diameterFrom(NODES, edges, 0)} hops from node 0), ` +
      `secure links, signed messages${JOURNAL ? ', fsync journal' : ', no journal'}`,
  )
  console.log(`mesh up in ${ms(setupMs)}, every member known present to every node ${ms(presenceMs)} later`)
  console.log(
    `send -> last of ${NODES - 1} nodes shows it, over ${MESSAGES} messages: median ${ms(quantile(samples, 0.5))}, ` +
      `p90 ${ms(quantile(samples, 0.9))}, min ${ms(samples[0])}, max ${ms(samples.at(-1))}`,
  )
  console.log(
    `process CPU per message, all nodes, acks included: ${ms((cpu.user + cpu.system) / 1000 / MESSAGES)}`,
  )
  await Promise.all(nodes.map((n) => n.node.close()))
  await Promise.all(nodes.map((n) => n.log?.close()))
  if (dir) rmSync(dir, { recursive: true, force: true })
}

await main()
