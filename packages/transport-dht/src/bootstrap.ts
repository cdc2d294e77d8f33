import { DhtError } from './errors.js'

export interface BootstrapNode {
  host: string
  port: number
}

/** Set to `1` by the test setup and CI: the transport then never falls back to the public bootstrap nodes. */
export const PRIVATE_ONLY_ENV = 'PARLEY_DHT_PRIVATE_ONLY'

/**
 * Parses `--bootstrap HOST:PORT[,HOST:PORT…]`. Hosts are IPv4 addresses or names; the port is required.
 * @example parseBootstrap('198.51.100.10:49737,dht.example.org:49737')
 */
export function parseBootstrap(text: string): BootstrapNode[] {
  const parts = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
  if (parts.length === 0)
    throw new DhtError(
      'BAD_BOOTSTRAP',
      '--bootstrap needs at least one HOST:PORT, such as 198.51.100.10:49737',
    )
  return parts.map(parseNode)
}

function parseNode(part: string): BootstrapNode {
  // HyperDHT speaks UDP over IPv4 only: an IPv6 node could never be reached.
  if (part.startsWith('[') || part.split(':').length > 2) {
    const port = /\]:(\d{1,5})$/.exec(part)?.[1] ?? '49737'
    const here = /^\[(0{0,4}:){2,7}0{0,3}1\]/.test(part) ? `127.0.0.1:${port}` : `198.51.100.10:${port}`
    throw new DhtError(
      'BAD_BOOTSTRAP',
      `"${part}" is an IPv6 address, and the DHT runs over IPv4 only: give the bootstrap node's IPv4 address or a name that has one, such as ${here}`,
    )
  }
  const match = /^([^:\s]+):(\d{1,5})$/.exec(part)
  const port = Number(match?.[2])
  if (!match || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new DhtError(
      'BAD_BOOTSTRAP',
      `"${part}" is not a bootstrap node: expected HOST:PORT with a port from 1 to 65535, such as 198.51.100.10:49737`,
    )
  return { host: match[1] as string, port }
}

export function formatBootstrap(nodes: readonly BootstrapNode[]): string {
  return nodes.map((node) => `${node.host}:${node.port}`).join(',')
}

/**
 * HyperDHT's public bootstrap nodes (its `BOOTSTRAP` list: each by address and by name), refused by the
 * guard also when named in `--bootstrap`. A test checks this list against the installed HyperDHT's.
 */
export const PUBLIC_BOOTSTRAP_HOSTS: readonly string[] = [
  '88.99.3.86',
  'node1.hyperdht.org',
  '142.93.90.113',
  'node2.hyperdht.org',
  '138.68.147.8',
  'node3.hyperdht.org',
]

/** True when the guard forbids the public bootstrap nodes. */
export function privateOnly(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  const value = env[PRIVATE_ONLY_ENV]
  return value !== undefined && value !== '' && value !== '0'
}

/**
 * The bootstrap list to hand to HyperDHT: the given nodes, or `undefined` (HyperDHT's public nodes) only when
 * the user gave none AND the guard is off. This is the one place that may choose the public DHT.
 */
export function chooseBootstrap(
  given: readonly BootstrapNode[] | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
): BootstrapNode[] | undefined {
  const guarded = privateOnly(env)
  if (given !== undefined && given.length > 0) {
    const named = guarded ? given.find((node) => isPublicBootstrap(node.host)) : undefined
    if (named !== undefined)
      throw new DhtError(
        'PUBLIC_BOOTSTRAP_REFUSED',
        `${PRIVATE_ONLY_ENV} is set, so the public DHT may not be used, and ${named.host}:${named.port} is one of its bootstrap nodes; pass your own (parley bootstrap --listen HOST:PORT runs one)`,
      )
    return given.map((node) => ({ ...node }))
  }
  if (guarded)
    throw new DhtError(
      'PUBLIC_BOOTSTRAP_REFUSED',
      `${PRIVATE_ONLY_ENV} is set, so the public DHT may not be used; pass bootstrap nodes (--bootstrap HOST:PORT)`,
    )
  return undefined
}

/**
 * The peers a bootstrap node joins (`parley bootstrap --bootstrap …`): none for the first node of a DHT,
 * and never the public DHT's nodes while the guard is on.
 */
export function bootstrapPeers(
  peers: readonly BootstrapNode[] | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
): BootstrapNode[] {
  return peers === undefined || peers.length === 0 ? [] : (chooseBootstrap(peers, env) ?? [])
}

/**
 * Whether `host` names a public bootstrap node: also as HyperDHT writes them itself, `ADDRESS@NAME`, whose
 * either side it dials.
 */
function isPublicBootstrap(host: string): boolean {
  return host
    .split('@')
    .some((side) => PUBLIC_BOOTSTRAP_HOSTS.includes(side.toLowerCase().replace(/\.$/, '')))
}
