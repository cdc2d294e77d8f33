/// <reference path="./types/secret-stream.d.ts" />
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import type { Link } from '@parley/core'
import { ENCRYPTED_NODE_REPLY, TransportError } from '@parley/core'
import { SecretStream } from './commonjs.js'
import { fingerprint } from './fingerprint.js'
import { type HandshakeResult, NoiseHandshake } from './handshake.js'
import type { KeyPair } from './identity.js'
import { LinkStream } from './link-stream.js'
import { RECORD_LIMIT, SecureLink, STATUS } from './secure-link.js'
import type { Verdict, Verify } from './verifier.js'

export interface UpgradeSettings {
  keyPair: KeyPair
  verify: Verify
  timeoutMs: number
  localKey: string
}

/**
 * What a secure node answers to a peer that opened with text (nc, telnet, a --plain parley node). A plain
 * parley node knows these words, and so that the lines it wrote here were not read.
 */
export const TEXT_CLIENT_REPLY = ENCRYPTED_NODE_REPLY

/** How long a refused link may take to flush its refusal before it is destroyed. */
const REFUSAL_GRACE_MS = 2000

type UpgradeState =
  | { status: 'handshaking'; handshake: NoiseHandshake }
  | { status: 'verifying' }
  | { status: 'confirming'; link: SecureLink }
  | { status: 'done'; link?: SecureLink }

/**
 * Turns one raw link into a SecureLink: the Noise handshake, the trust check, then the exchange of
 * verdicts as each side's first record. It fails with one TransportError, or resolves with a link both
 * ends accepted.
 */
export class Upgrade {
  readonly result: Promise<SecureLink>
  /** The key the peer proved, once the handshake got that far. */
  remoteKey: string | undefined
  readonly #stream: LinkStream
  #state: UpgradeState
  #settled = false
  /** A text client was told in words what it reached: the link ends after that line, not at once. */
  #answered = false
  #settle!: { resolve: (link: SecureLink) => void; reject: (error: TransportError) => void }
  readonly #timer: NodeJS.Timeout
  readonly #onAbort = () =>
    this.#fail(new TransportError('ABORTED', `secure handshake with ${this.address} aborted`))
  readonly #onHandshakeData = (chunk: Buffer) => this.#handshakeData(chunk)

  constructor(
    raw: Link,
    private readonly direction: 'inbound' | 'outbound',
    private readonly address: string,
    private readonly settings: UpgradeSettings,
    private readonly signal?: AbortSignal,
  ) {
    this.result = new Promise((resolve, reject) => {
      this.#settle = { resolve, reject }
    })
    const handshake = new NoiseHandshake(direction === 'outbound', settings.keyPair)
    this.#state = { status: 'handshaking', handshake }
    this.#timer = setTimeout(() => this.#onTimeout(), settings.timeoutMs).unref()
    signal?.addEventListener('abort', this.#onAbort, { once: true })
    this.#stream = new LinkStream(raw)
    this.#stream.on('data', this.#onHandshakeData)
    this.#stream.on('end', () => this.#onEndBeforeRecords())
    // Once the record layer runs it watches the stream itself; until then a broken link fails the upgrade.
    this.#stream.on('error', (error: Error) =>
      this.#fail(asTransportError(error, `secure handshake with ${this.address} failed`)),
    )
    if (signal?.aborted) this.#onAbort()
    else {
      const first = handshake.start()
      if (first) this.#stream.write(first)
    }
  }

