/**
 * The DHT's helpers a team runs for itself: `parley bootstrap` (a node of a private DHT) and `parley relay`
 * (a blind relay for NATs that cannot be punched), and `parley room` (a new room code).
 */
import { join } from 'node:path'
import { IdentityError } from '@parley/secure/keys'
import { createRoomCode } from '@parley/transport-dht/addresses'
import { parseAddress as parseTcpAddress } from '@parley/transport-tcp'
import { dhtFatal } from './dht.js'
import { ExitCode, FatalError } from './exit-codes.js'
import type { Flags } from './flags.js'
import { dataDirOf } from './node-setup.js'

/** A new room code: a random secret, shared with whoever should join. */
export function newRoomCode(): string {
  return createRoomCode()
}

/** A bootstrap node or a relay while it runs. */
export interface RunningService {
  /** What others pass to reach it: `HOST:PORT` for `--bootstrap`, the key for `--relay`. */
  readonly address: string
  close(): Promise<void>
}

/**
 * Runs a bootstrap node on `--listen HOST:PORT` (port 0 picks one), joined to the `--bootstrap` nodes
 * given. Its address is where others reach it, so it must be one they can reach.
 */
export async function startBootstrapNode(flags: Flags): Promise<RunningService> {
  if (flags.listen === undefined)
    throw new FatalError(
      ExitCode.USAGE,
      'parley bootstrap needs --listen HOST:PORT, the address other nodes reach it at (see --help)',
    )
  const { host, port } = parseTcpAddress(flags.listen)
  try {
    const { runBootstrapNode } = await import('@parley/transport-dht')
    const node = await runBootstrapNode({ host, port, peers: flags.dht?.bootstrap ?? [] })
    return { address: `${node.address.host}:${node.address.port}`, close: () => node.close() }
  } catch (error) {
    // Its port taken is a listen failure like a chat node's, not a DHT that cannot be joined.
    const cause = error instanceof Error ? (error.cause as NodeJS.ErrnoException | undefined) : undefined
    if (cause?.code === 'EADDRINUSE' || cause?.code === 'EACCES' || cause?.code === 'EADDRNOTAVAIL')
      throw new FatalError(
        ExitCode.LISTEN,
        `cannot run a bootstrap node on ${host}:${port}: ${cause.code === 'EADDRINUSE' ? 'its UDP port is in use' : cause.code === 'EACCES' ? 'no permission to use that port' : 'that address is not on this machine'}; choose another with --listen HOST:PORT`,
        { cause: error },
      )
    throw dhtFatal(error)
  }
}

/**
 * Runs a blind relay on the DHT the flags name. Its key is kept in DATA_DIR/relay, so that it stays the
 * same across restarts and is not the chat identity of a node on the same data dir.
 */
export async function startRelay(
  flags: Flags,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningService> {
  const { loadOrCreateIdentity } = await import('@parley/secure')
  const keyPair = await loadOrCreateIdentity(join(dataDirOf(flags, env), 'relay')).catch((error: unknown) => {
    throw error instanceof IdentityError
      ? new FatalError(ExitCode.TRUST, error.message, { cause: error })
      : error
  })
  const host = flags.listen === undefined ? undefined : parseTcpAddress(flags.listen)
  try {
    const { runRelay } = await import('@parley/transport-dht')
    const relay = await runRelay({
      keyPair,
      ...(flags.dht?.bootstrap ? { bootstrap: flags.dht.bootstrap } : {}),
      ...(host ? { host: host.host, port: host.port } : {}),
      env,
    })
    return { address: relay.publicKey, close: () => relay.close() }
  } catch (error) {
    throw dhtFatal(error)
  }
}
