/**
 * The peer runtime: one node listening on its own address and dialing its peers at the same time.
 * It drives the pure peer and link machines and the room, performs their effects over a Transport, and
 * keeps one session per remote node id, so it holds many peers at once and relays the room between them.
 */
import { type Address, formatAddress, hostOf } from './address.js'
import { type Clock, systemClock } from './clock.js'
import { DEFAULT_MAX_FRAME, encodeFrame, FrameDecoder } from './codec.js'
import { waitForDelivery } from './delivery.js'
import { Dialer, type DialSlot } from './dialer.js'
import { ProtocolError } from './errors.js'
import type { HistoryEntry, Journal, JournalRecord, RestoredState } from './journal.js'
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
import { namesakes, shownName } from './names.js'
import {
  type Backoff,
  DEFAULT_BACKOFF,
  type PeerEvent,
  type PeerInfo,
  type PeerState,
} from './peer-machine.js'
import { type MessageAuth, type Refusal, Room, type RoomOutcome } from './room.js'
import { type Ack, MAX_BODY_LENGTH, MAX_ORIGINS_PER_ACK, type Message, type Msg } from './schema.js'
import type { Link, Listener, Transport } from './transport.js'

export interface NodeOptions {
  transport: Transport
  /** Display name sent in the handshake. */
  name: string
  listen: Address
  /** Peers to dial and keep dialing until they answer. */
  peers?: readonly Address[]
  /** This node's id (lowercase hex). A random one is made when absent. */
  id?: string
  clock?: Clock
  /** Source of randomness in [0, 1) for backoff jitter. */
  random?: () => number
  backoff?: Backoff
  /** Links that have not finished the handshake by then are dropped. */
  handshakeTimeoutMs?: number
  dialTimeoutMs?: number
  /** A ping goes out on every quiet link this often. */
  keepaliveMs?: number
  /** A link that has been silent this long is considered dead and is dropped. */
  deadAfterMs?: number
  maxFrame?: number
  caps?: string[]
  /** Where accepted messages, receipts and acks are made durable. Without one, nothing survives a restart. */
  journal?: Journal
  /** State replayed from the journal at start-up (`restore(records)`). */
  restored?: RestoredState
  /** How many history entries to keep in memory. */
  historyLimit?: number
  /** Links still in their handshake, at most, across the node (more are refused). Default 64. */
  maxHandshaking?: number
  /** Links still in their handshake, at most, from one source host. Default 8. */
  maxHandshakingPerSource?: number
  /** Messages accepted from one peer: a sustained rate and a burst allowance. `false` disables it. */
  rateLimit?: RateLimit | false
  /**
   * Vets a peer that dialed in, by its id and the listen address it announces: a reason to refuse it
   * (say, that address is known to hold another key), or undefined to accept.
   */
  checkPeer?: (peerId: string, announcedListen: string | undefined) => string | undefined
  /**
   * Display marks: the highest seq per sender that a frontend has shown (the frontend records them as
   * it writes). Messages journaled but not shown when the process died are shown again at start.
   */
  displayed?: ReadonlyMap<string, number>
  /**
   * Signs our messages and checks relayed ones (see `MessageAuth`). Without one, nothing is signed and
   * relayed messages are taken as they come: fine for tests and trusted networks only.
   */
  auth?: MessageAuth
  /** Recent messages kept per member, to relay and to catch neighbours up. Default 1000. */
  windowSize?: number
  /** Members kept at most (a relay introducing more is dropped). Default 1000. */
  maxOrigins?: number
  /** Out-of-order or unverified messages buffered from one neighbour at most. Default 4096. */
  waitingCap?: number
  /** Hops a relayed message may still travel, at most. Default 64. */
  hopLimit?: number
}

/** Our messages sent in one tick form a burst; a longer one is cut here, so relays never wait on more. */
export const MAX_BURST = 100
/** Frames of recent messages kept for reuse: a message usually goes out on every link within moments. */
const FRAME_CACHE = 1024
/** Bytes kept free in a frame for the chain hash, the signature and a relay's hop count. */
const SEAL_ROOM = 600
/**
 * Messages taken from all links in one turn of the event loop; the rest wait for the next turn, so a
 * flood read in one go cannot keep the process from its other input (a person typing) for long.
 */
const TURN_BUDGET = 256
/** A msg frame's bytes besides its strings: keys, quotes, a 16-digit seq and ts, the 16-char id and the length prefix. */
const FIXED_MSG_BYTES = 160

/** One member of the room, as `members()` lists it. */
export interface MemberInfo {
  readonly peer: PeerInfo
  /** This node has (had) a link to it; otherwise its messages reach us through relays. */
  readonly direct: boolean
  /** Direct: its link is open now. Relayed: some neighbour that relays is connected. */
  readonly connected: boolean
  /** The remote end of its link, when direct and connected. */
  readonly address?: string
  /** The address it says it listens on (its hello), when direct and connected. */
  readonly listen?: string
  /** When its last message was shown (clock ms), if one was this run. */
  readonly lastSeen?: number
}

