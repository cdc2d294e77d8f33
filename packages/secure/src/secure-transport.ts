import type { Address, DialOptions, Link, Listener, Transport, TransportErrorCode } from '@parley/core'
import { LinkTable, TransportError } from '@parley/core'
import { fingerprint } from './fingerprint.js'
import { type HandshakeResult, NoiseHandshake } from './handshake.js'
import type { KeyPair } from './identity.js'
import { SecureLink } from './secure-link.js'
import type { Verdict, Verify } from './verifier.js'

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
  /** The same per source host, past which a new one from that host is refused at once. Default 8. */
  maxPendingPerSource?: number
}

/** An inbound connection in the secure handshake. */
interface Pending {
  readonly abort: AbortController
  readonly address: string
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
  return {
    createListener(onLink: (link: Link) => void): Listener {
      /** Connections still in the secure handshake, oldest first, with the caps on them. */
      const pending = new LinkTable<Pending>({
        limits: {
          ...(options.maxPendingHandshakes !== undefined ? { max: options.maxPendingHandshakes } : {}),
          ...(options.maxPendingPerSource !== undefined ? { maxPerSource: options.maxPendingPerSource } : {}),
        },
        whenFull: 'drop-oldest',
        counting: 'still in the secure handshake',
      })
      let closed = false
      const finish = (entry: Pending) => pending.delete(entry)
      const listener = inner.createListener((raw) => {
        if (closed) return raw.destroy()
        // Unauthenticated connections cost a handshake each: cap them per node and per source.
        const entry: Pending = { abort: new AbortController(), address: raw.remoteAddress }
        const admission = pending.admit(entry, raw.source ?? raw.remoteAddress)
        if (!admission.ok) {
          raw.destroy()
          options.onRefused?.({
            address: raw.remoteAddress,
            direction: 'inbound',
            code: 'TOO_MANY',
            reason: admission.reason,
          })
          return
        }
        const oldest = admission.dropped
        if (oldest) {
          finish(oldest)
          oldest.abort.abort()
          options.onRefused?.({
            address: oldest.address,
            direction: 'inbound',
            code: 'TOO_MANY',
            reason: admission.droppedWhy ?? '',
          })
        }
        const upgrade = new Upgrade(raw, 'inbound', raw.remoteAddress, settings, entry.abort.signal)
        upgrade.result.then(
          (link) => {
            finish(entry)
            if (closed) link.destroy()
            else onLink(link)
          },
          (error: TransportError) => {
            finish(entry)
            if (entry.abort.signal.aborted) return
            options.onRefused?.({
              address: raw.remoteAddress,
              direction: 'inbound',
              ...(upgrade.remoteKey ? { remoteKey: upgrade.remoteKey } : {}),
              code: error.code,
              reason: error.message,
            })
          },
        )
      })
      return {
        listen: (address: Address) => listener.listen(address),
        close: async () => {
          closed = true
          for (const entry of [...pending.keys()]) {
            pending.delete(entry)
            entry.abort.abort()
          }
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

interface UpgradeSettings {
  keyPair: KeyPair
  verify: Verify
  timeoutMs: number
  localKey: string
}

type UpgradeState =
  | { status: 'handshaking'; handshake: NoiseHandshake }
  | { status: 'verifying'; held: Uint8Array[]; closed?: { error?: Error } }
  | { status: 'confirming'; link: SecureLink }
  | { status: 'done'; link?: SecureLink }

/** Turns one raw link into a SecureLink: handshake, verify, exchange accept/refuse, or fail with one error. */
class Upgrade {
  readonly result: Promise<SecureLink>
  remoteKey: string | undefined
  private state: UpgradeState
  private settled = false
  private settle!: { resolve: (link: SecureLink) => void; reject: (error: TransportError) => void }
  private readonly timer: NodeJS.Timeout
  private readonly onAbort = () =>
    this.fail(new TransportError('ABORTED', `secure handshake with ${this.address} aborted`))

  constructor(
    private readonly raw: Link,
    private readonly direction: 'inbound' | 'outbound',
    private readonly address: string,
    private readonly settings: UpgradeSettings,
    private readonly signal?: AbortSignal,
  ) {
    this.result = new Promise((resolve, reject) => {
      this.settle = { resolve, reject }
    })
    const handshake = new NoiseHandshake(direction === 'outbound', settings.keyPair)
    this.state = { status: 'handshaking', handshake }
    this.timer = setTimeout(() => this.onTimeout(), settings.timeoutMs).unref()
    signal?.addEventListener('abort', this.onAbort, { once: true })
    raw.attach({
      data: (chunk) => this.onData(chunk),
      drain: () => this.linkOf()?.innerDrained(),
      close: (error) => this.onClose(error),
    })
    if (signal?.aborted) this.onAbort()
    else {
      const first = handshake.start()
      if (first) raw.write(first)
    }
  }

  private linkOf(): SecureLink | undefined {
    const state = this.state
    return state.status === 'confirming' || state.status === 'done' ? state.link : undefined
  }

  private onData(chunk: Uint8Array): void {
    const state = this.state
    switch (state.status) {
      case 'handshaking': {
        const step = state.handshake.push(chunk)
        if (step.status === 'failed') {
          this.fail(this.handshakeError(step.code, step.detail))
          return
        }
        if (step.send) this.raw.write(step.send)
        if (step.status === 'done') {
          this.remoteKey = step.result.remotePublicKey.toString('hex')
          const held = step.rest.length > 0 ? [step.rest] : []
          this.state = { status: 'verifying', held }
          // Nothing from an unverified peer is read past the handshake: hold its bytes, and stop reading.
          this.raw.pause()
          void this.verify(step.result)
        }
        return
      }
      case 'verifying':
        state.held.push(chunk)
        return
      case 'confirming':
      case 'done':
        state.link?.receive(chunk)
        return
      default: {
        const _exhaustive: never = state
        throw new Error(`unexpected state ${JSON.stringify(_exhaustive)}`)
      }
    }
  }

  private async verify(result: HandshakeResult): Promise<void> {
    const remoteKey = this.remoteKey!
    let verdict: Verdict
    try {
      verdict = await this.settings.verify({ remoteKey, address: this.address, direction: this.direction })
    } catch (err) {
      verdict = { refuse: `the trust check failed: ${(err as Error).message}` }
    }
    const state = this.state
    if (state.status !== 'verifying') return
    const link = new SecureLink(this.raw, result, {
      direction: this.direction,
      address: this.address,
      remoteKey,
      remoteRefused: () =>
        new TransportError(
          'UNTRUSTED',
          `peer at ${this.address} refused the link: it does not trust this node's key (${fingerprint(this.settings.localKey).full})`,
        ),
    })
    if (verdict !== 'ok') {
      this.state = { status: 'done', link }
      link.refuse()
      if (state.closed) link.innerClosed(state.closed.error)
      this.raw.resume()
      this.fail(
        new TransportError(
          'UNTRUSTED',
          `refused peer at ${this.address} with key ${fingerprint(remoteKey).full}: ${verdict.refuse}`,
        ),
      )
      return
    }
    this.state = { status: 'confirming', link }
    link.accept()
    for (const chunk of state.held) link.receive(chunk)
    if (state.closed) link.innerClosed(state.closed.error)
    this.raw.resume()
    link.ready.then(
      () => this.succeed(link),
      (error: TransportError) => this.fail(error),
    )
  }

  private onClose(error?: Error): void {
    const state = this.state
    switch (state.status) {
      case 'handshaking': {
        const hint =
          state.handshake.bytesReceived === 0 && this.direction === 'inbound'
            ? 'before starting the secure handshake'
            : 'during the secure handshake (is it running with --plain?)'
        this.fail(
          error
            ? asTransportError(error, `secure handshake with ${this.address} failed`)
            : new TransportError('CLOSED', `peer at ${this.address} closed the connection ${hint}`),
        )
        return
      }
      case 'verifying':
        state.closed = error ? { error } : {}
        return
      case 'confirming':
      case 'done':
        state.link?.innerClosed(error)
        return
      default: {
        const _exhaustive: never = state
        throw new Error(`unexpected state ${JSON.stringify(_exhaustive)}`)
      }
    }
  }

  private onTimeout(): void {
    this.fail(
      new TransportError(
        'TIMEOUT',
        `secure handshake with ${this.address} did not complete within ${this.settings.timeoutMs} ms (is it running with --plain?)`,
      ),
    )
  }

  private handshakeError(code: 'NOT_SECURE' | 'CRYPTO', detail: string): TransportError {
    if (code === 'NOT_SECURE') {
      return new TransportError(
        'NOT_SECURE',
        `peer at ${this.address} is not speaking the parley secure protocol (is it running with --plain?)`,
        { cause: new Error(detail) },
      )
    }
    return new TransportError('CRYPTO', `secure handshake with ${this.address} failed: ${detail}`)
  }

  private succeed(link: SecureLink): void {
    if (this.settled) return
    this.settled = true
    this.state = { status: 'done', link }
    this.cleanup()
    this.settle.resolve(link)
  }

  /** The one way an upgrade fails: tear down what exists (a refusal is left to flush) and reject once. */
  private fail(error: TransportError): void {
    if (this.settled) return
    this.settled = true
    this.cleanup()
    const state = this.state
    if (state.status === 'confirming') state.link.fail(error)
    else if (state.status !== 'done') this.raw.destroy()
    this.state = {
      status: 'done',
      ...(state.status === 'confirming' || state.status === 'done' ? { link: state.link } : {}),
    }
    this.settle.reject(error)
  }

  private cleanup(): void {
    clearTimeout(this.timer)
    this.signal?.removeEventListener('abort', this.onAbort)
  }
}

function asTransportError(error: Error, context: string): TransportError {
  if (error instanceof TransportError) return error
  return new TransportError('UNKNOWN', `${context}: ${error.message}`, { cause: error })
}
