/**
 * The peer runtime: one node listening on its own address and dialing its peers at the same time. It
 * composes parts with one job each (the link table, the inbound gate, the dialer, persistence, the
 * outbound pump) around the pure link machines and the room, and performs what they return. One session
 * per remote node id, so it holds many peers at once and relays the room between them.
 */
import { type Address, formatAddress } from './address.js'
import { type Clock, systemClock } from './clock.js'
import { DEFAULT_MAX_FRAME, encodeFrame, FrameDecoder } from './codec.js'
import { waitForDelivery } from './delivery.js'
import { Dialer, type DialSlot } from './dialer.js'
import { ProtocolError } from './errors.js'
import { DEFAULT_RATE_LIMIT, InboundGate, type TokenBucket } from './inbound-gate.js'
import type { HistoryEntry, JournalRecord, RestoredState } from './journal.js'
import {
  helloCap,
  helloInstance,
  isPlainDelivery,
  type LinkCloseReason,
  type LinkContext,
  type LinkEffect,
  type LinkEvent,
  type LinkState,
  linkTransition,
  makeHello,
  newLinkState,
} from './link-machine.js'
import { LinkTable } from './link-table.js'
import type { ChatNode, MemberInfo, NodeEvent, NodeOptions, SentMessage, SessionInfo } from './node-types.js'
import { dueAcks, FrameCache, pump } from './outbound.js'
import { DEFAULT_BACKOFF, type PeerInfo, type PeerState } from './peer-machine.js'
import { DEFAULT_HISTORY_LIMIT, Persistence } from './persistence.js'
import { type MessageAuth, type Refusal, Room, type RoomEffect } from './room.js'
import { MAX_BODY_LENGTH, type Message, type Msg } from './schema.js'
import type { Link, Listener, Transport } from './transport.js'

/** Our messages sent in one tick form a burst; a longer one is cut here, so relays never wait on more. */
export const MAX_BURST = 100
/** Bytes kept free in a frame for the chain hash, the signature and a relay's hop count. */
const SEAL_ROOM = 600
/** A msg frame's bytes besides its strings: keys, quotes, a 16-digit seq and ts, the 16-char id and the length prefix. */
const FIXED_MSG_BYTES = 160
/** The hello capability of nodes that relay the room (and take relayed messages). */
export const ROOM_CAP = 'room'

/** Timing defaults of every node. */
export const NODE_DEFAULTS = {
  handshakeTimeoutMs: 10_000,
  dialTimeoutMs: 5_000,
  keepaliveMs: 5_000,
  deadAfterMs: 14_000,
} as const

interface LinkRecord {
  readonly id: number
  readonly link: Link
  readonly decoder: FrameDecoder
  state: LinkState
  slot?: DialSlot
  /** Who the peer said it is, once its hello arrived; `relays` when it speaks the room protocol. */
  hello?: { peer: PeerInfo; listen?: string; epoch: string; relays: boolean }
  handshakeTimer?: unknown
  lastHeard: number
  ackDue: boolean
  /** Set after we end a link: forces it shut if the remote end never closes its side. */
  destroyTimer?: unknown
  /** Decoded messages waiting for the inbound gate to let them in. */
  backlog: Message[]
  /** The link is paused until this timer refills the peer's allowance. */
  throttleTimer?: unknown
  /** The remote end is not reading: our last write hit a full buffer. */
  blocked: boolean
}

interface Session {
  peer: PeerInfo
  instance: string
  link?: number
  /** Highest seq of ours that the peer has acknowledged. */
  acked: number
  /** When the current link opened (clock ms). */
  openedAt: number
  /** The peer's sequence epoch: a new one means its seq numbering restarted (state lost). */
  epoch: string
  /** The peer's allowance under the rate limit. */
  bucket: TokenBucket
  /** When the peer last told us it throttles us (clock ms). */
  throttledAt: number
}

/** Why a read of a link's backlog stopped. */
type ReadStop = 'empty' | 'turn' | 'refused' | { readonly throttle: number }

type Lifecycle = 'new' | 'starting' | 'running' | 'closing' | 'closed'

/**
 * A parley node.
 * @example
 * const node = new ParleyNode({ transport: createTcpTransport(), name: 'alice', listen, peers: [bob] })
 * node.on((e) => e.type === 'message' && console.log(e.from.name, e.body))
 * await node.start(); node.send('hi')
 */