export interface RateLimit {
  /** Messages per second, sustained. */
  readonly perSecond: number
  /** Messages that may arrive at once before the rate applies. */
  readonly burst: number
  /**
   * Bytes per second, sustained (a message counts its body and name, one byte per UTF-16 unit, plus a
   * fixed 160): what the journal and the screen pay for. Absent: no byte limit.
   */
  readonly bytesPerSecond?: number
  /** Bytes that may arrive at once before `bytesPerSecond` applies (default: 4 seconds' worth). */
  readonly byteBurst?: number
}

/**
 * Generous for people and pipes (a 20,000-line file fits in the burst), bounded for a flood: a peer
 * that keeps sending gets 1 MiB a second of journal and screen at most, and 5,000 messages.
 */
export const DEFAULT_RATE_LIMIT: RateLimit = {
  perSecond: 5_000,
  burst: 20_000,
  bytesPerSecond: 1_048_576,
  byteBurst: 8_388_608,
}

/** A remote end that broke the protocol, or a transport failure on a link. */
export interface LinkProblem {
  readonly address: string
  readonly code: string
  readonly message: string
}

export type NodeEvent =
  | { readonly type: 'listening'; readonly address: string }
  /** A peer this node dials changed state. `target` is the address it dials. */
  | { readonly type: 'peer-state'; readonly target: string; readonly state: PeerState }
  | {
      readonly type: 'connected'
      readonly peer: PeerInfo
      readonly address: string
      readonly direction: 'inbound' | 'outbound'
      /** The address the peer says it listens on (its hello), to show instead of an ephemeral source port. */
      readonly listen?: string
      /** Ids of other peers this node knows under the same name: never the same person by name alone. */
      readonly sameNameAs?: readonly string[]
    }
  | { readonly type: 'disconnected'; readonly peer: PeerInfo; readonly reason: string }
  /**
   * A member seen for the first time this run: `relay` when its first message came through another
   * node (a join notice), `direct` when it first connected. Departures of relayed members are not visible.
   * Sent again when a member shows up under another name (`renamedFrom`): a rename is never silent.
   */
  | {
      readonly type: 'member'
      readonly peer: PeerInfo
      readonly via: 'direct' | 'relay'
      readonly sameNameAs?: readonly string[]
      readonly renamedFrom?: string
    }
  | {
      readonly type: 'message'
      readonly id: string
      readonly seq: number
      readonly ts: number
      readonly from: PeerInfo
      readonly body: string
      /**
       * Shown again at start: journaled but not marked as shown when the last run died, so it may (rarely,
       * when the kill fell between a write and its mark) have been shown once already. Same `id`.
       */
      readonly replayed?: true
    }
  | { readonly type: 'delivered'; readonly id: string; readonly seq: number; readonly to: PeerInfo }
  | ({ readonly type: 'link-error' } & LinkProblem)
  /** The journal could not be written: messages are no longer made durable. */
  | { readonly type: 'journal-error'; readonly message: string }
  /** A peer is rate-limiting our messages: they wait in the outbox, none is lost. */
  | { readonly type: 'throttled'; readonly peer: PeerInfo; readonly retryMs: number }
  /** A peer stopped reading (its socket buffer is full), or started again. */
  | { readonly type: 'backpressure'; readonly peer: PeerInfo; readonly blocked: boolean }
  /** Dialing `target` failed for a new reason (repeats of the same reason are not reported again). */
  | { readonly type: 'dial-error'; readonly target: string; readonly code: string; readonly message: string }
  | { readonly type: 'closed' }

export interface SentMessage {
  readonly id: string
  readonly seq: number
  readonly ts: number
  /** Resolves once the message is durable in the outbox (at once without a journal). */
  readonly durable: Promise<void>
}

/** What every frontend drives: a parley node (`ParleyNode`) or a plain-text one (`PlainNode`). */
export interface ChatNode {
  readonly id: string
  readonly name: string
  readonly self: PeerInfo
  readonly address: Address
  readonly pending: number
  readonly history: readonly HistoryEntry[]
  on(listener: (event: NodeEvent) => void): () => void
  start(): Promise<Address>
  connect(target: Address): void
  send(body: string): SentMessage
  rename(name: string): void
  sessionsSnapshot(): SessionInfo[]
  /** Every member of the room this node knows of, direct or relayed. */
  members(): MemberInfo[]
  peerStates(): { target: string; state: PeerState }[]
  whenDelivered(timeoutMs: number): Promise<number>
  close(reason?: string): Promise<void>
}

export interface SessionInfo {
  readonly peer: PeerInfo
  readonly connected: boolean
  /** The remote end of the session's link. */
  readonly address?: string
  /** This node's end of the session's link. */
  readonly localAddress?: string
}

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
  /** Decoded messages waiting for the peer's rate limit to allow them. */
  backlog: Message[]
  /** The link is paused until this timer refills the peer's allowance. */
  throttleTimer?: unknown
  /** The remote end is not reading: our last write hit a full buffer. */
  blocked: boolean
  /** Source host, for the per-source handshake cap (inbound links only). */
  source?: string
}

