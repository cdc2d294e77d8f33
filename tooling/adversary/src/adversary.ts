/**
 * A malicious member for tests: it completes a real Noise handshake with its own throwaway key, speaks the
 * real protocol, and then sends whatever a test tells it: hellos with any name, messages it signs as
 * itself or as other throwaway origins (chosen names, renames, bodies), acks with chosen `have` and
 * `bases`, and raw frames or bytes. Everything it receives is decoded and kept, so a test can wait on it.
 *
 * It is built from the real packages (secure transport, frame codec, message signing), so whatever it
 * sends passes every check an honest peer's would, unless the test makes it not.
 */
import { randomBytes } from 'node:crypto'
import {
  type Address,
  DEFAULT_MAX_FRAME,
  encodeFrame,
  FrameDecoder,
  HERE_CAP,
  type Here,
  type Link,
  type Message,
  type MessageAuth,
  type Msg,
  PROTOCOL_VERSION,
  ROOM_CAP,
} from '@parley/core'
import { createMessageAuth, createSecureTransport, generateKeyPair, type KeyPair } from '@parley/secure'
import { createTcpTransport } from '@parley/transport-tcp'

const randomHex = (bytes: number) => randomBytes(bytes).toString('hex')

/**
 * A member's signing key and message chain. The adversary's own key is one; a test can make as many
 * more as it likes and relay their messages, as a relay would relay real members'.
 */
export class ForgedOrigin {
  readonly keyPair: KeyPair
  readonly id: string
  /** Seq of the last message made. */
  seq = 0
  private readonly auth: MessageAuth
  private head: string | undefined

  constructor(
    /** The name signed into its messages unless a message says otherwise. */
    public name: string,
    keyPair: KeyPair = generateKeyPair(),
  ) {
    this.keyPair = keyPair
    this.id = Buffer.from(keyPair.publicKey).toString('hex')
    this.auth = createMessageAuth(keyPair)
  }

  /**
   * The next message of this origin, chained and signed: `name` is signed in as given (a rename, a
   * newline, anything). `unsigned` leaves the signature off (only the last of a burst carries one).
   */
  say(body: string, options: { name?: string | null; ts?: number; unsigned?: boolean } = {}): Msg {
    const msg: Msg = {
      type: 'msg',
      id: randomHex(8),
      seq: ++this.seq,
      ts: options.ts ?? Date.now(),
      from: this.id,
      body,
    }
    const name = options.name === undefined ? this.name : options.name
    if (name !== null) msg.name = name
    const prev = this.head ?? this.auth.genesis(this.id)
    msg.prev = prev
    this.head = this.auth.chain(prev, msg)
    if (!options.unsigned) msg.sig = this.auth.sign(this.head)
    return msg
  }

  /** Its presence (`here` frame), signed as it signs it, dated `ts` (now by default). */
  here(state: 'here' | 'gone' = 'here', options: { ts?: number; name?: string } = {}): Here {
    const fields = { from: this.id, name: options.name ?? this.name, ts: options.ts ?? Date.now(), state }
    return { type: 'here', ...fields, sig: this.auth.sign(this.auth.hereHash!(fields)) }
  }
}

export interface AdversaryOptions {
  /** The name in its hello; anything, even what the schema refuses. Default "mallory". */
  readonly name?: string
  readonly keyPair?: KeyPair
  /** Announce the room capability (it relays members' messages). Default true. */
  readonly relays?: boolean
  /** Announce the presence capability (it is sent and relays `here` frames). Default false. */
  readonly presence?: boolean
  /** The listen address its hello announces. */
  readonly listen?: string
  readonly handshakeTimeoutMs?: number
  /** Its frame limit for what it receives. Default the protocol's. */
  readonly maxFrame?: number
}

/** Why the adversary's link ended: the victim's `bye` reason and code, if it sent them. */
export interface AdversaryClose {
  readonly bye?: string
  readonly code?: string
  readonly error?: Error
}

export class Adversary {
  /** Its own key, as a member that signs messages. */
  readonly self: ForgedOrigin
  /** Everything the victim sent, decoded, oldest first. */
  readonly inbox: Message[] = []
  /** Resolves when the link is gone. */
  readonly closed: Promise<AdversaryClose>
  private readonly decoder: FrameDecoder
  private readonly waiters = new Set<() => void>()
  private readonly drains: (() => void)[] = []
  private bye: { reason: string; code?: string } | undefined
  private isClosed = false

  private constructor(
    readonly link: Link,
    self: ForgedOrigin,
    private readonly options: AdversaryOptions,
  ) {
    this.self = self
    this.decoder = new FrameDecoder(options.maxFrame ?? DEFAULT_MAX_FRAME)
    this.closed = new Promise((resolve) => {
      link.attach({
        data: (chunk) => {
          const { messages } = this.decoder.push(chunk)
          for (const m of messages) {
            if (m.type === 'bye') this.bye = { reason: m.reason, ...(m.code ? { code: m.code } : {}) }
            this.inbox.push(m)
          }
          this.wake()
        },
        drain: () => {
          for (const resolve of this.drains.splice(0)) resolve()
        },
        close: (error) => {
          for (const resolve of this.drains.splice(0)) resolve()
          this.isClosed = true
          const bye = this.bye
          resolve({
            ...(bye ? { bye: bye.reason } : {}),
            ...(bye?.code ? { code: bye.code } : {}),
            ...(error ? { error } : {}),
          })
          this.wake()
        },
      })
    })
  }

