/**
 * The transports a node can use, and how the launcher picks one: by the form of the address. TCP owns
 * `HOST:PORT`; a transport that dials by public key owns its own form. A transport whose links arrive
 * authenticated (their `remoteKey` proven) is not wrapped by the secure layer again, but its links pass
 * the same `verify` (pins, known peers, allowlist) as secure ones do.
 */
import {
  type Address,
  AddressError,
  type Link,
  type Listener,
  type Transport,
  TransportError,
} from '@parley/core'
import type { Verify } from '@parley/secure'
import { createTcpTransport, isTcpAddress, normalizeAddress } from '@parley/transport-tcp'
import { type DhtNetwork, isKeyOnlyAddress, normalizeKeyAddress } from './dht.js'

/** What a node built before its transports: the ones that must start first (the DHT joins its network). */
export interface TransportContext {
  /** The started DHT, when the node uses it (`--dht` and the options that imply it). */
  readonly dht?: DhtNetwork
}

/** One kind of transport the launcher knows. */
export interface TransportKind {
  readonly name: string
  /** Whether `text` is written in this transport's address form (it may still be malformed). */
  owns(text: string): boolean
  /** The address in its one written form; throws an AddressError when it is malformed. */
  normalize(text: string): Address
  /** The transport for this node, or undefined when the node does not use this kind (no --dht). */
  create(context: TransportContext): Transport | undefined
  /** What to tell someone who gave an address of this kind to a node that does not use it. */
  readonly unavailable?: string
  /** Its links carry a proven `remoteKey` already: the secure layer must not wrap them again. */
  readonly authenticated: boolean
}

export const TCP: TransportKind = {
  name: 'tcp',
  owns: isTcpAddress,
  normalize: normalizeAddress,
  create: () => createTcpTransport(),
  authenticated: false,
}

/** Nodes reached by key alone over HyperDHT: `dht:KEY`, a 64-hex key, a fingerprint, `parley://FINGERPRINT`. */
export const DHT: TransportKind = {
  name: 'dht',
  owns: isKeyOnlyAddress,
  normalize: normalizeKeyAddress,
  create: (context) => context.dht,
  unavailable: 'reaching a node by its key needs the DHT: run parley with --dht',
  authenticated: true,
}

/** The transports the launcher picks from, in order; a new one is added here. */
export const TRANSPORT_KINDS: readonly TransportKind[] = [TCP, DHT]

/** The transport that owns the address's form. */
export function kindOf(text: string, kinds: readonly TransportKind[] = TRANSPORT_KINDS): TransportKind {
  // An address no transport owns is read by the first one, whose error then says what it expects.
  const kind = kinds.find((k) => k.owns(text.trim())) ?? kinds[0]
  if (!kind) throw new AddressError(`bad address "${text}": no transport is configured`)
  return kind
}

/**
 * Parses an address by its form into its one written form.
 * @example parseAddress(':4001') // '127.0.0.1:4001'
 */
export function parseAddress(text: string, kinds: readonly TransportKind[] = TRANSPORT_KINDS): Address {
  return kindOf(text, kinds).normalize(text.trim())
}

/**
 * One Transport over several: each dial goes to the transport that owns the address's form. Every
 * transport's listener hands its links over (a DHT brings links from rooms whatever the node listens on),
 * and the one that owns the listen address listens on it.
 */
export function routedTransport(
  routes: readonly { kind: TransportKind; transport: Transport | undefined }[],
): Transport {
  const route = (address: Address): Transport => {
    const found = routes.find((r) => r.kind.owns(address))
    if (!found) throw new AddressError(`bad address "${address}": no transport here reads it`)
    if (!found.transport)
      throw new TransportError('UNKNOWN', found.kind.unavailable ?? `${address}: not used here`)
    return found.transport
  }
  const used = routes.filter((r) => r.transport !== undefined)
  if (used.length === 1 && routes.length === 1) return used[0]!.transport!
  return {
    createListener(onLink): Listener {
      const listeners = new Map(used.map((r) => [r.transport!, r.transport!.createListener(onLink)]))
      return {
        listen: (address) => {
          const listener = listeners.get(route(address))
          if (!listener) throw new AddressError(`bad address "${address}": no transport here reads it`)
          return listener.listen(address)
        },
        close: async () => {
          await Promise.all([...listeners.values()].map((l) => l.close()))
        },
      }
    },
    dial: async (address, options) => route(address).dial(address, options),
  }
}

