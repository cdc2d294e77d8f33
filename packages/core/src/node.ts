/**
 * The peer runtime: one node listening on its own address and dialing its peers at the same time. It
 * composes parts with one job each (`Links` with the link table and the inbound gate, the `Dialer`,
 * `Sessions`, `Persistence`, and `SessionTraffic`, which carries out what the room decides in one place)
 * around the pure link machines and the room; what is left here is the node's lifecycle and when
 * sessions open and close. One session per remote node id, so it holds many peers at once and relays
 * the room between them.
 */
import type { Address } from './address.js'
import { type Clock, systemClock } from './clock.js'
import { DEFAULT_MAX_FRAME, encodeFrame } from './codec.js'
import { waitForDelivery } from './delivery.js'
import { Dialer, type DialSlot } from './dialer.js'
import { ProtocolError } from './errors.js'
import { DEFAULT_RATE_LIMIT, FIXED_MSG_BYTES } from './inbound-gate.js'
import { DEFAULT_WINDOW, type HistoryEntry, type RestoredState, restoredRoom } from './journal.js'
import { type LinkCloseReason, makeHello, UNLINK_REASON } from './link-machine.js'
import { HERE_CAP, type LinkHost, type LinkRecord, Links, LOST_CAP, NAMED_CAP, ROOM_CAP } from './links.js'
import {
  framedBytes,
  LINES_PER_MSG_CHARS,
  LINES_PER_MSG_FRAMED_BYTES,
  LINES_PER_MSG_SHOWN_BYTES,
  shownLineBytes,
  textGrowth,
} from './msg-lines.js'
import { oneSpaced } from './names.js'
import {
  type ChatNode,
  type MemberInfo,
  NODE_DEFAULTS,
  type NodeEvent,
  type NodeOptions,
  type SendOptions,
  type SentMessage,
  type SessionInfo,
} from './node-types.js'
import { Bursts } from './outbound.js'
import { DEFAULT_BACKOFF, isRefusal, type PeerInfo, type PeerState } from './peer-machine.js'
import { DEFAULT_HISTORY_LIMIT, Persistence } from './persistence.js'
import { platform } from './platform.js'
import { Presence, presenceAvailable } from './presence.js'
import { type RandomFill, randomHex, webCryptoFill } from './random-id.js'
import type { MessageAuth, RoomEffect } from './room.js'
import { MEMBER_DEFAULTS, MemberRoom, Roster } from './roster.js'
import {
  SAME_KEY,
  SAME_KEY_REFUSED_REASON,
  SAME_KEY_REPLACED_REASON,
  type SameKeyAddress,
  type SameKeyReport,
  SameKeyWatch,
} from './same-key.js'
import { MAX_BODY_LENGTH } from './schema.js'
import { SessionTraffic, type TrafficHooks } from './session-traffic.js'
import { Sessions } from './sessions.js'
import type { Listener, Transport } from './transport.js'

export { HERE_CAP, LOST_CAP, ROOM_CAP } from './links.js'
export { MAX_BURST } from './outbound.js'