export class ParleyNode implements ChatNode {
  readonly id: string
  readonly instance: string
  /** Names this node's sequence numbering: it changes only when the seqs start over (no journal). */
  readonly epoch: string
  private nameValue: string
  private readonly options: NodeOptions
  private readonly transport: Transport
  private readonly clock: Clock
  private readonly random: () => number
  private readonly timing: { -readonly [K in keyof typeof NODE_DEFAULTS]: number }
  private readonly maxFrame: number
  private readonly listeners = new Set<(event: NodeEvent) => void>()
  private readonly links = new Map<number, LinkRecord>()
  /** Every link's account, and the caps on links still in their handshake. */
  private readonly table: LinkTable<number>
  private readonly gate: InboundGate<LinkRecord>
  private readonly dialer: Dialer
  private readonly sessions = new Map<string, Session>()
  /** Who has which message of which member, and what each link still has to carry. */
  private readonly room: Room
  private readonly auth?: MessageAuth
  private readonly frames: FrameCache
  private readonly store: Persistence
  /** Our messages sent this tick, signed together once the tick ends (or MAX_BURST is reached). */
  private burst?: { size: number; promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void }
  private readonly lastSeen = new Map<string, number>()
  /** Members already announced this run. */
  private readonly announced = new Set<string>()
  private listenAddress: Address
  private listener?: Listener
  private lifecycle: Lifecycle = 'new'
  private nextLinkId = 1
  private pingCounter = 0
  private keepaliveTimer?: unknown
  private lastPingAt = 0
  private readonly linkContext: LinkContext

  constructor(options: NodeOptions) {
    this.options = options
    this.transport = options.transport
    this.nameValue = options.name
    this.listenAddress = options.listen
    this.clock = options.clock ?? systemClock
    this.random = options.random ?? Math.random
    this.maxFrame = options.maxFrame ?? DEFAULT_MAX_FRAME
    this.timing = {
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? NODE_DEFAULTS.handshakeTimeoutMs,
      dialTimeoutMs: options.dialTimeoutMs ?? NODE_DEFAULTS.dialTimeoutMs,
      keepaliveMs: options.keepaliveMs ?? NODE_DEFAULTS.keepaliveMs,
      deadAfterMs: options.deadAfterMs ?? NODE_DEFAULTS.deadAfterMs,
    }
    this.table = new LinkTable({
      limits: {
        ...(options.maxHandshaking !== undefined ? { max: options.maxHandshaking } : {}),
        ...(options.maxHandshakingPerSource !== undefined
          ? { maxPerSource: options.maxHandshakingPerSource }
          : {}),
      },
      whenFull: 'drop-oldest',
      counting: 'still in their handshake',
    })
    const rateLimit = options.rateLimit === undefined ? DEFAULT_RATE_LIMIT : options.rateLimit
    this.gate = new InboundGate(this.clock, rateLimit, (waited) => this.nextTurn(waited))
    this.frames = new FrameCache(this.maxFrame)
    this.dialer = new Dialer({
      transport: this.transport,
      clock: this.clock,
      random: this.random,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      dialTimeoutMs: this.timing.dialTimeoutMs,
      adopt: (link, slot) => this.adopt(link, slot)?.id,
      closeLink: (id, reason) => {
        const record = this.links.get(id)
        if (record) this.linkStep(record, { type: 'close', reason })
      },
      stateChanged: (slot) => this.emit({ type: 'peer-state', target: slot.key, state: slot.state }),
      dialFailed: (slot, code, message) => this.emit({ type: 'dial-error', target: slot.key, code, message }),
    })
    this.id = options.id ?? randomHex(16)
    this.instance = randomHex(8)
    this.store = new Persistence(options.journal, options.historyLimit ?? DEFAULT_HISTORY_LIMIT, (message) =>
      this.emit({ type: 'journal-error', message }),
    )
    const restored = options.restored
    this.epoch = restored?.epoch ?? this.instance
    if (options.auth) this.auth = options.auth
    this.room = new Room(
      {
        self: { id: this.id, name: this.nameValue },
        ...(options.auth ? { auth: options.auth } : {}),
        ...(options.windowSize !== undefined ? { windowSize: options.windowSize } : {}),
        ...(options.maxOrigins !== undefined ? { maxOrigins: options.maxOrigins } : {}),
        ...(options.waitingCap !== undefined ? { waitingCap: options.waitingCap } : {}),
        ...(options.hopLimit !== undefined ? { hopLimit: options.hopLimit } : {}),
      },
      restored
        ? {
            origins: restored.peers.values(),
            nextSeq: restored.nextSeq,
            outbox: restored.outbox,
            recent: restored.recent,
            ...(restored.lastSent ? { lastSent: restored.lastSent } : {}),
          }
        : undefined,
    )
    if (restored) this.adoptRestored(restored)
    if (this.store.durable && !restored?.epoch) void this.store.append([{ t: 'self', epoch: this.epoch }])
    this.linkContext = {
      self: { id: this.id },
      openSession: (peerId) => {
        const session = this.sessions.get(peerId)
        return session?.link !== undefined ? { instance: session.instance } : undefined
      },
    }
  }

  get name(): string {
    return this.nameValue
  }