/**
 * The trust check for links a transport authenticated itself: each link's proven key goes through the
 * same `verify` the secure layer uses; a refused or keyless link is closed (and reported by a listener).
 */
export function verifiedTransport(
  inner: Transport,
  verify: Verify,
  onRefused: (address: string, code: 'UNTRUSTED', reason: string) => void,
): Transport {
  // A link the listener hands over was not dialed by this node's user, whichever end opened it: a room
  // member found on the DHT is dialed by this node, yet only the allowlist may admit it. So the verdict is
  // asked as for an inbound link; only a dial of an address the user gave counts as choosing that peer.
  const check = async (
    link: Link,
    address: string,
    direction: 'inbound' | 'outbound',
  ): Promise<string | undefined> => {
    if (link.remoteKey === undefined) return 'the transport did not prove the peer’s key'
    try {
      const verdict = await verify({ remoteKey: link.remoteKey, address, direction })
      return verdict === 'ok' ? undefined : verdict.refuse
    } catch (error) {
      return error instanceof Error ? error.message : String(error)
    }
  }
  return {
    createListener: (onLink) =>
      inner.createListener((link) => {
        void check(link, link.remoteAddress, 'inbound').then((refusal) => {
          if (refusal === undefined) return onLink(link)
          link.destroy()
          onRefused(link.remoteAddress, 'UNTRUSTED', refusal)
        })
      }),
    dial: async (address, options) => {
      const link = await inner.dial(address, options)
      const refusal = await check(link, address, 'outbound')
      if (refusal === undefined) return link
      link.destroy()
      throw new TransportError('UNTRUSTED', refusal)
    },
  }
}

/**
 * Whether `text` is an address invite (`parley://HOST:PORT/FINGERPRINT`, what `parley invite` prints
 * first): it dials its address with its key pinned, which `--join` does, not `--peer` or `/connect`.
 */
export function isAddressInvite(text: string): boolean {
  return /^parley:\/\/[^/]*:\d+\/[^/]+\/?$/i.test(text.trim())
}

/**
 * What is wrong with an address that did not parse, in the words of keys, when it was meant as one: a
 * run of hex of the wrong length, a fingerprint with a typo. Undefined when it reads as a HOST:PORT gone
 * wrong, whose own error says what to fix.
 */
export function keyProblemOf(text: string, error: AddressError): string | undefined {
  const t = text.trim()
  return meantAsKey(t) ? (notAKey(t) ?? error.message) : undefined
}

/**
 * Whether an address that did not parse was meant as a key rather than HOST:PORT: the DHT's forms
 * (`dht:`, `parley://`, fingerprint groups), a run of hex, or a long word with no dot or colon, which no
 * host name is. Its error then speaks of keys, not of ports.
 */
function meantAsKey(text: string): boolean {
  if (DHT.owns(text) || /^parley:\/\//i.test(text)) return true
  if (/^[0-9a-f]{16,}$/i.test(text) || /^[0-9a-z]{40,}$/i.test(text)) return true
  return /^[0-9a-z]{4}(?:-[0-9a-z]{1,4}){2,}$/i.test(text)
}

/** What is wrong with a key that no transport reads (the DHT's own errors cover its forms). */
function notAKey(text: string): string | undefined {
  if (DHT.owns(text) || /^parley:\/\//i.test(text)) return undefined
  const shown = text.length > 16 ? `${text.slice(0, 12)}…` : text
  if (/^[0-9a-f]+$/i.test(text)) return `"${shown}" has ${text.length} hex characters where a key has 64`
  const notHex = /[^0-9a-f]/i.exec(text)
  if (text.length === 64 && /^[0-9a-z]+$/i.test(text) && notHex)
    return `"${shown}" is not a hex key: "${notHex[0]}" at position ${notHex.index + 1} is not 0-9 or a-f`
  return `"${shown}" is not a key: expected 64 hex characters, a full fingerprint (56 characters in groups of 4) or a parley:// invite`
}

/** Why `target` cannot be dialed (a TCP port 0, which only a listener may ask for), or undefined. */
export function dialProblem(target: Address): string | undefined {
  return !isKeyOnlyAddress(target) && /:0$/.test(target)
    ? 'port 0 means "any free port" only when listening; give the port the peer listens on'
    : undefined
}