interface Session {
  peer: PeerInfo
  instance: string
  link?: number
  address?: string
  /** Highest seq of ours that the peer has acknowledged. */
  acked: number
  /** When the current link opened (clock ms). */
  openedAt: number
  /** The peer's sequence epoch: a new one means its seq numbering restarted (state lost). */
  epoch: string
  /** Token buckets for the peer's messages and their bytes. */
  tokens: number
  bytes: number
  refilledAt: number
  /** When the peer last told us it throttles us (clock ms). */
  throttledAt: number
}

type Lifecycle = 'new' | 'starting' | 'running' | 'closing' | 'closed'

const DEFAULTS = {
  handshakeTimeoutMs: 10_000,
  dialTimeoutMs: 5_000,
  keepaliveMs: 5_000,
  deadAfterMs: 14_000,
  maxHandshaking: 64,
  maxHandshakingPerSource: 8,
}

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
  private readonly transport: Transport
  private readonly clock: Clock
  private readonly random: () => number
  private readonly backoff: Backoff
  private readonly limits: typeof DEFAULTS
  private readonly maxFrame: number
  private readonly rateLimit: RateLimit | false
  private readonly checkPeer: NodeOptions['checkPeer']
  private readonly displayed: NodeOptions['displayed']
  private readonly caps: string[]
  private readonly listeners = new Set<(event: NodeEvent) => void>()
  private readonly links = new Map<number, LinkRecord>()
  private readonly dialer: Dialer
  private readonly sessions = new Map<string, Session>()
  /** Who has which message of which member, and what each link still has to carry. */
  private readonly room: Room
  private readonly auth?: MessageAuth
  /** Encoded chat messages, so one written to several links is encoded once; the newest few only. */
  private readonly frames = new Map<Msg, Uint8Array>()
  /** Our messages sent this tick, signed together once the tick ends (or MAX_BURST is reached). */
  private burst?: { size: number; promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void }
  private readonly lastSeen = new Map<string, number>()
  /** Members already announced this run, with the name they were announced under. */
  private readonly announced = new Map<string, string>()
  private readonly journal?: Journal
  private readonly historyEntries: HistoryEntry[] = []
  private readonly historyLimit: number
  private journalChain: Promise<void> = Promise.resolve()
  /** What the room accepted during the current read, applied together when the read is done. */
  private gathered: RoomOutcome | undefined
  private readonly initialPeers: readonly Address[]
  private listenAddress: Address
  private listener?: Listener
  private lifecycle: Lifecycle = 'new'
  private nextLinkId = 1
  private pingCounter = 0
  private keepaliveTimer?: unknown
  /** Messages taken this turn (see TURN_BUDGET), and the links paused until the next turn. */
  private turnTaken = 0
  private turnTimer?: unknown
  private readonly waitingTurn = new Set<LinkRecord>()
  private lastPingAt = 0
  private readonly linkContext: LinkContext

  constructor(options: NodeOptions) {
    this.transport = options.transport
    this.nameValue = options.name
    this.listenAddress = options.listen
    this.initialPeers = options.peers ?? []
    this.clock = options.clock ?? systemClock
    this.random = options.random ?? Math.random
    this.backoff = options.backoff ?? DEFAULT_BACKOFF
    this.maxFrame = options.maxFrame ?? DEFAULT_MAX_FRAME
    this.caps = options.caps ?? []
    this.limits = {
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? DEFAULTS.handshakeTimeoutMs,
      dialTimeoutMs: options.dialTimeoutMs ?? DEFAULTS.dialTimeoutMs,
      keepaliveMs: options.keepaliveMs ?? DEFAULTS.keepaliveMs,
      deadAfterMs: options.deadAfterMs ?? DEFAULTS.deadAfterMs,
      maxHandshaking: options.maxHandshaking ?? DEFAULTS.maxHandshaking,
      maxHandshakingPerSource: options.maxHandshakingPerSource ?? DEFAULTS.maxHandshakingPerSource,
    }
    this.rateLimit = options.rateLimit === undefined ? DEFAULT_RATE_LIMIT : options.rateLimit
    this.checkPeer = options.checkPeer
    this.displayed = options.displayed
    this.dialer = new Dialer({
      transport: this.transport,
      clock: this.clock,
      random: this.random,
      backoff: this.backoff,
      dialTimeoutMs: this.limits.dialTimeoutMs,
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
    this.historyLimit = options.historyLimit ?? 10_000
    if (options.journal) this.journal = options.journal
    this.epoch = options.restored?.epoch ?? this.instance
    if (options.auth) this.auth = options.auth
    const restored = options.restored
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
    if (this.journal && !options.restored?.epoch) void this.persist([{ t: 'self', epoch: this.epoch }])
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
    for (const peer of this.initialPeers) this.connect(peer)
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
    this.remember({ direction: 'out', id: msg.id, seq: msg.seq, ts: msg.ts, from: this.self, body })
    const burst = this.burst ?? this.openBurst()
    burst.size++
    if (burst.size >= MAX_BURST) this.sealBurst()
    return { id: msg.id, seq: msg.seq, ts: msg.ts, durable: burst.promise }
  }

  /** Every member of the room this node knows of: neighbours and the origins relayed to it. */
  members(): MemberInfo[] {
    return this.room.members().map((m) => {
      const session = this.sessions.get(m.peer.id)
      const record = session?.link === undefined ? undefined : this.links.get(session.link)
      const link = record?.link
      const listen = record?.hello?.listen
      const seen = this.lastSeen.get(m.peer.id)
      return {
        peer: m.peer,
        direct: m.direct,
        connected: m.direct ? link !== undefined : m.connected,
        ...(link ? { address: link.remoteAddress } : {}),
        ...(listen ? { listen } : {}),
        ...(seen !== undefined ? { lastSeen: seen } : {}),
      }
    })
  }

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
    this.persist(sealed.map((msg) => ({ t: 'sent' as const, msg })))
      .then(() => {
        this.room.ownDurable(last.seq)
        for (const session of this.sessions.values()) this.pump(session, this.id)
      })
      .then(burst.resolve, burst.reject)
  }

  /** This node as peers see it. */
  get self(): PeerInfo {
    return { id: this.id, name: this.nameValue }
  }

  /** Recent messages in and out, oldest first (restored from the journal, then live). */
  get history(): readonly HistoryEntry[] {
    return this.historyEntries.slice(-this.historyLimit)
  }

  /** Changes the display name used in later handshakes. */
  rename(name: string): void {
    this.nameValue = name
  }

  sessionsSnapshot(): SessionInfo[] {
    return [...this.sessions.values()].map((s) => {
      const link = s.link === undefined ? undefined : this.links.get(s.link)?.link
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
    if (this.turnTimer !== undefined) this.clock.clearTimeout(this.turnTimer)
    for (const record of [...this.links.values()]) this.linkStep(record, { type: 'close', reason })
    this.dialer.closeAll(reason)
    if (wasRunning) await this.listener?.close().catch(() => undefined)
    this.lifecycle = 'closed'
    this.emit({ type: 'closed' })
  }

  // ---- links -------------------------------------------------------------------------------------

  private adopt(link: Link, slot?: DialSlot): LinkRecord | undefined {
    if (this.lifecycle !== 'running') {
      link.destroy()
      return undefined
    }
    const source = slot ? undefined : hostOf(link.remoteAddress)
    const refusal = source === undefined ? undefined : this.admission(source)
    if (refusal) {
      link.destroy()
      this.emit({ type: 'link-error', address: link.remoteAddress, code: 'TOO_MANY', message: refusal })
      return undefined
    }
    const record: LinkRecord = {
      id: this.nextLinkId++,
      link,
      decoder: new FrameDecoder(this.maxFrame),
      state: newLinkState(link.remoteKey),
      lastHeard: this.clock.now(),
      ackDue: false,
      backlog: [],
      blocked: false,
      ...(slot ? { slot } : {}),
      ...(source !== undefined ? { source } : {}),
    }
    this.links.set(record.id, record)
    record.handshakeTimer = this.clock.setTimeout(
      () => this.linkStep(record, { type: 'handshake-timeout' }),
      this.limits.handshakeTimeoutMs,
    )
    // Our hello goes out before anything the transport already buffered is read.
    const listen = formatAddress(this.listenAddress)
    const caps = [`epoch:${this.epoch}`, ROOM_CAP, ...this.caps]
    this.writeTo(
      record,
      makeHello({ id: this.id, name: this.nameValue, instance: this.instance }, caps, listen),
    )
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
    this.processBacklog(record)
    if (error && record.state.status !== 'closed') this.linkStep(record, { type: 'protocol-error', error })
  }

  /**
   * Feeds decoded messages to the link machine while the peer's rate allows. When it does not, the link
   * is paused (TCP pushes back on the sender), the peer is told, and reading resumes once tokens refill.
   */
  private processBacklog(record: LinkRecord): void {
    this.feedBacklog(record)
    this.applyGathered()
  }

  private feedBacklog(record: LinkRecord): void {
    while (record.backlog.length > 0) {
      if (record.state.status === 'closed') {
        record.backlog.length = 0
        return
      }
      const message = record.backlog[0]!
      if (!this.takeTurn(record)) return
      if (message.type === 'msg' && !this.takeToken(record, message)) return
      record.backlog.shift()
      if (message.type === 'hello' && record.hello === undefined) {
        record.hello = {
          peer: { id: message.id, name: message.name },
          ...(message.listen ? { listen: message.listen } : {}),
          epoch: helloCap(message, 'epoch') ?? helloInstance(message),
          relays: message.caps.includes(ROOM_CAP),
        }
        const refusal = record.slot ? undefined : this.checkPeer?.(record.hello.peer.id, message.listen)
        if (refusal) {
          this.linkStep(record, { type: 'protocol-error', error: new ProtocolError('UNTRUSTED', refusal) })
          return
        }
      }
      if (isPlainDelivery(record.state, message)) this.deliver(record, message)
      else this.linkStep(record, { type: 'received', message })
    }
    this.flushAck(record)
  }

  /** Counts one message against this turn's budget; when it is spent the link waits for the next turn. */
  private takeTurn(record: LinkRecord): boolean {
    if (this.turnTaken === 0) {
      const next = () => this.nextTurn()
      if (this.clock.defer) this.clock.defer(next)
      else this.turnTimer = this.clock.setTimeout(next, 0)
    }
    if (this.turnTaken < TURN_BUDGET) {
      this.turnTaken++
      return true
    }
    if (!this.waitingTurn.has(record)) {
      this.waitingTurn.add(record)
      record.link.pause()
    }
    return false
  }

  private nextTurn(): void {
    this.turnTimer = undefined
    this.turnTaken = 0
    const waiting = [...this.waitingTurn]
    this.waitingTurn.clear()
    for (const record of waiting) {
      if (record.state.status === 'closed' || this.lifecycle !== 'running') continue
      // A link the peer's rate limit paused stays paused; its own timer resumes it.
      if (record.throttleTimer === undefined) record.link.resume()
      this.processBacklog(record)
    }
  }

  private takeToken(record: LinkRecord, message: Msg): boolean {
    const limit = this.rateLimit
    const session = record.hello ? this.sessions.get(record.hello.peer.id) : undefined
    if (!limit || !session || session.link !== record.id) return true
    const now = this.clock.now()
    const elapsed = now - session.refilledAt
    session.tokens = Math.min(limit.burst, session.tokens + (elapsed * limit.perSecond) / 1000)
    session.refilledAt = now
    const byteRate = limit.bytesPerSecond
    const byteBurst = byteBurstOf(limit)
    const cost = FIXED_MSG_BYTES + message.body.length + (message.name?.length ?? 0)
    if (byteRate) session.bytes = Math.min(byteBurst, session.bytes + (elapsed * byteRate) / 1000)
    // A message larger than the whole byte burst could never pass: it waits for a full bucket instead.
    const byteCost = Math.min(cost, byteBurst)
    if (session.tokens >= 1 && (!byteRate || session.bytes >= byteCost)) {
      session.tokens -= 1
      if (byteRate) session.bytes -= byteCost
      return true
    }
    if (record.throttleTimer === undefined) {
      const waitMessages = session.tokens >= 1 ? 0 : ((1 - session.tokens) * 1000) / limit.perSecond
      const waitBytes =
        byteRate && session.bytes < byteCost ? ((byteCost - session.bytes) * 1000) / byteRate : 0
      const retryMs = Math.max(1, Math.ceil(Math.max(waitMessages, waitBytes)))
      this.flushAck(record)
      record.link.pause()
      this.writeTo(record, { type: 'throttle', retryMs })
      record.throttleTimer = this.clock.setTimeout(() => {
        record.throttleTimer = undefined
        record.link.resume()
        this.processBacklog(record)
      }, retryMs)
    }
    return false
  }

  private onDrain(record: LinkRecord): void {
    if (!record.blocked) return
    record.blocked = false
    const session = record.hello ? this.sessions.get(record.hello.peer.id) : undefined
    if (!session || session.link !== record.id) return
    this.emit({ type: 'backpressure', peer: session.peer, blocked: false })
    // Acks were held back while the peer did not read; one cumulative ack covers them all.
    record.ackDue = true
    this.flushAck(record)
    this.pump(session)
  }

  /**
   * Why a new inbound link from `source` is refused, if it is: too many from that host still in their
   * handshake. When the node's own cap is full instead, the oldest link in its handshake is dropped to
   * make room: an honest handshake takes milliseconds, so the oldest is the likeliest never to finish, and
   * refusing the newest would keep everyone out until the squatters time out.
   */
  private admission(source: string): string | undefined {
    let total = 0
    let fromSource = 0
    let oldest: LinkRecord | undefined
    for (const record of this.links.values()) {
      if (record.state.status === 'open' || record.source === undefined) continue
      total++
      oldest ??= record
      if (record.source === source) fromSource++
    }
    if (fromSource >= this.limits.maxHandshakingPerSource) {
      return `too many connections from ${source} still in their handshake (limit ${this.limits.maxHandshakingPerSource}); refused`
    }
    if (total >= this.limits.maxHandshaking && oldest) {
      const why = `dropped as the oldest of ${this.limits.maxHandshaking} connections still in their handshake, to let a new one in`
      const address = oldest.link.remoteAddress
      this.linkStep(oldest, { type: 'close', reason: 'too many connections in their handshake' })
      this.emit({ type: 'link-error', address, code: 'TOO_MANY', message: why })
    }
    return undefined
  }

  private linkStep(record: LinkRecord, event: LinkEvent): void {
    const step = linkTransition(record.state, event, this.linkContext)
    if (!step.ok) return
    record.state = step.state
    for (const effect of step.effects) this.performLinkEffect(record, effect)
  }

  private performLinkEffect(record: LinkRecord, effect: LinkEffect): void {
    switch (effect.type) {
      case 'send':
        this.writeTo(record, effect.message)
        return
      case 'cancel-handshake-timer':
        if (record.handshakeTimer !== undefined) this.clock.clearTimeout(record.handshakeTimer)
        record.handshakeTimer = undefined
        return
      case 'open':
        this.openSession(record, effect.peer, effect.instance)
        return
      case 'deliver':
        this.deliver(record, effect.message)
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
      for (const slot of this.slotsFor(session.peer.id)) {
        this.peerStep(slot, {
          type: 'session-lost',
          link: record.id,
          reason: why,
          lastedMs: this.clock.now() - session.openedAt,
          random: this.random(),
        })
      }
    }
    const slot = record.slot
    if (slot?.state.status !== 'handshaking' || slot.state.link !== record.id) return
    if (reason.code === 'DUPLICATE' && peer && session?.link !== undefined) {
      // Our dial reached a peer we already chat with over its own dial: adopt that session.
      slot.peerId = peer.id
      this.peerStep(slot, { type: 'session-open', link: session.link, peer: session.peer })
      return
    }
    this.peerStep(slot, {
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
      const accepted = record.link.write(this.frameOf(message))
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

  /** A chat message's frame is encoded once and reused on every link that carries it. */
  private frameOf(message: Message): Uint8Array {
    if (message.type !== 'msg') return encodeFrame(message, this.maxFrame)
    // With one neighbour a frame goes out once (a resend after a reconnect is rare): nothing to share.
    if (this.sessions.size < 2) return encodeFrame(message, this.maxFrame)
    let frame = this.frames.get(message)
    if (!frame) {
      frame = encodeFrame(message, this.maxFrame)
      this.frames.set(message, frame)
      if (this.frames.size > FRAME_CACHE) this.frames.delete(this.frames.keys().next().value!)
    }
    return frame
  }

  private write(linkId: number, message: Message): void {
    const record = this.links.get(linkId)
    if (record) this.writeTo(record, message)
  }

  // ---- sessions ----------------------------------------------------------------------------------

  private openSession(record: LinkRecord, peer: PeerInfo, instance: string): void {
    const epoch = record.hello?.epoch ?? instance
    let session = this.sessions.get(peer.id)
    if (!session) {
      session = {
        peer,
        instance,
        acked: 0,
        openedAt: 0,
        epoch,
        tokens: this.rateLimit ? this.rateLimit.burst : 0,
        bytes: this.rateLimit ? byteBurstOf(this.rateLimit) : 0,
        refilledAt: this.clock.now(),
        throttledAt: Number.NEGATIVE_INFINITY,
      }
      this.sessions.set(peer.id, session)
      void this.persist([{ t: 'peer', peer, epoch }])
    } else if (session.epoch !== epoch) {
      // The peer restarted without its journal: its seqs start over and it remembers nothing of ours.
      session.epoch = epoch
      session.acked = 0
      this.room.peerRestarted(peer.id)
      void this.persist([{ t: 'peer', peer, epoch }])
    }
    session.openedAt = this.clock.now()
    const previous = session.link
    session.peer = peer
    session.instance = instance
    session.link = record.id
    session.address = record.link.remoteAddress
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
      ...(record.hello?.listen ? { listen: record.hello.listen } : {}),
      ...(sameNameAs.length > 0 ? { sameNameAs } : {}),
    })
    this.announce(peer, 'direct')
    for (const slot of this.slots.values()) {
      const dialedIt = slot.state.status === 'handshaking' && slot.state.link === record.id
      const announced = slot.peerId === undefined && record.hello?.listen === slot.key
      if (dialedIt || announced || slot.peerId === peer.id) {
        slot.peerId = peer.id
        this.peerStep(slot, { type: 'session-open', link: record.id, peer })
      }
    }
    // Resume: tell the peer what we have of every member and where our streams to it start; its
    // first ack on this link says which of ours, and of the room's, to send.
    const relays = record.hello?.relays ?? false
    const opening = this.room.linkOpened(peer.id, { name: peer.name, relays })
    for (const refusal of opening.refusals) this.refuse(refusal)
    const acks = ackFrames(
      { type: 'ack', upTo: this.room.shownOf(peer.id), base: opening.base },
      opening.have,
      opening.bases,
    )
    for (const ack of acks) this.writeTo(record, ack)
  }

  /** Ids of other members whose name looks the same (`nameKey`): never the same person by name alone. */
  private sameNameAs(peer: PeerInfo): string[] {
    const known = [...this.sessions.values()].map((s) => s.peer)
    for (const m of this.room.members()) known.push(m.peer)
    return namesakes(peer, known)
  }

  /** Emits `member` the first time this run that a member shows up, and again under each new name. */
  private announce(peer: PeerInfo, via: 'direct' | 'relay'): void {
    const before = this.announced.get(peer.id)
    if (before === peer.name) return
    this.announced.set(peer.id, peer.name)
    const sameNameAs = this.sameNameAs(peer)
    this.emit({
      type: 'member',
      peer,
      via,
      ...(sameNameAs.length > 0 ? { sameNameAs } : {}),
      ...(before !== undefined ? { renamedFrom: before } : {}),
    })
  }

  /**
   * Writes, in order per member, every durable and verified message the session's link has not carried
   * and its peer does not have: ours, and (if it relays) the room's. `only` limits it to one member.
   */
  private pump(session: Session, only?: string): void {
    if (session.link === undefined) return
    const record = this.links.get(session.link)
    if (!record) return
    const peerId = session.peer.id
    for (const item of this.room.outgoing(peerId, only)) {
      // Stop before writing, never after: the room counts an item as sent once the loop moves past it.
      if (record.blocked || record.state.status !== 'open') return
      if (item.kind === 'msg') this.writeTo(record, item.msg)
      else
        this.writeTo(record, {
          type: 'ack',
          upTo: this.room.shownOf(peerId),
          bases: { [item.origin]: item.seq },
        })
    }
  }

  private deliver(record: LinkRecord, message: Message): void {
    const peerId = record.hello?.peer.id
    const session = peerId ? this.sessions.get(peerId) : undefined
    if (!session || session.link !== record.id) return
    switch (message.type) {
      case 'msg': {
        record.ackDue = true
        // Straight from its origin over a link that proved the origin's key: shown at once.
        const trusted =
          message.from === session.peer.id && (!this.auth || record.link.remoteKey === message.from)
        // Accepted messages gather in one outcome for the whole read; refusals act at once.
        const gathered = this.gatheredOutcome()
        this.room.receive(session.peer.id, message, trusted, gathered)
        if (gathered.refusals.length > 0) for (const r of gathered.refusals.splice(0)) this.refuse(r)
        return
      }
      case 'ack': {
        const outcome = this.room.onAck(session.peer.id, message)
        this.acknowledge(session, message.upTo)
        this.apply(outcome)
        if (outcome.resumed) this.pump(session)
        return
      }
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

  private flushAck(record: LinkRecord): void {
    // What was accepted goes to the journal before the ack that claims it waits on the journal.
    this.applyGathered()
    if (!record.ackDue) return
    record.ackDue = false
    const session = record.hello ? this.sessions.get(record.hello.peer.id) : undefined
    if (!session) return
    // Acks claim only what is durable and shown, so they wait for the journal (one wait per chunk).
    void this.journalChain.then(() => {
      if (session.link !== record.id) return
      const peerId = session.peer.id
      const have = this.room.haveDelta(peerId)
      for (const ack of ackFrames({ type: 'ack', upTo: this.room.shownOf(peerId) }, have))
        this.writeTo(record, ack)
    })
  }

  /**
   * Performs what the room decided: closes the links it refused, persists what it accepted (and any
   * jump past a moved window), then shows each message and relays it to the neighbours that lack it.
   */
  private apply(outcome: RoomOutcome): void {
    for (const refusal of outcome.refusals) this.refuse(refusal)
    if (outcome.accepted.length === 0 && outcome.jumps.length === 0) return
    const gathered = this.gatheredOutcome()
    gathered.accepted.push(...outcome.accepted)
    gathered.jumps.push(...outcome.jumps)
    gathered.joined.push(...outcome.joined)
  }

  private gatheredOutcome(): RoomOutcome {
    if (!this.gathered) this.gathered = { accepted: [], jumps: [], joined: [], refusals: [] }
    return this.gathered
  }

  /**
   * Persists, then shows and relays, what the room accepted from the frames read so far: once per read,
   * not once per message, so a burst costs one journal append and one pass over the neighbours.
   */
  private applyGathered(): void {
    const gathered = this.gathered
    if (!gathered) return
    this.gathered = undefined
    const { accepted, jumps, joined } = gathered
    if (accepted.length === 0 && jumps.length === 0) return
    const records: JournalRecord[] = jumps.map((j) => ({ t: 'base' as const, peer: j.peer, seq: j.seq }))
    for (const msg of accepted) records.push({ t: 'received', msg, name: this.sentAs(msg).name })
    void this.persist(records).then(() => {
      for (const peer of joined) this.announce(peer, 'relay')
      const origins = new Set<string>()
      for (const msg of accepted) {
        this.room.markShown(msg.from, msg.seq)
        this.lastSeen.set(msg.from, this.clock.now())
        const member = this.memberOf(msg)
        // A member that signs a message under a new name is announced again, with the clash check.
        this.announce(member, this.sessions.get(member.id)?.link !== undefined ? 'direct' : 'relay')
        const from = this.sentAs(msg)
        this.remember({ direction: 'in', id: msg.id, seq: msg.seq, ts: msg.ts, from, body: msg.body })
        this.emit({ type: 'message', id: msg.id, seq: msg.seq, ts: msg.ts, from, body: msg.body })
        origins.add(msg.from)
      }
      for (const session of this.sessions.values()) for (const origin of origins) this.pump(session, origin)
    })
  }

  /** The sender under the name it signed the message with (a later rename does not rewrite the past). */
  private sentAs(msg: Msg): PeerInfo {
    return msg.name === undefined
      ? this.memberOf(msg)
      : { id: msg.from, name: shownName(msg.name, msg.from.slice(0, 8)) }
  }

  private memberOf(msg: Msg): PeerInfo {
    const fallback = msg.from.slice(0, 8)
    return this.room.peerOf(msg.from) ?? { id: msg.from, name: shownName(msg.name ?? fallback, fallback) }
  }

  /** A neighbour broke the room's rules (forged, flooded, too many members): its link is closed and reported. */
  private refuse(refusal: Refusal): void {
    const session = this.sessions.get(refusal.neighbor)
    const record = session?.link === undefined ? undefined : this.links.get(session.link)
    if (!record) return
    const error = new ProtocolError(refusal.code, refusal.message)
    this.linkStep(record, { type: 'protocol-error', error })
  }

  /** Messages the journal holds but no frontend showed before the last run ended (it was killed). */
  private showUnshown(): void {
    const displayed = this.displayed
    if (!displayed) return
    for (const entry of this.historyEntries) {
      if (entry.direction !== 'in') continue
      const mark = displayed.get(entry.from.id) ?? 0
      if (entry.seq > mark) {
        this.emit({
          type: 'message',
          id: entry.id,
          seq: entry.seq,
          ts: entry.ts,
          from: entry.from,
          body: entry.body,
          replayed: true,
        })
      }
    }
  }

  /** Appends to the journal in call order; without a journal, resolves in order at once. */
  private persist(records: JournalRecord[]): Promise<void> {
    const journal = this.journal
    // Without a journal the chain never fails: callbacks on it run in the order they were added.
    if (!journal) return this.journalChain
    const write = journal.append(records)
    const done = this.journalChain.then(
      () => write,
      () => write,
    )
    this.journalChain = done.catch((error: unknown) => {
      this.emit({ type: 'journal-error', message: error instanceof Error ? error.message : String(error) })
    })
    return done
  }

  private remember(entry: HistoryEntry): void {
    this.historyEntries.push(entry)
    if (this.historyEntries.length > this.historyLimit * 2) {
      this.historyEntries.splice(0, this.historyEntries.length - this.historyLimit)
    }
  }

  private adoptRestored(restored: RestoredState): void {
    for (const p of restored.peers.values()) {
      if (!p.neighbor) continue
      this.sessions.set(p.peer.id, {
        peer: p.peer,
        instance: '',
        acked: p.acked,
        openedAt: 0,
        epoch: p.epoch,
        tokens: this.rateLimit ? this.rateLimit.burst : 0,
        bytes: this.rateLimit ? byteBurstOf(this.rateLimit) : 0,
        refilledAt: this.clock.now(),
        throttledAt: Number.NEGATIVE_INFINITY,
      })
    }
    this.historyEntries.push(...restored.history.slice(-this.historyLimit))
  }

  private acknowledge(session: Session, upTo: number): void {
    if (upTo <= session.acked) return
    const from = session.acked
    session.acked = Math.min(upTo, this.room.nextSeq - 1)
    const newlyAcked = this.room.outboxBetween(from, session.acked)
    this.settle()
    void this.persist([{ t: 'acked', peer: session.peer, upTo: session.acked }])
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

  // ---- dialing -----------------------------------------------------------------------------------

  private get slots(): Map<string, DialSlot> {
    return this.dialer.slots
  }

  private slotsFor(peerId: string): DialSlot[] {
    return this.dialer.slotsFor(peerId)
  }

  private peerStep(slot: DialSlot, event: PeerEvent): void {
    this.dialer.step(slot, event)
  }

  // ---- keepalive ---------------------------------------------------------------------------------

  /**
   * Silence is checked far more often than pings go out, so a dead link is dropped within a twentieth of
   * `deadAfterMs` after it went quiet for that long, not up to a whole ping interval later.
   */
  private scheduleKeepalive(): void {
    const tick = Math.max(10, Math.min(this.limits.keepaliveMs, Math.floor(this.limits.deadAfterMs / 20)))
    this.keepaliveTimer = this.clock.setTimeout(() => {
      this.keepalive()
      if (this.lifecycle === 'running') this.scheduleKeepalive()
    }, tick)
  }

  private keepalive(): void {
    const now = this.clock.now()
    const ping = now - this.lastPingAt >= this.limits.keepaliveMs
    if (ping) this.lastPingAt = now
    for (const record of [...this.links.values()]) {
      if (record.state.status !== 'open') continue
      if (now - record.lastHeard >= this.limits.deadAfterMs) {
        const error = new ProtocolError('SILENT', `peer sent nothing for ${this.limits.deadAfterMs} ms`)
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

function byteBurstOf(limit: RateLimit): number {
  return limit.byteBurst ?? (limit.bytesPerSecond ?? 0) * 4
}

/** The hello capability of nodes that relay the room (and take relayed messages). */
export const ROOM_CAP = 'room'

/** An ack, split over several frames when its `have` or `bases` map is long; opening acks mark all but the last. */
function ackFrames(ack: Ack, have: Record<string, number> = {}, bases: Record<string, number> = {}): Ack[] {
  const haves = chunks(Object.entries(have))
  const baseChunks = chunks(Object.entries(bases))
  const count = Math.max(1, haves.length, baseChunks.length)
  const opening = ack.base !== undefined
  const frames: Ack[] = []
  for (let i = 0; i < count; i++) {
    const frame: Ack = { ...ack }
    if (haves[i]) frame.have = Object.fromEntries(haves[i]!)
    if (baseChunks[i]) frame.bases = Object.fromEntries(baseChunks[i]!)
    if (opening && i < count - 1) frame.more = true
    frames.push(frame)
  }
  return frames
}

function chunks<T>(items: T[]): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += MAX_ORIGINS_PER_ACK)
    out.push(items.slice(i, i + MAX_ORIGINS_PER_ACK))
  return out
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