  /** The address the node really listens on (port 0 resolved), once started. */
  get address(): Address {
    return this.listenAddress
  }

  /** Messages sent by this node that some peer has not acknowledged yet. */
  get pending(): number {
    return this.room.pending
  }

  /** This node as peers see it. */
  get self(): PeerInfo {
    return { id: this.id, name: this.nameValue }
  }

  /** Recent messages in and out, oldest first (restored from the journal, then live). */
  get history(): readonly HistoryEntry[] {
    return this.store.history()
  }

  /** Subscribes to node events; returns the unsubscribe function. */
  on(listener: (event: NodeEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /**
   * Listens first (so a taken port fails before anything else happens), then dials every peer.
   * Rejects with a TransportError when the address cannot be bound.
   */
  async start(): Promise<Address> {
    if (this.lifecycle !== 'new') throw new Error('a node can only be started once')
    this.lifecycle = 'starting'
    const listener = this.transport.createListener((link) => this.adopt(link))
    try {
      this.listenAddress = await listener.listen(this.listenAddress)
    } catch (error) {
      this.lifecycle = 'closed'
      throw error
    }
    this.listener = listener
    this.lifecycle = 'running'
    this.emit({ type: 'listening', address: formatAddress(this.listenAddress) })
    this.showUnshown()
    for (const peer of this.options.peers ?? []) this.connect(peer)
    this.scheduleKeepalive()
    return this.listenAddress
  }

  /** Starts dialing another peer (and keeps redialing it until it answers). Dialing the same address twice is a no-op. */
  connect(target: Address): void {
    if (this.lifecycle !== 'running') throw new Error('the node is not running')
    this.dialer.add(target)
  }

  /** Sends a chat message to every peer; peers not connected yet get it when they connect. */
  send(body: string): SentMessage {
    if (this.lifecycle === 'closing' || this.lifecycle === 'closed') throw new Error('the node is closed')
    if (body.length > MAX_BODY_LENGTH) {
      throw new ProtocolError('BAD_MESSAGE', `a message is at most ${MAX_BODY_LENGTH} characters long`)
    }
    const fields = { id: randomHex(8), ts: this.clock.now(), body, name: this.nameValue }
    // The frame limit is checked before the message is accepted, with room for what sealing adds. A JSON
    // string takes at most 6 bytes per UTF-16 unit (\uXXXX), so most messages are proven to fit without
    // being encoded a second time.
    const limit = this.maxFrame - (this.auth ? SEAL_ROOM : 0)
    if (6 * (body.length + this.nameValue.length + this.id.length) + FIXED_MSG_BYTES > limit) {
      encodeFrame({ type: 'msg', seq: this.room.nextSeq, from: this.id, ...fields }, limit)
    }
    const msg = this.room.compose(fields)
    this.store.remember({ direction: 'out', id: msg.id, seq: msg.seq, ts: msg.ts, from: this.self, body })
    const burst = this.burst ?? this.openBurst()
    burst.size++
    if (burst.size >= MAX_BURST) this.sealBurst()
    return { id: msg.id, seq: msg.seq, ts: msg.ts, durable: burst.promise }
  }

  /** Every member of the room this node knows of: neighbours and the origins relayed to it. */
  members(): MemberInfo[] {
    return this.room.members().map((m) => {
      const link = this.linkOf(this.sessions.get(m.peer.id))?.link
      const seen = this.lastSeen.get(m.peer.id)
      return {
        peer: m.peer,
        direct: m.direct,
        connected: m.direct ? link !== undefined : m.connected,
        ...(link ? { address: link.remoteAddress } : {}),
        ...(seen !== undefined ? { lastSeen: seen } : {}),
      }
    })
  }

  /** Changes the display name used in later handshakes. */
  rename(name: string): void {
    this.nameValue = name
  }

  sessionsSnapshot(): SessionInfo[] {
    return [...this.sessions.values()].map((s) => {
      const link = this.linkOf(s)?.link
      return {
        peer: s.peer,
        connected: link !== undefined,
        ...(link ? { address: link.remoteAddress, localAddress: link.localAddress } : {}),
      }
    })
  }

  peerStates(): { target: string; state: PeerState }[] {
    return this.dialer.states()
  }

  /**
   * Resolves once every sent message is acknowledged, or after `timeoutMs` with how many were not.
   * @returns the number of messages still undelivered (0 on success)
   */
  whenDelivered(timeoutMs: number): Promise<number> {
    return waitForDelivery(
      () => this.pending,
      (listener) => this.on(listener),
      this.clock,
      timeoutMs,
    )
  }

  /** Says `bye` on every link, stops listening and dialing, and releases every timer. */
  async close(reason = 'quit'): Promise<void> {
    if (this.lifecycle === 'closing' || this.lifecycle === 'closed') return
    const wasRunning = this.lifecycle === 'running'
    this.lifecycle = 'closing'
    if (this.keepaliveTimer !== undefined) this.clock.clearTimeout(this.keepaliveTimer)
    this.gate.close()
    for (const record of [...this.links.values()]) this.linkStep(record, { type: 'close', reason })
    this.dialer.closeAll(reason)
    if (wasRunning) await this.listener?.close().catch(() => undefined)
    this.lifecycle = 'closed'
    this.emit({ type: 'closed' })
  }

  // ---- our own messages --------------------------------------------------------------------------

  private openBurst(): NonNullable<ParleyNode['burst']> {
    let resolve!: () => void
    let reject!: (e: unknown) => void
    const promise = new Promise<void>((yes, no) => {
      resolve = yes
      reject = no
    })
    const burst = { size: 0, promise, resolve, reject }
    this.burst = burst
    // Messages sent in the same tick share one signature: sealed once the tick's code has run.
    queueMicrotask(() => {
      if (this.burst === burst) this.sealBurst()
    })
    return burst
  }

  /** Signs the burst's last message, makes the burst durable, then lets it go out. */
  private sealBurst(): void {
    const burst = this.burst
    if (!burst) return
    this.burst = undefined
    const sealed = this.room.seal()
    const last = sealed.at(-1)
    if (!last) {
      burst.resolve()
      return
    }
    this.store
      .append(sealed.map((msg) => ({ t: 'sent' as const, msg })))
      .then(() => {
        this.room.ownDurable(last.seq)
        for (const session of this.sessions.values()) this.pump(session, this.id)
      })
      .then(burst.resolve, burst.reject)
  }

  // ---- links -------------------------------------------------------------------------------------

  private adopt(link: Link, slot?: DialSlot): LinkRecord | undefined {
    if (this.lifecycle !== 'running') {
      link.destroy()
      return undefined
    }
    const id = this.nextLinkId++
    // Links we dialed are ours; an inbound one counts against its source's caps until its handshake ends.
    const admission = this.table.admit(id, slot ? undefined : (link.source ?? link.remoteAddress))
    if (!admission.ok) {
      link.destroy()
      this.emit({
        type: 'link-error',
        address: link.remoteAddress,
        code: 'TOO_MANY',
        message: admission.reason,
      })
      return undefined
    }
    const dropped = admission.dropped === undefined ? undefined : this.links.get(admission.dropped)
    if (dropped) {
      const address = dropped.link.remoteAddress
      this.linkStep(dropped, { type: 'close', reason: 'too many connections in their handshake' })
      this.emit({ type: 'link-error', address, code: 'TOO_MANY', message: admission.droppedWhy ?? '' })
    }
    const record: LinkRecord = {
      id,
      link,
      decoder: new FrameDecoder(this.maxFrame),
      state: newLinkState(link.remoteKey),
      lastHeard: this.clock.now(),
      ackDue: false,
      backlog: [],
      blocked: false,
      ...(slot ? { slot } : {}),
    }
    this.links.set(record.id, record)
    record.handshakeTimer = this.clock.setTimeout(
      () => this.linkStep(record, { type: 'handshake-timeout' }),
      this.timing.handshakeTimeoutMs,
    )
    // Our hello goes out before anything the transport already buffered is read.
    const caps = [`epoch:${this.epoch}`, ROOM_CAP, ...(this.options.caps ?? [])]
    const self = { id: this.id, name: this.nameValue, instance: this.instance }
    this.writeTo(record, makeHello(self, caps, formatAddress(this.listenAddress)))
    link.attach({
      data: (chunk) => this.onData(record, chunk),
      drain: () => this.onDrain(record),
      close: (error) => {
        if (record.destroyTimer !== undefined) this.clock.clearTimeout(record.destroyTimer)
        if (record.throttleTimer !== undefined) this.clock.clearTimeout(record.throttleTimer)
        this.linkStep(record, { type: 'transport-closed', ...(error ? { error } : {}) })
      },
    })
    return record
  }

  private onData(record: LinkRecord, chunk: Uint8Array): void {
    record.lastHeard = this.clock.now()
    const { messages, error } = record.decoder.push(chunk)
    record.backlog.push(...messages)
    this.read(record)
    if (error && record.state.status !== 'closed') this.linkStep(record, { type: 'protocol-error', error })
  }

  /**
   * Takes what the inbound gate lets in from the link's backlog, then, in this order: carries out what the
   * room decided (so what was accepted is on its way to the journal), acks the link (the ack waits on the
   * journal), and pauses the link if the gate said so (the peer is told when its rate is exceeded).
   */
  private read(record: LinkRecord): void {
    let stop: ReadStop
    do {
      const effects: RoomEffect[] = []
      stop = this.take(record, effects)
      this.perform(effects)
    } while (stop === 'refused' && record.state.status !== 'closed')
    this.flushAck(record)
    if (typeof stop !== 'object' || record.throttleTimer !== undefined) return
    const retryMs = stop.throttle
    record.link.pause()
    this.writeTo(record, { type: 'throttle', retryMs })
    record.throttleTimer = this.clock.setTimeout(() => {
      record.throttleTimer = undefined
      record.link.resume()
      this.read(record)
    }, retryMs)
  }

  /** Feeds the backlog to the link machine while the gate allows; stops early when the room refuses someone. */
  private take(record: LinkRecord, effects: RoomEffect[]): ReadStop {
    while (record.backlog.length > 0) {
      if (record.state.status === 'closed') {
        record.backlog.length = 0
        return 'empty'
      }
      const message = record.backlog[0]!
      const turn = this.gate.takeTurn(record)
      if (!turn.ok) {
        if (turn.paused) record.link.pause()
        return 'turn'
      }
      if (message.type === 'msg') {
        const retryMs = this.takeToken(record)
        if (retryMs > 0) return { throttle: retryMs }
      }
      record.backlog.shift()
      if (message.type === 'hello' && record.hello === undefined && !this.noteHello(record, message))
        return 'empty'
      const before = effects.length
      if (isPlainDelivery(record.state, message)) this.deliver(record, message, effects)
      else this.linkStep(record, { type: 'received', message }, effects)
      for (let i = before; i < effects.length; i++) if (effects[i]!.type === 'refuse') return 'refused'
    }
    return 'empty'
  }

  /** Records who the peer says it is; false when a peer that dialed in is refused (see `checkPeer`). */
  private noteHello(record: LinkRecord, hello: Extract<Message, { type: 'hello' }>): boolean {
    record.hello = {
      peer: { id: hello.id, name: hello.name },
      ...(hello.listen ? { listen: hello.listen } : {}),
      epoch: helloCap(hello, 'epoch') ?? helloInstance(hello),
      relays: hello.caps.includes(ROOM_CAP),
    }
    const refusal = record.slot ? undefined : this.options.checkPeer?.(record.hello.peer.id, hello.listen)
    if (!refusal) return true
    this.linkStep(record, { type: 'protocol-error', error: new ProtocolError('UNTRUSTED', refusal) })
    return false
  }

  private nextTurn(waited: LinkRecord[]): void {
    for (const record of waited) {
      if (record.state.status === 'closed' || this.lifecycle !== 'running') continue
      // A link the peer's rate limit paused stays paused; its own timer resumes it.
      if (record.throttleTimer === undefined) record.link.resume()
      this.read(record)
    }
  }

  /** 0 when the peer's rate allows one more message now, else how long until it does. */
  private takeToken(record: LinkRecord): number {
    const session = this.sessionOf(record)
    return session ? this.gate.takeToken(session.bucket) : 0
  }

  private onDrain(record: LinkRecord): void {
    if (!record.blocked) return
    record.blocked = false
    const session = this.sessionOf(record)
    if (!session) return
    this.emit({ type: 'backpressure', peer: session.peer, blocked: false })
    // Acks were held back while the peer did not read; one cumulative ack covers them all.
    record.ackDue = true
    this.flushAck(record)
    this.pump(session)
  }

  /** Steps the link machine; the room effects of what it delivered go to `effects` (a read's batch). */
  private linkStep(record: LinkRecord, event: LinkEvent, effects: RoomEffect[] = []): void {
    const step = linkTransition(record.state, event, this.linkContext)
    if (!step.ok) return
    record.state = step.state
    for (const effect of step.effects) this.performLinkEffect(record, effect, effects)
  }

  private performLinkEffect(record: LinkRecord, effect: LinkEffect, effects: RoomEffect[]): void {
    switch (effect.type) {
      case 'send':
        this.writeTo(record, effect.message)
        return
      case 'cancel-handshake-timer':
        if (record.handshakeTimer !== undefined) this.clock.clearTimeout(record.handshakeTimer)
        record.handshakeTimer = undefined
        return
      case 'open':
        this.table.settle(record.id)
        this.openSession(record, effect.peer, effect.instance)
        return
      case 'deliver':
        this.deliver(record, effect.message, effects)
        return
      case 'close':
        this.closeLink(record, effect.reason)
        return
      default: {
        const _exhaustive: never = effect
      }
    }
  }

  private closeLink(record: LinkRecord, reason: LinkCloseReason): void {
    this.links.delete(record.id)
    this.table.delete(record.id)
    if (reason.code === 'TRANSPORT') record.link.destroy()
    else {
      record.link.end()
      // A remote end that never closes its side must not hold the socket forever.
      record.destroyTimer = this.clock.setTimeout(() => record.link.destroy(), 2_000)
    }
    const address = record.link.remoteAddress
    if (reason.protocolError)
      this.emit({ type: 'link-error', address, code: reason.code, message: reason.message })

    const peer = record.hello?.peer
    const session = peer ? this.sessions.get(peer.id) : undefined
    if (session && session.link === record.id) {
      session.link = undefined
      this.room.linkClosed(session.peer.id)
      this.settle()
      const why = reason.code === 'BYE' ? `${session.peer.name} left (${reason.message})` : reason.message
      this.emit({ type: 'disconnected', peer: session.peer, reason: why })
      const lastedMs = this.clock.now() - session.openedAt
      for (const slot of this.dialer.slotsFor(session.peer.id)) {
        this.dialer.step(slot, {
          type: 'session-lost',
          link: record.id,
          reason: why,
          lastedMs,
          random: this.random(),
        })
      }
    }
    const slot = record.slot
    if (slot?.state.status !== 'handshaking' || slot.state.link !== record.id) return
    if (reason.code === 'DUPLICATE' && peer && session?.link !== undefined) {
      // Our dial reached a peer we already chat with over its own dial: adopt that session.
      slot.peerId = peer.id
      this.dialer.step(slot, { type: 'session-open', link: session.link, peer: session.peer })
      return
    }
    this.dialer.step(slot, {
      type: 'handshake-failed',
      link: record.id,
      code: reason.code,
      message: reason.message,
      fatal: reason.code === 'VERSION' || reason.code === 'SELF',
      random: this.random(),
    })
  }

  private writeTo(record: LinkRecord, message: Message): void {
    if (record.state.status === 'closed' && message.type !== 'bye') return
    // A peer that does not read gets no more answers: pongs and acks would pile up without bound, and a
    // later cumulative ack says everything the dropped ones would have.
    if (record.blocked && (message.type === 'pong' || message.type === 'ack' || message.type === 'ping'))
      return
    try {
      // With one neighbour a frame goes out once (a resend after a reconnect is rare): nothing to share.
      const accepted = record.link.write(this.frames.frameOf(message, this.sessions.size > 1))
      if (!accepted && !record.blocked && record.state.status === 'open') {
        // The peer is not reading: stop feeding it chat messages until the buffer drains.
        record.blocked = true
        this.emit({ type: 'backpressure', peer: record.state.peer, blocked: true })
      }
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error
      this.linkStep(record, { type: 'protocol-error', error })
    }
  }

  // ---- sessions ----------------------------------------------------------------------------------

  private sessionOf(record: LinkRecord): Session | undefined {
    const session = record.hello ? this.sessions.get(record.hello.peer.id) : undefined
    return session?.link === record.id ? session : undefined
  }

  private linkOf(session: Session | undefined): LinkRecord | undefined {
    return session?.link === undefined ? undefined : this.links.get(session.link)
  }

  private newSession(peer: PeerInfo, instance: string, epoch: string, acked: number): Session {
    const bucket = this.gate.newBucket()
    return { peer, instance, acked, openedAt: 0, epoch, bucket, throttledAt: Number.NEGATIVE_INFINITY }
  }

  private openSession(record: LinkRecord, peer: PeerInfo, instance: string): void {
    const epoch = record.hello?.epoch ?? instance
    let session = this.sessions.get(peer.id)
    if (!session) {
      session = this.newSession(peer, instance, epoch, 0)
      this.sessions.set(peer.id, session)
      void this.store.append([{ t: 'peer', peer, epoch }])
    } else if (session.epoch !== epoch) {
      // The peer restarted without its journal: its seqs start over and it remembers nothing of ours.
      session.epoch = epoch
      session.acked = 0
      this.room.peerRestarted(peer.id)
      void this.store.append([{ t: 'peer', peer, epoch }])
    }
    session.openedAt = this.clock.now()
    const previous = session.link
    session.peer = peer
    session.instance = instance
    session.link = record.id
    if (previous !== undefined && previous !== record.id) {
      const old = this.links.get(previous)
      // The old link is replaced, not lost: the session already points at the new one when it closes.
      if (old) this.linkStep(old, { type: 'close', reason: 'replaced by a newer link' })
    }
    const sameNameAs = this.sameNameAs(peer)
    this.emit({
      type: 'connected',
      peer,
      address: record.link.remoteAddress,
      direction: record.link.direction,
      ...(sameNameAs.length > 0 ? { sameNameAs } : {}),
    })
    this.announce(peer, 'direct')
    for (const slot of this.dialer.slots.values()) {
      const dialedIt = slot.state.status === 'handshaking' && slot.state.link === record.id
      const announced = slot.peerId === undefined && record.hello?.listen === slot.key
      if (dialedIt || announced || slot.peerId === peer.id) {
        slot.peerId = peer.id
        this.dialer.step(slot, { type: 'session-open', link: record.id, peer })
      }
    }
    // Resume: tell the peer what we have of every member and where our streams to it start; its
    // first ack on this link says which of ours, and of the room's, to send.
    this.perform(this.room.linkOpened(peer.id, { name: peer.name, relays: record.hello?.relays ?? false }))
  }

  /** Ids of other members known under the same name: never the same person by name alone. */
  private sameNameAs(peer: PeerInfo): string[] {
    const ids = new Set<string>()
    for (const s of this.sessions.values())
      if (s.peer.id !== peer.id && s.peer.name === peer.name) ids.add(s.peer.id)
    for (const m of this.room.members())
      if (m.peer.id !== peer.id && m.peer.name === peer.name) ids.add(m.peer.id)
    return [...ids]
  }

  /** Emits `member` the first time this run that a member shows up. */
  private announce(peer: PeerInfo, via: 'direct' | 'relay'): void {
    if (this.announced.has(peer.id)) return
    this.announced.add(peer.id)
    const sameNameAs = this.sameNameAs(peer)
    this.emit({ type: 'member', peer, via, ...(sameNameAs.length > 0 ? { sameNameAs } : {}) })
  }

  /** What the session's link should carry now, while it takes more. `only` limits it to one member. */
  private pump(session: Session, only?: string): void {
    const record = this.linkOf(session)
    if (!record) return
    const target = {
      writable: () => !record.blocked && record.state.status === 'open',
      write: (message: Message) => this.writeTo(record, message),
    }
    pump(this.room, session.peer.id, target, only)
  }

  private deliver(record: LinkRecord, message: Message, effects: RoomEffect[]): void {
    const session = this.sessionOf(record)
    if (!session) return
    switch (message.type) {
      case 'msg': {
        record.ackDue = true
        // Straight from its origin over a link that proved the origin's key: shown at once.
        const trusted =
          message.from === session.peer.id && (!this.auth || record.link.remoteKey === message.from)
        this.room.receive(session.peer.id, message, trusted, effects)
        return
      }
      case 'ack':
        this.room.onAck(session.peer.id, message, effects)
        this.acknowledge(session, message.upTo)
        return
      case 'ping':
        this.writeTo(record, { type: 'pong', n: message.n })
        return
      case 'pong':
        return
      case 'throttle': {
        // One notice every few seconds is enough for a person; the peer may send many.
        const now = this.clock.now()
        if (now - session.throttledAt >= 3_000) {
          session.throttledAt = now
          this.emit({ type: 'throttled', peer: session.peer, retryMs: message.retryMs })
        }
        return
      }
      default:
        return
    }
  }

  /** Acks claim only what is durable and shown, so they wait for the journal (one wait per read). */
  private flushAck(record: LinkRecord): void {
    if (!record.ackDue) return
    record.ackDue = false
    const session = record.hello ? this.sessions.get(record.hello.peer.id) : undefined
    if (!session) return
    void this.store.settled().then(() => {
      if (session.link !== record.id) return
      for (const ack of dueAcks(this.room, session.peer.id)) this.writeTo(record, ack)
    })
  }

  /**
   * The one place the room's decisions are carried out, always in this order: refuse (close the links of
   * neighbours that broke the rules), send what the room addressed to a neighbour, resume neighbours whose
   * links may carry more now, then persist what was accepted (and any jump past a moved window) in one
   * append, and once it is durable: announce members who joined, show each message, relay it.
   */
  private perform(effects: readonly RoomEffect[]): void {
    if (effects.length === 0) return
    const accepted: Msg[] = []
    const records: JournalRecord[] = []
    const joined: PeerInfo[] = []
    for (const effect of effects) if (effect.type === 'refuse') this.refuse(effect.refusal)
    for (const effect of effects) {
      switch (effect.type) {
        case 'refuse':
          break
        case 'send': {
          const record = this.linkOf(this.sessions.get(effect.neighbor))
          if (record) this.writeTo(record, effect.message)
          break
        }
        case 'resume': {
          const session = this.sessions.get(effect.neighbor)
          if (session) this.pump(session)
          break
        }
        case 'jump':
          records.push({ t: 'base', peer: effect.peer, seq: effect.seq })
          break
        case 'accept':
          accepted.push(effect.msg)
          break
        case 'join':
          joined.push(effect.peer)
          break
        default: {
          const _exhaustive: never = effect
        }
      }
    }
    if (accepted.length === 0 && records.length === 0) return
    for (const msg of accepted) records.push({ t: 'received', msg, name: this.memberOf(msg).name })
    void this.store.append(records).then(() => {
      for (const peer of joined) this.announce(peer, 'relay')
      const origins = new Set<string>()
      for (const msg of accepted) {
        this.room.markShown(msg.from, msg.seq)
        this.lastSeen.set(msg.from, this.clock.now())
        const from = this.memberOf(msg)
        this.store.remember({ direction: 'in', id: msg.id, seq: msg.seq, ts: msg.ts, from, body: msg.body })
        this.emit({ type: 'message', id: msg.id, seq: msg.seq, ts: msg.ts, from, body: msg.body })
        origins.add(msg.from)
      }
      for (const session of this.sessions.values()) for (const origin of origins) this.pump(session, origin)
    })
  }

  private memberOf(msg: Msg): PeerInfo {
    return this.room.peerOf(msg.from) ?? { id: msg.from, name: msg.name ?? msg.from.slice(0, 8) }
  }

  /** A neighbour broke the room's rules (forged, flooded, too many members): its link is closed and reported. */
  private refuse(refusal: Refusal): void {
    const record = this.linkOf(this.sessions.get(refusal.neighbor))
    if (!record) return
    this.linkStep(record, { type: 'protocol-error', error: new ProtocolError(refusal.code, refusal.message) })
  }

  /** Messages the journal holds but no frontend showed before the last run ended (it was killed). */
  private showUnshown(): void {
    const displayed = this.options.displayed
    if (!displayed) return
    for (const entry of this.store.unshown(displayed)) {
      const { id, seq, ts, from, body } = entry
      this.emit({ type: 'message', id, seq, ts, from, body, replayed: true })
    }
  }

  private adoptRestored(restored: RestoredState): void {
    for (const p of restored.peers.values()) {
      if (p.neighbor) this.sessions.set(p.peer.id, this.newSession(p.peer, '', p.epoch, p.acked))
    }
    for (const entry of restored.history.slice(-this.store.historyLimit)) this.store.remember(entry)
  }

  private acknowledge(session: Session, upTo: number): void {
    if (upTo <= session.acked) return
    const from = session.acked
    session.acked = Math.min(upTo, this.room.nextSeq - 1)
    const newlyAcked = this.room.outboxBetween(from, session.acked)
    this.settle()
    void this.store.append([{ t: 'acked', peer: session.peer, upTo: session.acked }])
    for (const m of newlyAcked) this.emit({ type: 'delivered', id: m.id, seq: m.seq, to: session.peer })
  }

  /**
   * A message leaves the outbox once every neighbour we wait for has it: those connected now, and those
   * we dial (they will be back). A neighbour that dialed us and left is not waited for, or any stranger
   * who once connected would pin the outbox forever; it catches up from the window when it returns.
   */
  private settle(): void {
    let lowest = Number.POSITIVE_INFINITY
    for (const s of this.sessions.values()) {
      if (s.link !== undefined || this.dialer.dials(s.peer.id)) lowest = Math.min(lowest, s.acked)
    }
    if (lowest !== Number.POSITIVE_INFINITY) this.room.settleOwn(lowest)
  }

  // ---- keepalive ---------------------------------------------------------------------------------

  /**
   * Silence is checked far more often than pings go out, so a dead link is dropped within a twentieth of
   * `deadAfterMs` after it went quiet for that long, not up to a whole ping interval later.
   */
  private scheduleKeepalive(): void {
    const tick = Math.max(10, Math.min(this.timing.keepaliveMs, Math.floor(this.timing.deadAfterMs / 20)))
    this.keepaliveTimer = this.clock.setTimeout(() => {
      this.keepalive()
      if (this.lifecycle === 'running') this.scheduleKeepalive()
    }, tick)
  }

  private keepalive(): void {
    const now = this.clock.now()
    const ping = now - this.lastPingAt >= this.timing.keepaliveMs
    if (ping) this.lastPingAt = now
    for (const record of [...this.links.values()]) {
      if (record.state.status !== 'open') continue
      if (now - record.lastHeard >= this.timing.deadAfterMs) {
        const error = new ProtocolError('SILENT', `peer sent nothing for ${this.timing.deadAfterMs} ms`)
        this.linkStep(record, { type: 'protocol-error', error })
        continue
      }
      if (ping) this.writeTo(record, { type: 'ping', n: ++this.pingCounter })
    }
  }

  private emit(event: NodeEvent): void {
    for (const listener of [...this.listeners]) listener(event)
  }
}

/** Random bytes are drawn 4 KiB at a time: one getRandomValues call per message cost ~5 µs. */
const randomPool = new Uint8Array(4096)
let randomOffset = randomPool.length
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'))

function randomHex(bytes: number): string {
  if (randomOffset + bytes > randomPool.length) {
    globalThis.crypto.getRandomValues(randomPool)
    randomOffset = 0
  }
  let out = ''
  for (let i = 0; i < bytes; i++) out += HEX[randomPool[randomOffset + i]!]
  // Each byte is handed out once, so ids stay as unpredictable as before.
  randomOffset += bytes
  return out
}
