/**
 * The two processes of the idle-link measurement, chosen by argv[2]:
 *   holder   one secure ParleyNode that only listens; it reports its memory when asked.
 *   dialers  many secure ParleyNodes (one key pair each) that dial the holder and then stay idle.
 * Both talk to the bench over the IPC channel and exit when it goes away.
 */
import { type Address, ParleyNode } from '@parley/core'
import { createSecureTransport, generateKeyPair } from '@parley/secure'
import { createTcpTransport, parseAddress } from '@parley/transport-tcp'
import type { ChildReply, ChildRequest } from './idle-protocol.js'

const LOOPBACK = '127.0.0.1'
const role = process.argv[2]

function reply(message: ChildReply): void {
  process.send?.(message)
}

/**
 * The holder takes every link the bench makes: the figure is memory per idle link, and a node's cap on
 * direct neighbours (128 by default) would otherwise stop the count there.
 */
const HOLDER_NEIGHBORS = 1_000_000

function secureNode(name: string, peers: Address[] = [], maxNeighbors?: number): ParleyNode {
  const keyPair = generateKeyPair()
  return new ParleyNode({
    ...(maxNeighbors === undefined ? {} : { maxNeighbors }),
    transport: createSecureTransport(createTcpTransport(), { keyPair }),
    id: Buffer.from(keyPair.publicKey).toString('hex'),
    name,
    listen: `${LOOPBACK}:0`,
    peers,
  })
}

async function holder(): Promise<void> {
  const node = secureNode('holder', [], HOLDER_NEIGHBORS)
  const peers = new Set<string>()
  const waiting: { sessions: number; resolve: () => void }[] = []
  node.on((event) => {
    if (event.type !== 'connected') return
    peers.add(event.peer.id)
    for (const w of waiting.filter((w) => peers.size >= w.sessions)) {
      waiting.splice(waiting.indexOf(w), 1)
      w.resolve()
    }
  })
  const address = await node.start()
  process.on('message', async (request: ChildRequest) => {
    switch (request.type) {
      case 'wait':
        if (peers.size < request.sessions)
          await new Promise<void>((resolve) => waiting.push({ sessions: request.sessions, resolve }))
        reply({ type: 'sessions', sessions: peers.size })
        return
      case 'measure':
        reply({ type: 'memory', sessions: peers.size, ...(await settledMemory()) })
        return
      case 'dial':
        return
      default: {
        const _exhaustive: never = request
        return _exhaustive
      }
    }
  })
  reply({ type: 'ready', port: parseAddress(address).port })
}

/** Memory after garbage collection has had its chance (the bench forks this with --expose-gc). */
async function settledMemory() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.()
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage()
  return { rss, heapUsed, external, arrayBuffers }
}

async function dialers(): Promise<void> {
  const nodes: ParleyNode[] = []
  process.on('message', async (request: ChildRequest) => {
    if (request.type !== 'dial') return
    const target = `${LOOPBACK}:${request.port}`
    for (let done = 0; done < request.count; done += request.batch) {
      const batch = Array.from({ length: Math.min(request.batch, request.count - done) }, (_, i) =>
        secureNode(`idle-${nodes.length + i}`, [target]),
      )
      nodes.push(...batch)
      await Promise.all(batch.map(startAndConnect))
    }
    reply({ type: 'dialed', links: nodes.length })
  })
  reply({ type: 'ready', port: 0 })
}

async function startAndConnect(node: ParleyNode): Promise<void> {
  const connected = new Promise<void>((resolve) => {
    const off = node.on((event) => {
      if (event.type !== 'connected') return
      off()
      resolve()
    })
  })
  await node.start()
  await connected
}

process.on('disconnect', () => process.exit(0))
if (role === 'holder') await holder()
else if (role === 'dialers') await dialers()
else {
  console.error(`idle-child: unknown role ${role}`)
  process.exit(2)
}
