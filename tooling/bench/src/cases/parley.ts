import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Address, type ChatNode, type NodeEvent, ParleyNode, PlainNode } from '@parley/core'
import { DhtNetwork, parseFlags, startNode } from '@parley/launcher'
import { createMessageAuth, createSecureTransport, generateKeyPair } from '@parley/secure'
import { createTcpTransport } from '@parley/transport-tcp'
import {
  type BenchCase,
  IDLE_HANDLERS,
  LOOPBACK,
  type OpenedPair,
  type PairHandlers,
  type SideName,
} from '../pair.js'
import { randomHex } from '../shape.js'

const ANY_PORT: Address = `${LOOPBACK}:0`

/**
 * parley over plain TCP: ParleyNode (hello, schema checks, frames, acks) over createTcpTransport(), no
 * encryption: the runtime's own protocol. `parley --plain` is the line-mode PlainNode, measured apart.
 */
export const plainCase: BenchCase = {
  key: 'plain',
  label: 'parley plain (framed, acked)',
  open: () => openPair(launchParley('plain'), 'both'),
}

/** `parley --plain`: PlainNode, one line per message and no acks (a message counts when it arrives). */
export const plainLinesCase: BenchCase = {
  key: 'plainLines',
  label: 'parley --plain (lines, no acks)',
  // One dial only: plain links carry no identity, so a second link would carry every line twice.
  open: () => openPair(launchPlainLines, 'one', { acks: false }),
}

/**
 * The secure case without the room's signed hash chains (no MessageAuth): what encryption, framing and
 * acks cost alone. Shown to explain the gap to the crypto baseline; parley itself always signs.
 */
export const secureUnsignedCase: BenchCase = {
  key: 'secureUnsigned',
  label: 'parley secure, unsigned (explains)',
  open: () => openPair(launchParley('unsigned'), 'both'),
}

/**
 * ParleyNode over createSecureTransport(createTcpTransport()) with signed hash chains
 * (createMessageAuth), as `parley` runs it, only without a data dir: Noise XX, then secret-stream records.
 */
export const secureCase: BenchCase = {
  key: 'secure',
  label: 'parley secure',
  open: () => openPair(launchParley('secure'), 'both'),
}

/**
 * The secure case with the runtime's durable path on (our messages go out once appended, acks wait for the
 * append) and a journal that stores nothing: each append resolves on the next turn, as a group commit
 * would, without encoding, writing or syncing a byte. Shown to say how much of the secure + durable gap is
 * the store itself.
 */
export const secureNoStoreCase: BenchCase = {
  key: 'secureNoStore',
  label: 'parley secure, journal storing nothing (explains)',
  open: () => openPair(launchParley('noStore'), 'both'),
}

/**
 * What `parley` runs: the launcher's startNode with a fresh data dir, so the identity file, trust store,
 * event log and the durable journal (AppendLog, group commit) are all on, with `--rate 0`.
 */
export const secureDurableCase: BenchCase = {
  key: 'secureDurable',
  label: 'parley secure + durable (launcher)',
  open: () => openPair(launchDurable(['--listen', `${LOOPBACK}:0`]), 'both'),
}

/**
 * The same as `secure`, over a DHT link on a private DHT of three nodes on loopback: HyperDHT's Noise stream
 * over UDX instead of secret-stream over TCP, with the same signed hash chains.
 */
export const dhtCase: BenchCase = {
  key: 'dht',
  label: 'parley secure over the DHT',
  group: 'dht',
  open: async () => {
    const { createLocalTestnet } = await loadDht()
    const testnet = await createLocalTestnet(3)
    const launch: Launch = async (name) => {
      const keyPair = generateKeyPair()
      const dht = await DhtNetwork.start(keyPair, { rooms: [], bootstrap: testnet.bootstrap }, {})
      const id = Buffer.from(keyPair.publicKey).toString('hex')
      const node = new ParleyNode({
        name,
        listen: dht.address,
        rateLimit: false,
        transport: dht,
        id,
        auth: createMessageAuth(keyPair),
      })
      await node.start()
      return { node, cleanup: () => dht.close() }
    }
    const opened = await openPair(launch, 'both')
    return {
      connectMs: opened.connectMs,
      pair: {
        ...opened.pair,
        close: async () => {
          await opened.pair.close()
          await testnet.destroy()
        },
      },
    }
  },
}

/**
 * The same as `secureDurable`, over a DHT link instead of TCP: `parley --dht` on a private DHT of three
 * nodes on loopback. The link is HyperDHT's (UDX, Noise-encrypted), not wrapped a second time; the pair
 * dials each other by key.
 */