  /** Dials `target` and completes the secure handshake with a fresh (or the given) key. Sends nothing yet. */
  static async dial(target: Address, options: AdversaryOptions = {}): Promise<Adversary> {
    const keyPair = options.keyPair ?? generateKeyPair()
    const transport = createSecureTransport(createTcpTransport(), {
      keyPair,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
    })
    const link = await transport.dial(target)
    return new Adversary(link, new ForgedOrigin(options.name ?? 'mallory', keyPair), options)
  }

  get id(): string {
    return this.self.id
  }

  get isOpen(): boolean {
    return !this.isClosed
  }

  /** Sends any object as one frame, unchecked: the schema is the victim's business. */
  send(message: Record<string, unknown>): boolean {
    if (this.isClosed) return false
    return this.link.write(encodeFrame(message as unknown as Message, Number.MAX_SAFE_INTEGER))
  }

  /** Sends raw bytes: a length prefix of its own, half a frame, garbage. */
  sendBytes(bytes: Uint8Array): boolean {
    if (this.isClosed) return false
    return this.link.write(bytes)
  }

  /** Its hello; `fields` replace or add any field (`name: 'bob\n'`, a wrong `id`, another `v`). */
  hello(fields: Record<string, unknown> = {}): void {
    const caps = [`instance:${randomHex(4)}`, `epoch:${randomHex(4)}`]
    if (this.options.relays ?? true) caps.push(ROOM_CAP)
    if (this.options.presence) caps.push(HERE_CAP)
    this.send({
      type: 'hello',
      v: PROTOCOL_VERSION,
      id: this.id,
      name: this.options.name ?? 'mallory',
      caps,
      ...(this.options.listen ? { listen: this.options.listen } : {}),
      ...fields,
    })
  }

  /**
   * The whole opening: hello, the victim's hello, `accept` from whichever id is lower, then an opening
   * ack (nothing of the victim's, nothing of anyone's). After it, the victim treats this as a member.
   */
  async join(fields: Record<string, unknown> = {}): Promise<{ victimId: string }> {
    this.hello(fields)
    const hello = (await this.waitFor((m) => m.type === 'hello')) as Extract<Message, { type: 'hello' }>
    if (this.id < hello.id) this.send({ type: 'accept' })
    else await this.waitFor((m) => m.type === 'accept')
    this.ack({ upTo: 0, base: 0 })
    return { victimId: hello.id }
  }

  /** A message of its own, signed (see `ForgedOrigin.say`). */
  say(body: string, options: Parameters<ForgedOrigin['say']>[1] = {}): Msg {
    const msg = this.self.say(body, options)
    this.send({ ...msg })
    return msg
  }

  /** Relays a message as a relay would: another origin's, already signed (or not). */
  relay(msg: Msg): void {
    this.send({ ...msg })
  }

  /** An ack with whatever it claims: `have` and `bases` may name any origins at any seqs. */
  ack(fields: {
    upTo: number
    base?: number
    have?: Record<string, number>
    bases?: Record<string, number>
    more?: true
  }): void {
    this.send({ type: 'ack', ...fields })
  }

  /**
   * Sends `messages` as fast as the victim reads them (awaiting drain, so the attacker holds little), until
   * they run out or the victim drops the link. Returns how many were sent.
   */
  async flood(messages: Iterable<Record<string, unknown>>): Promise<number> {
    let sent = 0
    for (const message of messages) {
      if (this.isClosed) break
      sent++
      if (!this.send(message)) await this.drained()
    }
    return sent
  }

  /**
   * Acks that each name `origins` members nobody has heard of (fresh random keys) in `have`, or in
   * `bases` with `in: 'bases'`, at most `frames` of them, sent as fast as the victim reads, until it drops
   * the link. Returns how many were sent.
   */
  floodAcks(options: { origins?: number; frames?: number; in?: 'have' | 'bases' } = {}): Promise<number> {
    const { origins = 256, frames = 100_000 } = options
    const key = options.in ?? 'have'
    function* acks(): Generator<Record<string, unknown>> {
      for (let i = 0; i < frames; i++) {
        const map: Record<string, number> = {}
        for (let j = 0; j < origins; j++) map[randomHex(32)] = 1_000_000
        yield { type: 'ack', upTo: 0, [key]: map }
      }
    }
    return this.flood(acks())
  }

  /** Resolves with the first message received (already or later) that `match` accepts. */
  waitFor(match: (message: Message) => boolean, timeoutMs = 10_000): Promise<Message> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.inbox.find(match)
        if (found) {
          finish()
          resolve(found)
          return true
        }
        if (this.isClosed) {
          finish()
          reject(
            new Error(
              `the link closed before the awaited message arrived (bye: ${this.bye?.reason ?? 'none'})`,
            ),
          )
          return true
        }
        return false
      }
      const timer = setTimeout(() => {
        finish()
        reject(
          new Error(
            `no matching message within ${timeoutMs} ms; got ${this.inbox.map((m) => m.type).join(', ')}`,
          ),
        )
      }, timeoutMs)
      const finish = () => {
        clearTimeout(timer)
        this.waiters.delete(waiter)
      }
      const waiter = () => void check()
      if (!check()) this.waiters.add(waiter)
    })
  }

  /**
   * Resolves when the socket buffer drained (or the link closed): a flood awaits it whenever `send`
   * returns false, so the attacker's own memory stays small while the victim's is measured.
   */
  drained(): Promise<void> {
    if (this.isClosed) return Promise.resolve()
    return new Promise((resolve) => this.drains.push(resolve))
  }

  /** Drops the link at once. */
  close(): void {
    this.link.destroy()
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter()
  }
}
