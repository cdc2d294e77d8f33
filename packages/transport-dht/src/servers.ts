/// <reference path="./types/hyper.d.ts" />
import { createSocket } from 'node:dgram'
import { isIPv4 } from 'node:net'
import type HyperDHT from 'hyperdht'
import { keepAnnounced } from './announcement.js'
import { type BootstrapNode, bootstrapPeers, chooseBootstrap } from './bootstrap.js'
import { BlindRelayServer, DHT } from './commonjs.js'
import { DhtError, describe } from './errors.js'
import { type KeyPair, toDhtKeyPair, toHex } from './keys.js'

export interface BootstrapNodeOptions {
  /** The IPv4 address others reach this node at (it binds there too). */
  host: string
  /** The UDP port (49737 is HyperDHT's usual one). */
  port: number
  /** Other bootstrap nodes of the same DHT, so that the first ones know each other. */
  peers?: readonly BootstrapNode[]
  /** Where the guard looks for PARLEY_DHT_PRIVATE_ONLY. Default: `process.env`. */
  env?: Readonly<Record<string, string | undefined>>
}

export interface RunningBootstrapNode {
  readonly address: BootstrapNode
  close(): Promise<void>
}

/**
 * Runs a bootstrap node of a private DHT on `host:port`, for `parley bootstrap`. Its id comes from its
 * address, so it must be reachable at exactly that address; run three so that NAT typing has samples.
 */
export async function runBootstrapNode(options: BootstrapNodeOptions): Promise<RunningBootstrapNode> {
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535)
    throw new DhtError(
      'BAD_BOOTSTRAP',
      `a bootstrap node needs a port from 0 to 65535 (got ${options.port}): others find it at HOST:PORT, such as ${options.host}:49737`,
    )
  if (!isIPv4(options.host) || options.host === '0.0.0.0')
    throw new DhtError(
      'BAD_BOOTSTRAP',
      `a bootstrap node runs at the one IPv4 address others reach it at, not at ${options.host}: give this machine's address, such as 198.51.100.10:49737 (127.0.0.1:0 for a DHT on this machine only)`,
    )
  let dht: HyperDHT
  const bootstrap = bootstrapPeers(options.peers, options.env)
  try {
    // A bootstrap node's id comes from its address, so its port is fixed before it starts: port 0 (tests, a
    // throwaway DHT) takes a port the OS has just said is free.
    const port = options.port === 0 ? await freeUdpPort(options.host) : options.port
    dht = DHT.bootstrapper(port, options.host, { host: options.host, bootstrap })
    await dht.ready()
  } catch (error) {
    throw new DhtError(
      'BOOTSTRAP_UNREACHABLE',
      `cannot run a bootstrap node on ${options.host}:${options.port}: ${describe(error)}`,
      { cause: error },
    )
  }
  const node = dht
  return {
    address: { host: options.host, port: node.address().port },
    close: () => node.destroy(),
  }
}

/** A UDP port free on `host` right now (bound, read and released). */
function freeUdpPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4')
    socket.once('error', reject)
    socket.bind(0, host, () => {
      const { port } = socket.address()
      socket.close(() => resolve(port))
    })
  })
}

export interface RelayOptions {
  /** The relay's key pair; its public key is what users pass as `--relay`. Default: a new random one. */
  keyPair?: KeyPair
  bootstrap?: readonly BootstrapNode[]
  host?: string
  port?: number
  env?: Readonly<Record<string, string | undefined>>
}

export interface RunningRelay {
  /** The key to hand to `relayThrough` / `--relay` (lowercase hex). */
  readonly publicKey: string
  /** Relay pairings made so far, for status output. */
  pairings(): number
  close(): Promise<void>
}

/**
 * Runs a blind relay for `parley relay`: it pairs two peers that cannot punch through their NATs and
 * forwards their encrypted records, which it cannot read. Run it on a host reachable from everywhere.
 */
export async function runRelay(options: RelayOptions = {}): Promise<RunningRelay> {
  const bootstrap = chooseBootstrap(options.bootstrap, options.env)
  const keyPair = options.keyPair === undefined ? DHT.keyPair() : toDhtKeyPair(options.keyPair)
  const dht = new DHT({
    ...(bootstrap === undefined ? {} : { bootstrap }),
    keyPair,
    // A relay runs on a public host; saying so spares it the firewall probe that can misjudge it at first.
    firewalled: false,
    port: options.port ? options.port : [0, 0],
    ...(options.host === undefined ? {} : { host: options.host }),
  })
  const relay = new BlindRelayServer({
    createStream: (streamOptions) => dht.createRawStream({ ...streamOptions, framed: true }),
  })
  const server = dht.createServer({}, (socket) => {
    socket.on('error', () => {})
    socket.setKeepAlive(5000)
    relay.accept(socket, { id: socket.remotePublicKey }).on('error', () => {})
  })
  try {
    await dht.ready()
    if (dht.nodes.length === 0) throw new Error('no bootstrap node answered')
    await server.listen(keyPair)
  } catch (error) {
    await dht.destroy({ force: true }).catch(() => {})
    throw new DhtError(
      'BOOTSTRAP_UNREACHABLE',
      `cannot start the relay: ${describe(error)}; name reachable bootstrap nodes with --bootstrap HOST:PORT`,
      { cause: error },
    )
  }
  // A relay that is found nowhere is no relay: its key is announced again as soon as an announce reached no
  // DHT node (they stalled, the network was gone), not at HyperDHT's next round minutes later.
  const stopKeepingAnnounced = keepAnnounced(server, dht)
  return {
    publicKey: toHex(keyPair.publicKey),
    pairings: () => relay.stats.pairings.matched,
    close: async () => {
      stopKeepingAnnounced()
      await relay.close()
      await dht.destroy()
    },
  }
}

export interface LocalTestnet {
  /** Pass this as `bootstrap` to every node of the test. */
  readonly bootstrap: BootstrapNode[]
  /** The DHT nodes themselves, the first being the bootstrap node (a test may watch what they are asked). */
  readonly nodes: readonly HyperDHT[]
  destroy(): Promise<void>
}

/**
 * A private DHT of `size` nodes on 127.0.0.1 with ports the OS picks, for tests: nothing leaves loopback.
 * @example const testnet = await createLocalTestnet(); const node = await startDhtTransport({ bootstrap: testnet.bootstrap, … })
 */
export async function createLocalTestnet(size = 3): Promise<LocalTestnet> {
  const nodes: HyperDHT[] = []
  const bootstrap: BootstrapNode[] = []
  const destroy = async () => {
    for (const node of nodes.reverse()) await node.destroy()
  }
  try {
    while (nodes.length < size) {
      const node = new DHT({
        ephemeral: false,
        firewalled: false,
        bootstrap: bootstrap.map((entry) => ({ ...entry })),
        host: '127.0.0.1',
        port: [0, 0],
      })
      nodes.push(node)
      await node.fullyBootstrapped()
      if (bootstrap.length === 0) bootstrap.push({ host: '127.0.0.1', port: node.address().port })
    }
  } catch (error) {
    await destroy()
    throw error
  }
  return { bootstrap, nodes, destroy }
}