export const dhtDurableCase: BenchCase = {
  key: 'dhtDurable',
  label: 'parley + durable over the DHT',
  group: 'dht',
  open: async () => {
    const { createLocalTestnet, formatBootstrap } = await loadDht()
    const testnet = await createLocalTestnet(3)
    const opened = await openPair(
      launchDurable(['--dht', '--bootstrap', formatBootstrap(testnet.bootstrap)]),
      'both',
    )
    return {
      connectMs: opened.connectMs,
      pair: {
        ...opened.pair,
        close: async () => {
          await opened.pair.close()
          await testnet.destroy()
        },
      },
    }
  },
}

/**
 * The DHT stack (HyperDHT, UDX and their native parts) is loaded only by the DHT cases: every case runs in
 * a worker of its own, and a TCP case should not carry, and collect garbage around, code it never runs.
 */
function loadDht(): Promise<typeof import('@parley/transport-dht')> {
  return import('@parley/transport-dht')
}

interface Launched {
  node: ChatNode
  cleanup: () => Promise<void>
}

type Launch = (name: string) => Promise<Launched>

/**
 * The runtime's per-peer rate limit (200 msg/s by default) is policy, not cost: it is off here, as
 * `--rate 0` turns it off, so the figures show what the stack can carry.
 */
function launchParley(flavour: 'plain' | 'unsigned' | 'secure' | 'noStore'): Launch {
  return async (name) => {
    const common = { name, listen: ANY_PORT, rateLimit: false as const }
    let node: ParleyNode
    if (flavour === 'plain') {
      // A 64-hex-digit id, as a secure node's key, so both put the same bytes on the wire.
      node = new ParleyNode({ ...common, transport: createTcpTransport(), id: randomHex(32) })
    } else {
      const keyPair = generateKeyPair()
      const transport = createSecureTransport(createTcpTransport(), { keyPair })
      const id = Buffer.from(keyPair.publicKey).toString('hex')
      const auth = flavour === 'unsigned' ? {} : { auth: createMessageAuth(keyPair) }
      const journal = flavour === 'noStore' ? { journal: { append: nextTurn } } : {}
      node = new ParleyNode({ ...common, transport, id, ...auth, ...journal })
    }
    await node.start()
    return { node, cleanup: async () => {} }
  }
}

/** An append that stores nothing and resolves once pending I/O has run, as the next flush would. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

async function launchPlainLines(name: string): Promise<Launched> {
  const node = new PlainNode({ transport: createTcpTransport(), name, listen: ANY_PORT })
  await node.start()
  return { node, cleanup: async () => {} }
}

function launchDurable(where: readonly string[]): Launch {
  return async (name) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'parley-bench-'))
    const flags = parseFlags([...where, '--name', name, '--data-dir', dataDir, '--rate', '0'])
    const started = await startNode(flags, () => {})
    return {
      node: started.node,
      // The launcher releases the data dir once the node is closed; the directory goes after that.
      cleanup: () => rm(dataDir, { recursive: true, force: true }),
    }
  }
}

/**
 * Launches two nodes (listening), then times from the dials to both ends connected. `both`: each dials the
 * other at once, as two people running `parley --peer` do; `one`: only a dials b.
 */
async function openPair(
  launch: Launch,
  dials: 'both' | 'one',
  options = { acks: true },
): Promise<OpenedPair> {
  const [a, b] = await Promise.all([launch('alice'), launch('bob')])
  const connected = Promise.all([connectedOnce(a.node), connectedOnce(b.node)])
  const start = performance.now()
  a.node.connect(b.node.address)
  if (dials === 'both') b.node.connect(a.node.address)
  await connected
  const connectMs = performance.now() - start
  let handlers: PairHandlers = IDLE_HANDLERS
  const listen = (at: SideName, node: ChatNode) => {
    const other: SideName = at === 'a' ? 'b' : 'a'
    node.on((event) => {
      if (event.type === 'message') {
        handlers.received(at, event.body)
        if (!options.acks) handlers.acknowledged(other, 1)
      } else if (event.type === 'delivered' && options.acks) handlers.acknowledged(at, 1)
    })
  }
  listen('a', a.node)
  listen('b', b.node)
  const nodes = { a: a.node, b: b.node }
  return {
    connectMs,
    pair: {
      send: (from, body) => {
        nodes[from].send(body)
      },
      setHandlers: (next) => {
        handlers = next
      },
      close: async () => {
        await Promise.all([a.node.close('benchmark done'), b.node.close('benchmark done')])
        await Promise.all([a.cleanup(), b.cleanup()])
      },
    },
  }
}

function connectedOnce(node: ChatNode): Promise<void> {
  return new Promise((resolve) => {
    const off = node.on((event: NodeEvent) => {
      if (event.type !== 'connected') return
      off()
      resolve()
    })
  })
}