/** Bytes kept free in a frame for the chain hash, the signature and a relay's hop count. */
const SEAL_ROOM = 600

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
  private readonly fill: RandomFill
  private readonly maxFrame: number
  private readonly listeners = new Set<(event: NodeEvent) => void>()
  private readonly links: Links
  private readonly dialer: Dialer
  private readonly sessions: Sessions
  /** Who has which message of which member, and what each link still has to carry. */
  private readonly room: MemberRoom
  private readonly auth?: MessageAuth
  private readonly store: Persistence
  private readonly bursts: Bursts
  private readonly roster: Roster
  /** What flows over open sessions: the room's inputs and effects, acks, the pump. */
  private readonly traffic: SessionTraffic
  /** Which process holds each neighbour's key: two live ones are told, and kept from taking turns. */
  private readonly sameKey: SameKeyWatch
  /** Who is in the room, lurkers included (`here` frames); undefined when this node takes no part. */
  private readonly presence?: Presence
  private presenceTimer: unknown
  /** A peer said another node runs with this node's key (told once). */
  private keyInUseTold = false
  private listenAddress: Address
  private listener?: Listener
  private lifecycle: Lifecycle = 'new'
  /** Whether this run looked for a line its last run left open (`endLineLeftOpen`). */
  private lineLeftOpenChecked = false
  /** Origins whose accepted messages wait to be relayed once the reads of this turn are in. */
  private readonly relayDue = new Set<string>()
  private relayScheduled = false

  constructor(options: NodeOptions) {
    this.options = options
    this.transport = options.transport
    this.nameValue = options.name
    this.listenAddress = options.listen
    this.clock = options.clock ?? systemClock
    this.random = options.random ?? Math.random
    this.maxFrame = options.maxFrame ?? DEFAULT_MAX_FRAME
    this.fill = options.randomBytes ?? webCryptoFill
    this.id = options.id ?? randomHex(16, this.fill)
    this.instance = randomHex(8, this.fill)
    const restored = options.restored
    this.epoch = restored?.epoch ?? this.instance
    if (options.auth) this.auth = options.auth
    const hooks = new ParleyNode.NodeHooks(this)
    this.links = new Links(hooks, {
      maxFrame: this.maxFrame,
      rateLimit: options.rateLimit === undefined ? DEFAULT_RATE_LIMIT : options.rateLimit,
      limits: {
        ...(options.maxHandshaking !== undefined ? { max: options.maxHandshaking } : {}),
        ...(options.maxHandshakingPerSource !== undefined
          ? { maxPerSource: options.maxHandshakingPerSource }
          : {}),
      },
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? NODE_DEFAULTS.handshakeTimeoutMs,
      keepaliveMs: options.keepaliveMs ?? NODE_DEFAULTS.keepaliveMs,
      deadAfterMs: options.deadAfterMs ?? NODE_DEFAULTS.deadAfterMs,
    })
    this.sessions = new Sessions(() => this.links.newBucket())
    this.sameKey = new SameKeyWatch((report) => this.sameKeyFound(report))
    this.dialer = new Dialer({
      transport: this.transport,
      clock: this.clock,
      random: this.random,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      dialTimeoutMs: options.dialTimeoutMs ?? NODE_DEFAULTS.dialTimeoutMs,
      adopt: (link, slot) => this.links.adopt(link, slot)?.id,
      closeLink: (id, reason) => this.links.close(id, reason),
      stateChanged: (slot) => this.emit({ type: 'peer-state', target: slot.key, state: slot.state }),
      dialFailed: (slot, code, message) => this.emit({ type: 'dial-error', target: slot.key, code, message }),
      ...(options.pinnedAt ? { pinnedAt: options.pinnedAt } : {}),
    })
    const journalFailed = (message: string) => this.emit({ type: 'journal-error', message })
    const historyLimit = options.historyLimit ?? DEFAULT_HISTORY_LIMIT
    this.store = new Persistence(
      options.journal,
      historyLimit,
      journalFailed,
      options.journalQuota,
      {
        self: { id: this.id, name: this.nameValue },
        windowSize: options.windowSize ?? DEFAULT_WINDOW,
        compacted: (report) => this.emit({ type: 'journal-compacted', ...report }),
        failed: (message) => this.emit({ type: 'journal-compaction-failed', message }),
      },
      this.clock,
    )
    this.bursts = new Bursts(() => this.sealBurst())
    const { windowSize, maxOrigins, waitingCap, budgets, maxNeighbors, hopLimit } = options
    this.room = new MemberRoom(
      {
        ...{ windowSize, maxOrigins, waitingCap, budgets, maxNeighbors, hopLimit },
        self: { id: this.id, name: this.nameValue },
        auth: options.auth,
      },
      restored && restoredRoom(restored),
    )
    this.roster = new Roster(this.room, this.sessions, {
      vouchAfterMs: options.memberVouchMs ?? MEMBER_DEFAULTS.vouchAfterMs,
      idleMs: options.memberIdleMs ?? MEMBER_DEFAULTS.idleMs,
      dials: (peerId) => this.dialer.dials(peerId),
      now: () => this.clock.now(),
      reachOf: (peerId) => {
        const record = this.traffic.linkOf(this.sessions.get(peerId))
        return record && { link: record.link, listen: record.hello?.listen }
      },
      self: () => ({ id: this.id, name: this.nameValue }),
      present: (here) => this.presence?.present(here),
    })
    if (options.presence !== false && presenceAvailable(options.auth)) {
      this.presence = new Presence(
        {
          room: this.room,
          roster: this.roster,
          clock: this.clock,
          auth: options.auth,
          self: () => this.self,
          takers: () => this.presenceTakers(),
          lostTakers: () => this.presenceTakers(true),
          emit: (event) => this.emit(event),
        },
        options.presence,
      )
    }
    this.traffic = new SessionTraffic(
      {
        room: this.room,
        roster: this.roster,
        sessions: this.sessions,
        links: this.links,
        store: this.store,
        clock: this.clock,
        signed: this.auth !== undefined,
        runs: options.runs ?? false,
        presence: this.presence,
      },
      hooks,
    )
    if (restored) this.adoptRestored(restored)
    if (this.store.durable && !restored?.epoch) void this.store.append([{ t: 'self', epoch: this.epoch }])
  }

  get name(): string {
    return this.nameValue
  }

  /** The address the node really listens on (port 0 resolved), once started. */
  get address(): Address {
    return this.listenAddress
  }

  /** Lines sent by this node that some peer has not acknowledged yet (`sendLines` may carry several in a message). */
  get pending(): number {
    return this.room.pendingLines
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
    const listener = this.transport.createListener((link) => this.links.adopt(link))
    try {
      this.listenAddress = await listener.listen(this.listenAddress)
    } catch (error) {
      this.lifecycle = 'closed'
      throw error
    }
    this.listener = listener
    this.lifecycle = 'running'
    this.emit({ type: 'listening', address: this.listenAddress })
    this.showUnshown()
    for (const peer of this.options.peers ?? []) this.connect(peer)
    this.links.startKeepalive()
    this.schedulePresence()
    return this.listenAddress
  }

  /** Says this node is there every `everyMs` (and forgets presences that expired meanwhile). */
  private schedulePresence(): void {
    const presence = this.presence
    if (!presence) return
    this.presenceTimer = this.clock.setTimeout(() => {
      this.presenceTimer = undefined
      if (this.lifecycle !== 'running') return
      presence.expire()
      this.traffic.perform(presence.sayToAll('here'))
      this.schedulePresence()
    }, presence.everyMs)
  }

  /** Open neighbours that take presence (their hello has the `here` cap), and with `lost`, notices of lost links too. */
  private *presenceTakers(lost = false): Generator<string> {
    for (const session of this.sessions.values()) {
      const hello = this.traffic.linkOf(session)?.hello
      if (hello?.here && (!lost || hello.lost)) yield session.peer.id
    }
  }

  /** Starts dialing another peer (and keeps redialing it until it answers). Dialing the same address twice is a no-op. */
  connect(target: Address): void {
    if (this.lifecycle !== 'running') throw new Error('the node is not running')
    this.dialer.add(target)
  }

  /**
   * Stops dialing `target` (as given to `connect` or `peers`) and closes the link that dial made, if it
   * made the one it holds: a mistyped or retired address no longer holds the outbox for whoever might
   * answer there. A peer reached there is waited for no more, like a peer that dialed in and left: it
   * catches up from the window when it comes back. False when the node does not dial `target`.
   */
  disconnect(target: Address): boolean {
    if (this.lifecycle !== 'running') return false
    const dialedBy = (link: number, slot: DialSlot) => this.links.get(link)?.slot === slot
    if (!this.dialer.remove(target, UNLINK_REASON, dialedBy)) return false
    this.traffic.settle()
    return true
  }

  /**
   * Sends each body as a line of its own, in order, all or none (a line too long for a frame of this
   * node's throws before any is sent). Lines are carried together in one message (`msg.lines`), which
   * receivers show and keep as a message per line, while they hold at most `LINES_PER_MSG_CHARS`
   * characters, fit one write of a receiver's line display prefixes included (`LINES_PER_MSG_SHOWN_BYTES`),
   * and take at most `LINES_PER_MSG_FRAMED_BYTES` in a frame of this node's; a body that holds a newline,
   * or alone exceeds a bound, goes as a message alone.
   */
  sendLines(bodies: readonly string[]): void {
    this.checkOpen()
    for (const body of bodies) {
      checkBodyLength(body)
      this.proveFits(body)
    }
    this.endLineLeftOpen()
    // What each line takes besides its text: shown (the prefix), and in a frame (its escaped newline),
    // where the message's own fields and their escapes are set aside first.
    const shownFrame = shownLineBytes(this.nameValue, '')
    const frameRoom = this.frameLimit() - FIXED_MSG_BYTES - 6 * (this.nameValue.length + this.id.length) - 32
    // A message's characters need no count of their own: a line's text takes at least as many bytes in
    // the frame as it has characters, and LINES_PER_MSG_FRAMED_BYTES is no more than LINES_PER_MSG_CHARS.
    const framedRoom = Math.min(frameRoom, LINES_PER_MSG_FRAMED_BYTES)
    let start = 0
    let shown = 0
    let framed = 0
    for (let i = 0; i < bodies.length; i++) {
      const body = bodies[i] as string
      const growth = textGrowth(body)
      const lineShown = shownFrame + (growth === 6 ? 6 : 1) * body.length
      const lineFramed = framedBytes(body, growth) + 2
      const alone =
        body.length >= LINES_PER_MSG_CHARS ||
        lineShown > LINES_PER_MSG_SHOWN_BYTES ||
        lineFramed > frameRoom ||
        (growth === 6 && body.includes('\n'))
      if (
        alone ||
        (i > start && (shown + lineShown > LINES_PER_MSG_SHOWN_BYTES || framed + lineFramed > framedRoom))
      ) {
        this.sendTogether(bodies, start, i)
        start = i
        shown = 0
        framed = 0
      }
      if (alone) {
        this.compose(body, undefined)
        start = i + 1
        continue
      }
      shown += lineShown
      framed += lineFramed
    }
    this.sendTogether(bodies, start, bodies.length)
  }

  /**
   * Sends a chat message to every peer; peers not connected yet get it when they connect. `more`: its
   * last line goes on in the next message (a line too long for one, sent in parts).
   */
  send(body: string, options?: SendOptions): SentMessage {
    this.checkOpen()
    checkBodyLength(body)
    this.endLineLeftOpen()
    return this.compose(body, undefined, options?.more === true)
  }

  /**
   * A run that ended between two parts of a line (`more`) left that line open at every receiver, where the
   * next message would run on in it: before this run's first message, an empty last part ends it.
   */
  private endLineLeftOpen(): void {
    if (this.lineLeftOpenChecked) return
    this.lineLeftOpenChecked = true
    if (this.history.findLast((entry) => entry.direction === 'out')?.more === true)
      this.compose('', undefined)
  }

  private checkOpen(): void {
    if (this.lifecycle === 'closing' || this.lifecycle === 'closed') throw new Error('the node is closed')
  }

  /** Bodies `start` to `end` (each one line) as one message, or as a message alone when there is one. */
  private sendTogether(bodies: readonly string[], start: number, end: number): void {
    if (end - start === 1) this.compose(bodies[start] as string, undefined)
    else if (end - start > 1) this.compose(bodies.slice(start, end).join('\n'), end - start)
  }

  private compose(body: string, lines: number | undefined, more = false): SentMessage {
    const fields = { id: randomHex(8, this.fill), ts: this.clock.now(), body, name: this.nameValue }
    this.proveFits(body, lines, more)
    const msg = this.room.compose({
      ...fields,
      ...(lines === undefined ? {} : { lines }),
      ...(more ? { more: true as const } : {}),
    })
    const { id, seq, ts } = msg
    const entry: HistoryEntry = {
      direction: 'out',
      id,
      seq,
      ts,
      from: this.self,
      body,
      ...(more ? { more } : {}),
    }
    if (lines === undefined) this.store.remember(entry)
    else this.store.rememberLines(entry, lines)
    return { id, seq, ts, durable: this.bursts.add() }
  }

  /** The most bytes a frame of ours may take before sealing adds to it. */
  private frameLimit(): number {
    return this.maxFrame - (this.auth ? SEAL_ROOM : 0)
  }

  /**
   * Throws `FRAME_TOO_LARGE` unless a message of `body` fits one frame, with room for what sealing adds. A
   * JSON string takes at most 6 bytes per UTF-16 unit (\uXXXX), so most bodies are proven to fit without
   * being encoded at all.
   */
  private proveFits(body: string, lines?: number, more = false): void {
    const limit = this.frameLimit()
    if (6 * (body.length + this.nameValue.length + this.id.length) + FIXED_MSG_BYTES + 32 <= limit) return
    const msg = {
      type: 'msg' as const,
      seq: this.room.nextSeq,
      from: this.id,
      // As long as the message's own will be: 16 hex digits.
      id: 'f'.repeat(16),
      ts: this.clock.now(),
      body,
      name: this.nameValue,
    }
    encodeFrame({ ...msg, ...(lines === undefined ? {} : { lines }), ...(more ? { more } : {}) }, limit)
  }

  /** Every member of the room this node knows of: neighbours and the origins relayed to it. */
  members(): MemberInfo[] {
    return this.roster.list()
  }

  /** Changes the display name used in later handshakes. */
  rename(name: string): void {
    this.nameValue = name
    // Lurkers' names are known by their presence: the room hears the new one at once.
    if (this.presence && this.lifecycle === 'running') this.traffic.perform(this.presence.sayToAll('here'))
  }

  sessionsSnapshot(): SessionInfo[] {
    return [...this.sessions.values()].map((s) => {
      const link = this.traffic.linkOf(s)?.link
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

  /** Every message is acknowledged by its peers (`whenDelivered`): nothing is left to settle. */
  finishSending(_timeoutMs: number): Promise<number> {
    return Promise.resolve(0)
  }

  /**
   * What each neighbour's link makes this node hold (reorder buffers, watermarks), against the budgets,
   * and what the other members' windows hold together (`windows`, bytes; at most `WINDOWS_TOTAL_BYTES`).
   */
  held() {
    return this.room.held()
  }

  /** Says `bye` on every link, stops listening and dialing, and releases every timer. */
  async close(reason = 'quit'): Promise<void> {
    if (this.lifecycle === 'closing' || this.lifecycle === 'closed') return
    const wasRunning = this.lifecycle === 'running'
    this.lifecycle = 'closing'
    this.dialer.stop()
    if (this.presenceTimer !== undefined) this.clock.clearTimeout(this.presenceTimer)
    this.presenceTimer = undefined
    this.presence?.stop()
    // Said before each bye, on the same links: members further away are told this node left.
    if (this.presence && wasRunning) this.traffic.perform(this.presence.sayToAll('gone', [], reason))
    this.traffic.stop()
    this.links.closeAll(reason)
    this.dialer.closeAll(reason)
    if (wasRunning) await this.listener?.close().catch(() => undefined)
    // What was taken is on disk before `closed`: the burst of the last lines sent seals in a microtask
    // queued before this one (awaited first), then the journal settles with it and the acks' watermarks.
    await undefined
    await this.store.close()
    this.lifecycle = 'closed'
    this.emit({ type: 'closed' })
  }

  /** Signs the burst of our messages just sent, makes it durable, then lets it go out. */
  private sealBurst(): Promise<void> {
    const sealed = this.room.seal()
    const last = sealed.at(-1)
    if (!last) return Promise.resolve()
    return this.store.append(sealed.map((msg) => ({ t: 'sent' as const, msg }))).then(() => {
      this.room.ownDurable(last.seq)
      for (const session of this.sessions.values()) this.traffic.pump(session, this.id)
    })
  }

  // ---- what the links hand over -------------------------------------------------------------------

  /**
   * What the links and the session traffic call back into the node, as one object whose methods live on
   * a class: the hot paths (deliver, perform, readDone, emit) then call the same functions for every node
   * in the process, so code the engine optimized for one node still fits the next instead of being
   * compiled again.
   */
  private static readonly NodeHooks = class implements LinkHost, TrafficHooks {
    readonly clock: Clock
    readonly context: LinkHost['context']
    constructor(private readonly node: ParleyNode) {
      this.clock = node.clock
      this.context = { self: { id: node.id }, openSession: (peerId) => node.openSessionOf(peerId) }
    }
    running(): boolean {
      return this.node.lifecycle === 'running'
    }
    hello(): ReturnType<LinkHost['hello']> {
      const node = this.node
      // Our messages so far carry older names than this hello may: the peer is told where they end.
      const named = `${NAMED_CAP}:${node.room.nextSeq - 1}`
      const caps = [`epoch:${node.epoch}`, ROOM_CAP, named]
      if (node.presence) caps.push(HERE_CAP)
      if (node.presence?.takesLost) caps.push(LOST_CAP)
      caps.push(...(node.options.caps ?? []))
      const self = { id: node.id, name: node.nameValue, instance: node.instance }
      return makeHello(self, caps, node.listenAddress)
    }
    checkPeer(record: LinkRecord, hello: Parameters<LinkHost['checkPeer']>[1]): string | undefined {
      return record.slot ? undefined : this.node.options.checkPeer?.(hello.id, hello.listen)
    }
    checkInstance(record: LinkRecord): string | undefined {
      return this.node.checkInstance(record)
    }
    bucketOf(record: LinkRecord): ReturnType<LinkHost['bucketOf']> {
      return this.node.traffic.sessionOf(record)?.bucket
    }
    shareFrames(): boolean {
      return this.node.sessions.size > 1
    }
    opened(record: LinkRecord, peer: PeerInfo, instance: string): void {
      this.node.openSession(record, peer, instance)
    }
    deliver(record: LinkRecord, message: Parameters<LinkHost['deliver']>[1], effects: RoomEffect[]): void {
      this.node.traffic.deliver(record, message, effects)
    }
    perform(effects: RoomEffect[]): void {
      this.node.traffic.perform(effects)
      this.node.relayAhead(effects)
    }
    readDone(record: LinkRecord): void {
      this.node.traffic.flushAck(record)
    }
    settled(): Promise<void> {
      return this.node.store.settled()
    }
    drained(record: LinkRecord): void {
      this.node.drained(record)
    }
    closed(record: LinkRecord, reason: LinkCloseReason): void {
      this.node.linkClosed(record, reason)
    }
    emit(event: NodeEvent): void {
      this.node.emit(event)
    }
    renamed(peer: PeerInfo): void {
      this.node.dialer.renamed(peer)
    }
    waitsFor(peerId: string): boolean {
      return this.node.dialer.mayDial(peerId)
    }
    dials(peerId: string): boolean {
      return this.node.dialer.dials(peerId)
    }
    dialsUnanswered(): boolean {
      return this.node.dialer.unanswered
    }
  }

  /** The session a peer's link would join, if one is open: its instance. */
  private openSessionOf(peerId: string): { instance: string } | undefined {
    const session = this.sessions.get(peerId)
    return session?.link !== undefined ? { instance: session.instance } : undefined
  }

  /**
   * Forwards what the room just accepted without waiting for the journal: a neighbour that sent us a
   * message keeps it until our ack, and acks and showing still wait for the journal, so a crash before
   * the flush loses nothing here and shows nothing twice. Waiting would add one flush per hop. It goes
   * out once the I/O already waiting has been read (`Clock.defer`), not from inside the read that brought
   * it: a copy of the same message that another neighbour sent meanwhile says that neighbour has it, and
   * it is not sent back. The next hop reads it no later for that: what a turn writes is read in the next.
   */
  private relayAhead(effects: readonly RoomEffect[]): void {
    const due = this.relayDue
    const before = due.size
    for (const effect of effects) if (effect.type === 'accept') due.add(effect.msg.from)
    if (due.size === before || this.relayScheduled) return
    this.relayScheduled = true
    const relay = () => {
      this.relayScheduled = false
      const origins = [...due]
      due.clear()
      if (this.lifecycle !== 'running') return
      for (const session of this.sessions.values())
        for (const origin of origins) this.traffic.pump(session, origin)
    }
    if (this.clock.defer) this.clock.defer(relay)
    else platform.queueMicrotask(relay)
  }

  private openSession(record: LinkRecord, peer: PeerInfo, instance: string): void {
    const refusal = this.room.admitNeighbor(peer.id, record.slot !== undefined)
    if (refusal) {
      this.traffic.refuse(refusal, record)
      return
    }
    const epoch = record.hello?.epoch ?? instance
    this.roster.connecting(peer.id)
    const opening = this.sessions.open(record.id, peer, instance, epoch, this.clock.now())
    if (opening.restarted) this.room.peerRestarted(peer.id)
    if (opening.created || opening.restarted) {
      // A reset records how far the old numbering went, so that after a restart of this node the member's
      // new messages still reach it through relays (`Origin.resetAfter`).
      const after = opening.restarted ? this.room.resetAfterOf(peer.id) : undefined
      void this.store.append([{ t: 'peer', peer, epoch, ...(after !== undefined ? { after } : {}) }])
    }
    const cameBack = this.sameKey.cameBack(peer.id, instance)
    const took = this.sameKey.opened(peer.id, instance, whereOf(record), this.clock.now())
    // The old link is replaced, not lost: the session already points at the new one when it closes. A
    // process that reads the bye of a link another instance took is alive: another node has its key.
    if (opening.replaced !== undefined) {
      if (took === undefined) this.links.close(opening.replaced, 'replaced by a newer link')
      else this.links.close(opening.replaced, SAME_KEY_REPLACED_REASON, SAME_KEY)
    }
    const sameNameAs = this.roster.sameNameAs(peer)
    this.emit({
      type: 'connected',
      peer,
      address: record.link.remoteAddress,
      direction: record.link.direction,
      ...(record.hello?.listen ? { listen: record.hello.listen } : {}),
      ...(sameNameAs.length > 0 ? { sameNameAs } : {}),
      ...(this.dialer.refused(peer.id) ? { afterRefusal: true as const } : {}),
      // A run that lost the key's link to another and takes it back is no restart (the same-key warning
      // says what it is): only that a new link replaced the old one.
      ...(opening.replaced !== undefined
        ? { replaced: cameBack ? 'relinked' : replacedBy(opening.replacedInstance, instance) }
        : {}),
    })
    this.traffic.announce(peer, 'direct')
    this.dialer.opened(record.id, peer, record.hello?.listen)
    // A dialed address that answered for the first time may let the outbox settle (acks came before).
    this.traffic.settle()
    // Resume: tell the peer what we have of every member and where our streams to it start; its
    // first ack on this link says which of ours, and of the room's, to send.
    const effects = this.room.linkOpened(peer.id, {
      name: peer.name,
      relays: record.hello?.relays ?? false,
      namedUpTo: record.hello?.namedUpTo,
      // Its catch-up shares an allowance with every key that dials in from there.
      source: record.slot ? undefined : (record.link.source ?? record.link.remoteAddress),
    })
    // Who is there, lurkers included, for a neighbour that takes presence (never for an earlier release).
    if (this.presence && record.hello?.here)
      this.presence.opened(peer.id, effects, record.hello.lost === true)
    this.traffic.perform(effects)
  }

  /**
   * A hello came from a process of a neighbour's key that lost the key's link to another one still there:
   * it is turned away (its bye says why). Undefined lets it in.
   */
  private checkInstance(record: LinkRecord): string | undefined {
    const hello = record.hello
    if (!hello) return undefined
    const verdict = this.sameKey.hello(hello.peer.id, hello.instance, whereOf(record), this.clock.now())
    return verdict.ok ? undefined : SAME_KEY_REFUSED_REASON
  }

  /** Two live nodes run with one neighbour's key: told once per key. */
  private sameKeyFound(report: SameKeyReport): void {
    const peer = this.sessions.get(report.peerId)?.peer
    if (!peer) return
    this.emit({ type: 'same-key', peer, addresses: report.addresses })
  }

  /** A peer says another node runs with this node's key: told once. */
  private keyInUse(peer: PeerInfo | undefined): void {
    if (this.keyInUseTold || !peer) return
    this.keyInUseTold = true
    this.emit({ type: 'key-in-use', peer })
  }

  private linkClosed(record: LinkRecord, reason: LinkCloseReason): void {
    const peer = record.hello?.peer
    const session = peer ? this.sessions.get(peer.id) : undefined
    if (reason.code === 'BYE' && reason.remoteCode === SAME_KEY) this.keyInUse(peer ?? session?.peer)
    if (session && session.link === record.id) {
      session.link = undefined
      this.sameKey.ended(
        session.peer.id,
        record.hello?.instance ?? session.instance,
        reason.code === 'BYE',
        this.clock.now(),
      )
      // A peer that said bye left, unless it closed this one link (`/disconnect`), or dropped it for hearing
      // nothing from this node (stopped, asleep, cut off), which it says with the code `SILENT`.
      const heardNothing = reason.code === 'BYE' && reason.remoteCode === 'SILENT'
      const left = reason.code === 'BYE' && reason.message !== UNLINK_REASON && !heardNothing
      this.room.linkClosed(session.peer.id, left)
      // Its link broke (no bye): it may have died without its `gone`, which the members behind this node
      // would otherwise wait out for as long as its presence lasts. Only of a member that takes notices
      // of lost links: one of an earlier release could not answer one while it is still there. When this
      // node was away meanwhile (stopped, asleep), the member gave up on it and may well be there: it is
      // told lost only if it is not back once a link could have been made again.
      const broke = reason.code === 'TRANSPORT' || reason.code === 'SILENT'
      if (this.presence && this.lifecycle === 'running' && broke && record.hello?.lost) {
        const member = session.peer.id
        if (!this.links.brokeWhileAway(session.openedAt)) this.traffic.perform(this.presence.linkLost(member))
        else
          this.presence.linkLostWhileAway(member, this.links.deadAfterMs, (effects) =>
            this.traffic.perform(effects),
          )
      }
      // Told as a leave only when its bye named no error (a refusal, a frame it found too large, …).
      const leftCleanly = left && reason.remoteCode === undefined
      this.traffic.settle()
      // It refused this node's key (it holds another for the address this node announces): not a leave.
      const refusedUs = reason.code === 'BYE' && reason.remoteCode === 'UNTRUSTED'
      const why = refusedUs
        ? `it refused this node's key: ${oneSpaced(reason.message.split('\n', 1)[0] ?? '')}`
        : heardNothing
          ? `${session.peer.name} dropped this link: it heard nothing from this node (${oneSpaced(reason.message)})`
          : reason.code === 'BYE'
            ? byeText(session.peer.name, reason.message)
            : reason.message
      const refusal = refusedUs ? { code: 'REFUSED', by: 'peer' as const, fatal: true } : refusalOf(reason)
      this.roster.left(session)
      this.emit({
        type: 'disconnected',
        peer: session.peer,
        reason: why,
        ...(refusal ? { refusal: refusal.code } : leftCleanly ? { left: true as const } : {}),
      })
      this.dialer.lost(session.peer.id, record.id, why, this.clock.now() - session.openedAt, refusal)
    }
    const current =
      session?.link === undefined
        ? undefined
        : {
            link: session.link,
            peer: session.peer,
            // The hello on this link came from the process of that session, not a restarted one.
            sameInstance: record.hello?.instance === session.instance,
          }
    if (record.slot) {
      this.dialer.handshakeEnded(record.slot, record.id, reason, current)
      // Our dial reached a peer already linked: its slot now knows whom it reaches.
      this.traffic.settle()
    }
  }

  private drained(record: LinkRecord): void {
    const session = this.traffic.sessionOf(record)
    if (!session) return
    this.emit({ type: 'backpressure', peer: session.peer, blocked: false })
    if (record.ackHeld) {
      // Acks were held back while the peer did not read; one cumulative ack covers them all.
      record.ackHeld = false
      this.room.acksDropped(session.peer.id)
      record.ackDue = true
      this.traffic.flushAck(record)
    }
    this.traffic.pump(session)
  }

  /** Messages the journal holds but no frontend showed before the last run ended (it was killed). */
  private showUnshown(): void {
    const displayed = this.options.displayed
    if (!displayed) return
    for (const entry of this.store.unshown(displayed)) {
      const { id, seq, ts, from, body, more, at } = entry
      this.emit({
        type: 'message',
        id,
        seq,
        ts,
        from,
        body,
        replayed: true,
        ...(at !== undefined ? { at } : {}),
        ...(more ? { more } : {}),
      })
    }
  }

  private adoptRestored(restored: RestoredState): void {
    this.sessions.restore(restored)
    this.roster.trim()
    for (const entry of restored.history.slice(-this.store.historyLimit)) this.store.remember(entry)
  }

  private emit(event: NodeEvent): void {
    for (const listener of [...this.listeners]) listener(event)
  }
}

/** Where a link came from, and where its peer said it listens. */
function whereOf(record: LinkRecord): SameKeyAddress {
  const listen = record.hello?.listen
  return { address: record.link.remoteAddress, ...(listen ? { listen } : {}) }
}

function checkBodyLength(body: string): void {
  if (body.length > MAX_BODY_LENGTH) {
    throw new ProtocolError('BAD_MESSAGE', `a message is at most ${MAX_BODY_LENGTH} characters long`)
  }
}

/** Whether a link that replaced an open one came from another run of the key or from the same run. */
function replacedBy(oldInstance: string, instance: string): 'restarted' | 'relinked' {
  return oldInstance === instance ? 'relinked' : 'restarted'
}

/** A peer's `bye`, as the `disconnected` event words it: it left, or closed this link only (`/disconnect`). */
function byeText(name: string, reason: string): string {
  return reason === UNLINK_REASON
    ? `${name} closed this link with /disconnect; it has not left, and its messages may still come through other members`
    : `${name} left (${oneSpaced(reason)})`
}

/** The refusal a link ended in, if it did: the peer's (its bye's code) or ours. */
function refusalOf(reason: LinkCloseReason): { code: string; by: 'peer' | 'self' } | undefined {
  if (reason.code === 'BYE' && reason.remoteCode !== undefined && isRefusal(reason.remoteCode))
    return { code: reason.remoteCode, by: 'peer' }
  return isRefusal(reason.code) ? { code: reason.code, by: 'self' } : undefined
}
