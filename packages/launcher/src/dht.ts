/**
 * The DHT in a node: key-only addresses (a fingerprint, a 64-hex key, `parley://FINGERPRINT`, `dht:KEY`),
 * starting `@parley/transport-dht` with the node's identity, rooms by code, and the `Transport` that core
 * dials and listens through. Its links arrive authenticated, so the secure layer does not wrap them again.
 */
import {
  type Address,
  AddressError,
  type Link,
  type Listener,
  SAME_KEY,
  SAME_KEY_REFUSAL_BACKOFF,
  type Transport,
  TransportError,
} from '@parley/core'
import {
  decodeInvite,
  InviteError,
  isInvite,
  KeyFormatError,
  keyAddress,
  keyOfAddress,
  parseKeyOrFingerprint,
} from '@parley/secure/keys'
import type { DhtLink, DhtTransport, DhtTransportOptions, LinkPath } from '@parley/transport-dht'
import { type BootstrapNode, DhtError, formatBootstrap } from '@parley/transport-dht/addresses'

export type { BootstrapNode }

import { ExitCode, FatalError } from './exit-codes.js'

/** What `--dht`, `--bootstrap`, `--relay` and `--room` asked for. */
export interface DhtFlags {
  /** `--bootstrap`: the private DHT to use; undefined means HyperDHT's public bootstrap nodes. */
  readonly bootstrap?: readonly BootstrapNode[]
  /** `--relay`: a blind relay's key (hex), used when the NATs cannot be punched. */
  readonly relay?: string
  /** `--room`: room codes to join. */
  readonly rooms: readonly string[]
}

/**
 * The bootstrap nodes as `--bootstrap` takes them (`198.51.100.10:49737,dht.example.org:49737`: IPv4 or
 * names only, as the DHT runs over IPv4), for a line that tells a peer to look on the same DHT.
 */
export function bootstrapList(nodes: readonly BootstrapNode[]): string {
  return formatBootstrap(nodes)
}

/** ` --bootstrap LIST` on a private DHT, else nothing: what a peer adds to reach this node there. */
export function bootstrapFlag(nodes: readonly BootstrapNode[] | undefined): string {
  return nodes === undefined || nodes.length === 0 ? '' : ` --bootstrap ${bootstrapList(nodes)}`
}

/** A DHT dial gets at least this long: finding the key and punching through NATs takes seconds at worst. */
const MIN_DIAL_MS = 30_000
/**
 * A key whose dial failed (no node announces it; or it is announced but its node did not answer, refused
 * the connection, or could not be punched through to) is dialed again no sooner than this after the start
 * of that dial, then twice as late after each failed dial in a row, up to LAST_RETRY_MS: core redials
 * every second at most, and over the DHT each dial is a lookup that asks tens of DHT nodes (and a handshake
 * with the node found), for as long as the node runs. A dial that took longer than the wait (a timeout) is
 * followed by the next at once. The row starts over when a link with the key comes up.
 */
const FIRST_RETRY_MS = 1_000
const LAST_RETRY_MS = 8_000
/**
 * A peer linked with in this run whose dials fail now is likely restarting (announced nowhere for a moment,
 * or its old announcement still pointing at the process that quit): for this long after the first failed
 * dial in a row, it is dialed every second, as before, and reconnected as soon.
 */
const RESTART_GRACE_MS = 10_000
/** Links remembered per peer key for their path (the status line); a flood of keys cannot grow it further. */
const MAX_REMEMBERED_LINKS = 1024

/** How a link reaches its peer, for status lines and `--json`. */
export type LinkRoute = { readonly kind: 'tcp' } | LinkPath

/**
 * A key-only address as pasted, without what mail and chat put around it (`<…>`, quotes, a trailing full
 * stop) or inside it (zero-width spaces at a line break), as `--join` reads an invite.
 */