  #handshakeData(chunk: Buffer): void {
    const state = this.#state
    if (state.status !== 'handshaking') return
    const step = state.handshake.push(chunk)
    if (step.status === 'failed') {
      // Someone typing at a secure node (nc, telnet) gets one line saying what they reached.
      if (
        step.code === 'NOT_SECURE' &&
        this.direction === 'inbound' &&
        step.detail.startsWith('it sent text')
      ) {
        this.#stream.write(new TextEncoder().encode(TEXT_CLIENT_REPLY))
        this.#answered = true
      }
      this.#fail(this.#handshakeError(step.code, step.detail))
      return
    }
    if (step.send) this.#stream.write(step.send)
    if (step.status !== 'done') return
    this.remoteKey = step.result.remotePublicKey.toString('hex')
    this.#state = { status: 'verifying' }
    // Nothing from an unverified peer is read past the handshake: what follows waits in the stream.
    this.#stream.pause()
    this.#stream.off('data', this.#onHandshakeData)
    if (step.rest.length > 0) this.#stream.unshift(step.rest)
    void this.#verify(step.result)
  }

  async #verify(result: HandshakeResult): Promise<void> {
    const remoteKey = this.remoteKey!
    let verdict: Verdict
    try {
      verdict = await this.settings.verify({ remoteKey, address: this.address, direction: this.direction })
    } catch (err) {
      verdict = { refuse: `the trust check failed: ${(err as Error).message}` }
    }
    if (this.#state.status !== 'verifying') return
    if (verdict !== 'ok') {
      this.#state = { status: 'done' }
      this.#refuse(result)
      this.#fail(
        new TransportError(
          'UNTRUSTED',
          `refused peer at ${this.address} with key ${fingerprint(remoteKey).full}: ${verdict.refuse}`,
        ),
      )
      return
    }
    const link = new SecureLink(this.#recordStream(result), {
      direction: this.direction,
      address: this.address,
      remoteAddress: this.#stream.link.remoteAddress,
      localAddress: this.#stream.link.localAddress,
      source: this.#stream.link.source,
      remoteKey,
      remoteRefused: () =>
        new TransportError(
          'REFUSED',
          `peer at ${this.address} refused the link: it does not trust this node's key (${fingerprint(this.settings.localKey).full})`,
        ),
    })
    this.#state = { status: 'confirming', link }
    link.ready.then(
      () => this.#succeed(link),
      (error: TransportError) => this.#fail(error),
    )
  }

  /** The record layer over the rest of the stream, keyed by the handshake. */
  #recordStream(handshake: HandshakeResult): NoiseSecretStream {
    let records: NoiseSecretStream | undefined
    // The record layer allocates whatever length a record announces: refuse an oversize one first.
    this.#stream.onContentSize((bytes) => {
      if (bytes <= RECORD_LIMIT) return
      records?.destroy(
        new TransportError(
          'CRYPTO',
          `peer at ${this.address} announced a secure record ${bytes} bytes longer than what it sent with it; the limit is ${RECORD_LIMIT}`,
        ),
      )
    })
    records = new SecretStream(this.direction === 'outbound', this.#stream, {
      handshake,
      enableSend: false,
    })
    return records
  }

  /** Tells the remote end that this node refuses its key, and ends the link without reading from it. */
  #refuse(handshake: HandshakeResult): void {
    this.#stream.discardInput()
    const records = this.#recordStream(handshake)
    const timer = setTimeout(() => records.destroy(), REFUSAL_GRACE_MS).unref()
    records.on('error', () => {})
    records.on('close', () => clearTimeout(timer))
    records.write(Uint8Array.of(STATUS.REFUSE))
    records.end()
  }

  #onEndBeforeRecords(): void {
    const state = this.#state
    if (state.status !== 'handshaking') return
    // A plain node answers in text (NOT_SECURE, above); a bare close is usually a peer restarting.
    const hint =
      state.handshake.bytesReceived === 0 && this.direction === 'inbound'
        ? 'before starting the secure handshake'
        : 'during the secure handshake'
    this.#fail(new TransportError('CLOSED', `peer at ${this.address} closed the connection ${hint}`))
  }

  #onTimeout(): void {
    this.#fail(
      new TransportError(
        'TIMEOUT',
        // A --plain node answers at once, in words (NOT_SECURE): one that says nothing is stuck, not plain.
        `secure handshake with ${this.address} did not complete within ${this.settings.timeoutMs} ms: ${this.#silence()}`,
      ),
    )
  }

  /** What a handshake that timed out heard from the peer, and what that suggests. */
  #silence(): string {
    const state = this.#state
    const heard = state.status === 'handshaking' ? state.handshake.bytesReceived : 0
    return heard === 0
      ? 'the peer sent nothing (is it paused, overloaded, or something other than parley?)'
      : 'the peer stopped answering partway (is it paused or overloaded?)'
  }

  #handshakeError(code: 'NOT_SECURE' | 'CRYPTO', detail: string): TransportError {
    if (code === 'NOT_SECURE') {
      return new TransportError(
        'NOT_SECURE',
        `peer at ${this.address} is not speaking the parley secure protocol (is it running with --plain?)`,
        { cause: new Error(detail) },
      )
    }
    return new TransportError('CRYPTO', `secure handshake with ${this.address} failed: ${detail}`)
  }

  #succeed(link: SecureLink): void {
    if (this.#settled) return
    this.#settled = true
    this.#state = { status: 'done', link }
    this.#cleanup()
    this.#settle.resolve(link)
  }

  /** The one way an upgrade fails: tear down what exists (a refusal is left to flush) and reject once. */
  #fail(error: TransportError): void {
    if (this.#settled) return
    this.#settled = true
    this.#cleanup()
    const state = this.#state
    if (state.status === 'confirming') state.link.fail(error)
    else if (state.status !== 'done' && this.#answered) {
      // Ended after the answer, and read on (unlooked at) until the peer closes: closed with bytes of the
      // peer's unread, the link would be reset, and a reset can take the answer with it before the peer
      // reads it (a --plain sender of a long file then never learns that nothing was read). A peer that
      // does not close in a moment is cut off.
      const stream = this.#stream
      stream.discardInput()
      stream.end()
      const timer = setTimeout(() => stream.destroy(), REFUSAL_GRACE_MS).unref()
      stream.once('close', () => clearTimeout(timer))
    } else if (state.status !== 'done') this.#stream.destroy()
    this.#state = { status: 'done', ...(state.status === 'confirming' ? { link: state.link } : {}) }
    this.#settle.reject(error)
  }

  #cleanup(): void {
    clearTimeout(this.#timer)
    this.signal?.removeEventListener('abort', this.#onAbort)
  }
}

function asTransportError(error: Error, context: string): TransportError {
  if (error instanceof TransportError) return error
  return new TransportError('UNKNOWN', `${context}: ${error.message}`, { cause: error })
}
