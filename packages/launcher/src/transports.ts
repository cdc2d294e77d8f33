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

/** One kind of transport the launcher knows. */
export interface TransportKind {
  readonly name: string
  /** Whether `text` is written in this transport's address form (it may still be malformed). */
  owns(text: string): boolean
  /** The address in its one written form; throws an AddressError when it is malformed. */
  normalize(text: string): Address
  create(): Transport
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

/** The transports the launcher picks from, in order; a new one is added here. */
export const TRANSPORT_KINDS: readonly TransportKind[] = [TCP]

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
 * One Transport over several: each dial goes to the transport that owns the address's form, and the
 * listener listens with the one that owns the listen address.
 */
export function routedTransport(routes: readonly { kind: TransportKind; transport: Transport }[]): Transport {
  const route = (address: Address): Transport => {
    const found = routes.find((r) => r.kind.owns(address))
    if (!found) throw new AddressError(`bad address "${address}": no transport here reads it`)
    return found.transport
  }
  if (routes.length === 1) return routes[0]!.transport
  return {
    createListener(onLink): Listener {
      let inner: Listener | undefined
      return {
        listen: (address) => {
          inner = route(address).createListener(onLink)
          return inner.listen(address)
        },
        close: () => inner?.close() ?? Promise.resolve(),
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
  const check = async (link: Link, address: string): Promise<string | undefined> => {
    if (link.remoteKey === undefined) return 'the transport did not prove the peer’s key'
    try {
      const verdict = await verify({ remoteKey: link.remoteKey, address, direction: link.direction })
      return verdict === 'ok' ? undefined : verdict.refuse
    } catch (error) {
      return error instanceof Error ? error.message : String(error)
    }
  }
  return {
    createListener: (onLink) =>
      inner.createListener((link) => {
        void check(link, link.remoteAddress).then((refusal) => {
          if (refusal === undefined) return onLink(link)
          link.destroy()
          onRefused(link.remoteAddress, 'UNTRUSTED', refusal)
        })
      }),
    dial: async (address, options) => {
      const link = await inner.dial(address, options)
      const refusal = await check(link, address)
      if (refusal === undefined) return link
      link.destroy()
      throw new TransportError('UNTRUSTED', refusal)
    },
  }
}