function unwrapped(text: string): string {
  return text
    .replace(/[\u200b-\u200d\u2060\ufeff]/g, '')
    .trim()
    .replace(/^[<("'`[]+/, '')
    .replace(/[>)"'`\].,;]+$/, '')
}

/** Whether `text` is written as a key-only address; it may still be malformed (then `normalize` says how). */
export function isKeyOnlyAddress(text: string): boolean {
  const t = unwrapped(text)
  if (/^dht:/i.test(t) || /^[0-9a-f]{64}$/i.test(t)) return true
  if (isInvite(t)) return !t.slice('parley://'.length).includes(':')
  // A fingerprint in groups of four, split by dashes or spaces (a short one too, so that its error says what
  // is missing), or compact.
  return /^[a-z2-7]{4}(?:(?:-|\s+)[a-z2-7]{4})+$/i.test(t) || /^[a-z2-7]{56}$/i.test(t)
}

/**
 * The one written form of a key-only address: `dht:` and the key in lowercase hex.
 * @throws AddressError for a malformed key, fingerprint or invite
 */
export function normalizeKeyAddress(text: string): Address {
  const t = unwrapped(text)
  try {
    if (isInvite(t)) return decodeInvite(t).address
    if (/^dht:/i.test(t)) {
      const key = keyOfAddress(t)
      if (key === undefined) throw new AddressError(`bad address "${t}": expected dht: and a 64-hex key`)
      return keyAddress(key)
    }
    return keyAddress(parseKeyOrFingerprint(t))
  } catch (error) {
    if (error instanceof KeyFormatError || error instanceof InviteError)
      throw new AddressError(error.message, { cause: error })
    throw error
  }
}

/**
 * The DHT as one transport of the node: dials key-only addresses, hands every link it makes (accepted by
 * key, found in a room) to the node's listener, and remembers how each link reaches its peer.
 */
export class DhtNetwork implements Transport {
  #sink: ((link: Link) => void) | undefined
  readonly #links = new Map<string, DhtLink>()
  readonly #missing = new Set<string>()
  /** Per key whose dials fail: since when, the last wait, and when it may be dialed (looked up) next. */
  readonly #failing = new Map<string, { since: number; waitMs: number; nextAt: number }>()
  /** Per peer key: how many times in a row it turned this node away as a second node with its key. */
  readonly #turnedAway = new Map<string, number>()

  private constructor(private readonly dht: DhtTransport) {}

  /**
   * Joins the DHT with the node's identity as its key pair (`startTransport`: tests give a stand-in DHT).
   * @throws FatalError DHT (no bootstrap node answered, or the public DHT is refused by the guard) or USAGE
   */
  static async start(
    keyPair: { publicKey: Uint8Array; secretKey: Uint8Array },
    flags: DhtFlags,
    env: NodeJS.ProcessEnv,
    signal?: AbortSignal,
    startTransport: (options: DhtTransportOptions) => Promise<DhtTransport> = loadAndStart,
  ): Promise<DhtNetwork> {
    let network: DhtNetwork | undefined
    try {
      const dht = await startTransport({
        keyPair,
        ...(flags.bootstrap ? { bootstrap: flags.bootstrap } : {}),
        ...(flags.relay ? { relayThrough: flags.relay } : {}),
        env,
        ...(signal ? { signal } : {}),
        onLink: (link) => (network ? network.#adopt(link) : link.destroy()),
      })
      network = new DhtNetwork(dht)
      return network
    } catch (error) {
      throw dhtFatal(error)
    }
  }

  /** This node's key-only address, `dht:KEY`. */
  get address(): Address {
    return keyAddress(this.dht.publicKey)
  }

  /** Announces this node under its key, so that others can dial it by its fingerprint. */
  async announce(): Promise<void> {
    await this.dht.listen()
  }

  /**
   * Joins a room by its code; resolves with how many members were there already, or undefined when some
   * dials were still going at the end of the join's wait (it is not known to be empty).
   */
  async joinRoom(code: string): Promise<number | undefined> {
    try {
      const joined = await this.dht.joinRoom(code)
      return joined.settled || joined.membersFound > 0 ? joined.membersFound : undefined
    } catch (error) {
      throw dhtFatal(error)
    }
  }

  /** How the newest link with the peer at `address` (`dht:KEY`) reaches it. */
  pathOf(address: string): LinkPath | undefined {
    const key = keyOfAddress(address)
    return key === undefined ? undefined : this.#links.get(key)?.path
  }

  /**
   * A link to the peer `peerId` (hex key) ended, `refusal` saying why it was refused if it was. Turned away
   * with SAME_KEY (another node with this node's key holds the peer's link), the peer is not dialed from a
   * room for a while, twice as long each time in a row, as core's own redials wait: it would only turn this
   * node away again. Any other end of a link to it starts the row over.
   */
  linkEnded(peerId: string, refusal: string | undefined): void {
    if (refusal !== SAME_KEY) {
      this.#turnedAway.delete(peerId)
      return
    }
    const times = (this.#turnedAway.get(peerId) ?? 0) + 1
    this.#turnedAway.delete(peerId)
    if (this.#turnedAway.size >= MAX_REMEMBERED_LINKS)
      this.#turnedAway.delete(this.#turnedAway.keys().next().value as string)
    this.#turnedAway.set(peerId, times)
    const { baseMs, maxMs } = SAME_KEY_REFUSAL_BACKOFF
    this.dht.holdBack(peerId, Math.min(baseMs * 2 ** Math.min(times - 1, 30), maxMs))
  }

  /** Keys whose last dial found no node announcing them. */
  missing(): string[] {
    return [...this.#missing]
  }

  createListener(onLink: (link: Link) => void): Listener {
    // Links found in rooms and accepted by key flow in whether or not the node listens on the DHT.
    this.#sink = onLink
    return {
      listen: async () => {
        await this.announce()
        return this.address
      },
      close: async () => {
        this.#sink = undefined
      },
    }
  }

  async dial(address: Address, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<Link> {
    const key = keyOfAddress(address)
    if (key === undefined) throw new AddressError(`bad address "${address}": expected dht:KEY`)
    await this.#untilLookupDue(key, options.signal)
    const startedAt = Date.now()
    try {
      const link = await this.dht.dial(key, {
        ...(options.signal ? { signal: options.signal } : {}),
        timeoutMs: Math.max(options.timeoutMs ?? 0, MIN_DIAL_MS),
      })
      this.#missing.delete(key)
      this.#remember(link)
      return link
    } catch (error) {
      const code = error instanceof DhtError ? error.code : undefined
      if (code === 'PEER_NOT_FOUND') this.#missing.add(key)
      // A cancelled dial (core has the peer some other way, or stops) and a closed transport say nothing
      // about the peer.
      if (code !== 'ABORTED' && code !== 'CLOSED' && !options.signal?.aborted) this.#failed(key, startedAt)
      throw transportError(error)
    }
  }

  /** Waits until `key` may be looked up again (see FIRST_RETRY_MS); at once for any other key. */
  #untilLookupDue(key: string, signal: AbortSignal | undefined): Promise<void> {
    const waitMs = (this.#failing.get(key)?.nextAt ?? 0) - Date.now()
    if (waitMs <= 0) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(timer)
        reject(new TransportError('ABORTED', 'the dial was cancelled', { cause: signal?.reason }))
      }
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }, waitMs)
      if (signal?.aborted) return onAbort()
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** A dial of `key` begun at `startedAt` failed: the next waits (see FIRST_RETRY_MS). */
  #failed(key: string, startedAt: number): void {
    const now = Date.now()
    const last = this.#failing.get(key)
    const since = last?.since ?? now
    const restarting = this.#links.has(key) && now - since < RESTART_GRACE_MS
    const waitMs =
      last === undefined || restarting ? FIRST_RETRY_MS : Math.min(last.waitMs * 2, LAST_RETRY_MS)
    this.#failing.delete(key)
    if (this.#failing.size >= MAX_REMEMBERED_LINKS)
      this.#failing.delete(this.#failing.keys().next().value as string)
    this.#failing.set(key, { since, waitMs, nextAt: startedAt + waitMs })
  }

  close(): Promise<void> {
    this.#sink = undefined
    return this.dht.close()
  }

  #adopt(link: DhtLink): void {
    if (this.#sink === undefined) {
      link.destroy()
      return
    }
    this.#remember(link)
    this.#sink(link)
  }

  #remember(link: DhtLink): void {
    this.#failing.delete(link.remoteKey)
    this.#links.delete(link.remoteKey)
    if (this.#links.size >= MAX_REMEMBERED_LINKS)
      this.#links.delete(this.#links.keys().next().value as string)
    this.#links.set(link.remoteKey, link)
  }
}

/** Loaded only now: Hyperswarm takes a noticeable share of start-up, and most runs never use it. */
async function loadAndStart(options: DhtTransportOptions): Promise<DhtTransport> {
  const { startDhtTransport } = await import('@parley/transport-dht')
  return startDhtTransport(options)
}

/** The dialer and the status lines read TransportError codes; the DHT's own code stays in the message. */
const TRANSPORT_CODE = {
  PEER_NOT_FOUND: 'HOST_NOT_FOUND',
  HOLEPUNCH_FAILED: 'UNREACHABLE',
  RELAY_FAILED: 'UNREACHABLE',
  CONNECTION_FAILED: 'UNREACHABLE',
  REFUSED: 'CONNECTION_REFUSED',
  TIMEOUT: 'TIMEOUT',
  ABORTED: 'ABORTED',
  CLOSED: 'CLOSED',
  LINK_LOST: 'RESET',
  BAD_KEY: 'UNKNOWN',
  BAD_ROOM_CODE: 'UNKNOWN',
  BAD_BOOTSTRAP: 'UNKNOWN',
  BOOTSTRAP_UNREACHABLE: 'UNREACHABLE',
  PUBLIC_BOOTSTRAP_REFUSED: 'UNKNOWN',
} as const satisfies Record<DhtError['code'], TransportError['code']>

function transportError(error: unknown): unknown {
  if (!(error instanceof DhtError)) return error
  return new TransportError(TRANSPORT_CODE[error.code], error.message, { cause: error })
}

/** A DHT failure at start, as one line and an exit code. */
export function dhtFatal(error: unknown): unknown {
  if (!(error instanceof DhtError)) return error
  switch (error.code) {
    case 'BAD_KEY':
    case 'BAD_ROOM_CODE':
    case 'BAD_BOOTSTRAP':
      return new FatalError(ExitCode.USAGE, `${error.message} (see --help)`, { cause: error })
    default:
      return new FatalError(ExitCode.DHT, error.message, { cause: error })
  }
}
