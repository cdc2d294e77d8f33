/** Why the DHT transport could not start, dial, listen or join. Each code is stable and documented. */
export const DhtErrorCode = {
  /** The guard is on (tests, CI) and no `bootstrap` was given, so the public DHT would have been used. */
  PUBLIC_BOOTSTRAP_REFUSED: 'PUBLIC_BOOTSTRAP_REFUSED',
  /** None of the bootstrap nodes answered. */
  BOOTSTRAP_UNREACHABLE: 'BOOTSTRAP_UNREACHABLE',
  /** A `--bootstrap` value is not a list of HOST:PORT. */
  BAD_BOOTSTRAP: 'BAD_BOOTSTRAP',
  /** A public key is not 64 hex characters. */
  BAD_KEY: 'BAD_KEY',
  /** A room code has the wrong form or a typo (its checksum does not match). */
  BAD_ROOM_CODE: 'BAD_ROOM_CODE',
  /** No node announces this key on the DHT. */
  PEER_NOT_FOUND: 'PEER_NOT_FOUND',
  /** The peer was found but every way to reach it failed. */
  CONNECTION_FAILED: 'CONNECTION_FAILED',
  /** Both NATs are of a kind that cannot be punched, and no relay was given. */
  HOLEPUNCH_FAILED: 'HOLEPUNCH_FAILED',
  /** The relay could not pair the two peers. */
  RELAY_FAILED: 'RELAY_FAILED',
  /** The remote end did not prove what the link was made for (the room secret, or that it accepts dials). */
  REFUSED: 'REFUSED',
  TIMEOUT: 'TIMEOUT',
  ABORTED: 'ABORTED',
  /** The transport is closed. */
  CLOSED: 'CLOSED',
  /** The link broke after it was established. */
  LINK_LOST: 'LINK_LOST',
} as const
export type DhtErrorCode = (typeof DhtErrorCode)[keyof typeof DhtErrorCode]

export class DhtError extends Error {
  override name = 'DhtError'
  constructor(
    readonly code: DhtErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

const HOLEPUNCH_CODES: ReadonlySet<string> = new Set([
  'HOLEPUNCH_ABORTED',
  'HOLEPUNCH_DOUBLE_RANDOMIZED_NATS',
  'CANNOT_HOLEPUNCH',
  'REMOTE_NOT_HOLEPUNCHABLE',
  'REMOTE_NOT_HOLEPUNCHING',
  'HOLEPUNCH_PROBE_TIMEOUT',
])

/** The `code` HyperDHT puts on its errors (`PEER_NOT_FOUND`), or undefined. */
export function hyperCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** True for the failures after which a relay may still connect the two peers. */
export function isHolepunchFailure(error: unknown): boolean {
  return HOLEPUNCH_CODES.has(hyperCode(error) ?? '')
}

/**
 * Why dialing a key failed, in one sentence a user can act on. It speaks of the key as "it": whoever
 * dialed names it (`cannot reach key [hctq-n5kt]: no node announces it on the DHT; …`), in the form the
 * user knows it by, so the line does not name one key in two forms.
 */
export function dialError(error: unknown, relayed: boolean): DhtError {
  const code = hyperCode(error)
  if (code === 'PEER_NOT_FOUND')
    return new DhtError(
      'PEER_NOT_FOUND',
      'no node announces it on the DHT; is it running with --dht, and on the same --bootstrap?',
      { cause: error },
    )
  if (code === 'RELAY_ABORTED')
    return new DhtError(
      'RELAY_FAILED',
      'the relay could not connect this node to it; check that the relay is running and that both sides use it',
      { cause: error },
    )
  if (isHolepunchFailure(error))
    return relayed
      ? new DhtError('RELAY_FAILED', `not even through the relay (${code})`, {
          cause: error,
        })
      : new DhtError(
          'HOLEPUNCH_FAILED',
          `cannot punch through the NATs between this node and it (${code}); use a relay with --relay KEY`,
          { cause: error },
        )
  const why = code === undefined ? undefined : UNANSWERED.get(code)
  if (why !== undefined)
    return new DhtError('CONNECTION_FAILED', `the node announcing it ${why} (${code})`, { cause: error })
  return new DhtError('CONNECTION_FAILED', describe(error) || 'the connection failed', { cause: error })
}

/**
 * HyperDHT's codes for a key that is announced but whose node did not take the connection, worded as what
 * a user can conclude. An announcement outlives its node by minutes, so a node that quit is the usual cause.
 */
const UNANSWERED: ReadonlyMap<string, string> = new Map([
  [
    'PEER_CONNECTION_FAILED',
    'did not answer: it may have quit a moment ago (its announcement can stay on the DHT for up to 20 minutes) or be offline',
  ],
  ['HANDSHAKE_UNFINISHED', 'stopped answering during the handshake: it may have quit or lost its network'],
  ['REMOTE_ABORTED', 'ended the connection while it was set up'],
  ['SERVER_INCOMPATIBLE', 'runs a DHT version this one cannot talk to; update parley on one side'],
  ['SERVER_ERROR', 'answered with an error; it may be shutting down'],
])

export function shortKey(key: string): string {
  return key.length > 16 ? `${key.slice(0, 8)}…${key.slice(-8)}` : key
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
