import type {
  Address,
  DialOptions,
  Link,
  Listener,
  Transport,
  TransportError,
  TransportErrorCode,
} from '@parley/core'
import { HandshakeSlots } from './handshake-slots.js'
import type { KeyPair } from './identity.js'
import { Upgrade, type UpgradeSettings } from './upgrade.js'
import type { Verify } from './verifier.js'

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000

/** A link that did not become a secure link, reported by a listener (a dial rejects instead). */
export interface RefusedInfo {
  /** The remote socket address. */
  address: string
  direction: 'inbound' | 'outbound'
  /** The key the peer proved, when the handshake got that far. */
  remoteKey?: string
  code: TransportErrorCode
  reason: string
}

export interface SecureOptions {
  /** This node's long-term key pair (see `loadOrCreateIdentity`). */
  keyPair: KeyPair
  /** Decides whether a peer that proved its key may talk to this node. Default: accept every key. */
  verify?: Verify
  /** Called for every inbound connection that failed or was refused before it became a link. */
  onRefused?: (info: RefusedInfo) => void
  /** From TCP connect to an accepted secure link. Default 10 s. */
  handshakeTimeoutMs?: number
  /**
   * Inbound connections still in the secure handshake, at most; a new one past it drops the oldest.
   * Default 64.
   */
  maxPendingHandshakes?: number
  /** The same per source (a host, for TCP), past which a new one from it is refused at once. Default 8. */
  maxPendingPerSource?: number
}

/**
 * Wraps a transport so that every link is encrypted and mutually authenticated with `keyPair`
 * (Noise XX, then libsodium secretstream records), and carries the peer's key as `remoteKey`.
 * `dial` resolves, and the listener hands over a link, only once both ends accepted each other's key.
 * @example const transport = createSecureTransport(createTcpTransport(), { keyPair: identity, verify })
 */
export function createSecureTransport(inner: Transport, options: SecureOptions): Transport {
  const { publicKey, secretKey } = options.keyPair
  if (publicKey?.length !== 32 || secretKey?.length !== 64) {
    throw new TypeError('keyPair must be an ed25519 key pair: a 32-byte publicKey and a 64-byte secretKey')
  }
  const settings: UpgradeSettings = {
    keyPair: options.keyPair,
    verify: options.verify ?? (() => 'ok'),
    timeoutMs: options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    localKey: Buffer.from(options.keyPair.publicKey).toString('hex'),
  }
  const refused = (address: string, code: TransportErrorCode, reason: string, remoteKey?: string) =>
    options.onRefused?.({ address, direction: 'inbound', ...(remoteKey ? { remoteKey } : {}), code, reason })
  return {
    createListener(onLink: (link: Link) => void): Listener {
      // Unauthenticated connections cost a handshake each: they are capped per node and per source (the
      // link's `source` as the inner transport reports it).
      const slots = new HandshakeSlots(
        { perNode: options.maxPendingHandshakes ?? 64, perSource: options.maxPendingPerSource ?? 8 },
        (slot, reason) => refused(slot.address, 'TOO_MANY', reason),
      )
      let closed = false
      const listener = inner.createListener((raw) => {
        if (closed) return raw.destroy()
        const admission = slots.admit(raw.remoteAddress, raw.source ?? raw.remoteAddress)
        if (!admission.admitted) {
          raw.destroy()
          refused(raw.remoteAddress, 'TOO_MANY', admission.reason)
          return
        }
        const { slot } = admission
        const upgrade = new Upgrade(raw, 'inbound', raw.remoteAddress, settings, slot.dropped)
        upgrade.result.then(
          (link) => {
            slots.release(slot)
            if (closed) link.destroy()
            else onLink(link)
          },
          (error: TransportError) => {
            slots.release(slot)
            // A dropped handshake was reported when it was evicted, or needs no report (the listener closed).
            if (slot.dropped.aborted) return
            refused(raw.remoteAddress, error.code, error.message, upgrade.remoteKey)
          },
        )
      })
      return {
        listen: (address: Address) => listener.listen(address),
        close: async () => {
          closed = true
          slots.abortAll()
          await listener.close()
        },
      }
    },

    async dial(address: Address, dialOptions?: DialOptions): Promise<Link> {
      const raw = await inner.dial(address, dialOptions)
      return new Upgrade(raw, 'outbound', address, settings, dialOptions?.signal).result
    },
  }
}

export { TEXT_CLIENT_REPLY } from './upgrade.js'
