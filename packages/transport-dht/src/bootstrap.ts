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
  if (given !== undefined && given.length > 0) return given.map((node) => ({ ...node }))
  if (privateOnly(env))
    throw new DhtError(
      'PUBLIC_BOOTSTRAP_REFUSED',
      `${PRIVATE_ONLY_ENV} is set, so the public DHT may not be used; pass bootstrap nodes (--bootstrap HOST:PORT)`,
    )
  return undefined
}
