/**
 * The node's links: each one's record, its framing, its handshake (the link machine), what the inbound gate
 * lets in from it, writes with backpressure, and keepalive. What a link carries once it is a session's
 * link (messages, acks) is the node's: this part hands it over through `LinkHost`.
 */
import type { Clock } from './clock.js'
import { FrameDecoder } from './codec.js'
import type { DialSlot } from './dialer.js'
import { ProtocolError } from './errors.js'
import { InboundGate, type RateLimit, type TokenBucket } from './inbound-gate.js'
import { JournalLag } from './journal-lag.js'
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
  newLinkState,
} from './link-machine.js'
import { type LinkLimits, LinkTable } from './link-table.js'
import type { NodeEvent } from './node-types.js'
import { FrameCache } from './outbound.js'
import type { PeerInfo } from './peer-machine.js'
import type { RoomEffect } from './room.js'
import { SAME_KEY } from './same-key.js'
import type { Hello, Message } from './schema.js'
import type { Link } from './transport.js'

/** The hello capability of nodes that relay the room (and take relayed messages). */
export const ROOM_CAP = 'room'

/**
 * `named:N` in a hello: the sender's own messages up to seq N were written before this hello, so the name
 * they carry is older than the hello's. A later seq under another name is a rename, told to the user; an
 * earlier one (a message that waited in its outbox) is not. Earlier releases neither send nor read it.
 */
export const NAMED_CAP = 'named'

/**
 * The hello capability of nodes that take members' presence (`here` frames): only such a neighbour is
 * sent them. Earlier releases neither send it nor are sent presence.
 */
export const HERE_CAP = 'here'

/**
 * The hello capability of nodes that take a neighbour's notice that it lost its link to a member without
 * a `gone` (`lost` frames): only such a neighbour is sent them. Earlier releases neither send nor get them.
 */
export const LOST_CAP = 'lost'

/** A cap's value as a seq, or undefined when it is missing or not a whole number a seq can be. */
function seqOfCap(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,16}$/.test(value)) return undefined
  const seq = Number(value)
  return Number.isSafeInteger(seq) ? seq : undefined
}

export interface LinkRecord {
  readonly id: number
  readonly link: Link
  readonly decoder: FrameDecoder
  state: LinkState
  readonly slot?: DialSlot
  /** Who the peer said it is, once its hello arrived; `relays` when it speaks the room protocol. */
  hello?: {
    peer: PeerInfo
    listen?: string
    epoch: string
    instance: string
    relays: boolean
    /** Its own messages up to this seq were written before this hello, under its name then (`NAMED_CAP`). */
    namedUpTo?: number
    /** It takes members' presence (`HERE_CAP`). */
    here?: boolean
    /** It takes notices of links lost to members (`LOST_CAP`). */
    lost?: boolean
  }
  /** The hello was accepted (its id is the key the link proved, the peer trusted): a session opened on it. */
  opened?: true
  handshakeTimer?: unknown
  lastHeard: number
  /** Messages arrived that the next ack should cover. */
  ackDue: boolean
  /** An ack waits for the journal: one asked for meanwhile follows it, however many reads asked. */
  ackWaiting: boolean
  /** An ack was dropped while the remote end did not read: one cumulative ack follows the drain. */
  ackHeld: boolean
  /** Set after we end a link: forces it shut if the remote end never closes its side. */
  destroyTimer?: unknown
  /**
   * Decoded messages waiting for the inbound gate to let them in, from `backlogNext` on: always of one
   * chunk (the next is decoded once these are taken), each counted as `backlogBytes` frame bytes.
   */
  backlog: Message[]
  backlogNext: number
  backlogBytes: number
  /**
   * Chunks that arrived behind a backlog, not decoded yet: a link waiting its turn costs no parsing until
   * it is served, however much its transport still had in flight.
   */
  undecoded: Uint8Array[]
  /** Why the link's bytes stopped making sense, once they did: the link closes after what came before. */
  decodeError?: ProtocolError
  /** The link is paused until this timer refills the peer's allowance. */
  throttleTimer?: unknown
  /** The remote end is not reading: our last write hit a full buffer. */
  blocked: boolean
  /** Bytes written to the link since it blocked, waiting for the peer to read (`BLOCKED_BYTES_BUDGET`). */
  blockedBytes: number
  /** When it blocked (this node's clock). */
  blockedAt: number
}

/**
 * What a link may be written while its peer reads nothing (after `write` returned false, before `drain`):
 * presence frames and leaves, each said once, still go, so a reader that was only slow gets them in order.
 * A link that stays blocked for `BLOCKED_GRACE_MS` with more than this written to it meanwhile is taken for
 * one whose peer will never read, and closed (`OVER_BUDGET`), what is ours for it kept in the outbox. Both
 * must hold: a link opening in a big room writes its catch-up (acks and up to 500 presences, which can pass
 * this) in one turn, before the first drain can come.
 */
export const BLOCKED_BYTES_BUDGET = 128 * 1024
/** How long a link stays blocked before `BLOCKED_BYTES_BUDGET` counts (see there). */
export const BLOCKED_GRACE_MS = 60_000

/** What the links need from the node that owns them. */
export interface LinkHost {
  readonly clock: Clock
  readonly context: LinkContext
  running(): boolean
  /** The hello this node sends first on every link. */
  hello(): Hello
  /** Vets a peer that dialed in by its hello: a reason to refuse it, or undefined. */
  checkPeer(record: LinkRecord, hello: Hello): string | undefined
  /**
   * Vets the process behind a hello (on any link): a reason to turn it away because another node with
   * its key holds its session (`SAME_KEY`), or undefined.
   */
  checkInstance?(record: LinkRecord): string | undefined
  /** The rate-limit allowance of the session this link carries now, if it carries one. */
  bucketOf(record: LinkRecord): TokenBucket | undefined
  /** Whether frames may be shared between links (more than one neighbour). */
  shareFrames(): boolean
  opened(record: LinkRecord, peer: PeerInfo, instance: string): void
  /** A message for the session: the room's effects go to `effects`, the read's batch. */
  deliver(record: LinkRecord, message: Message, effects: RoomEffect[]): void
  /** Carries out the room's effects (the node's one place for them). */
  perform(effects: RoomEffect[]): void
  /** A read of the link ended: ack what it took. */
  readDone(record: LinkRecord): void
  /** Resolves once every message handed over so far is durable and shown (optional: at once). */
  settled?(): Promise<void>
  drained(record: LinkRecord): void
  closed(record: LinkRecord, reason: LinkCloseReason): void
  emit(event: NodeEvent): void
}

export interface LinksOptions {
  readonly maxFrame: number
  readonly rateLimit: RateLimit | false
  readonly limits: Partial<LinkLimits>
  readonly handshakeTimeoutMs: number
  readonly keepaliveMs: number
  readonly deadAfterMs: number
}

/** For steps outside a read, which deliver nothing (only `received` delivers). */
const NO_EFFECTS = Object.freeze([]) as unknown as RoomEffect[]

/** Why a read of a link's backlog stopped. */
type ReadStop = 'empty' | 'turn' | 'refused' | { readonly throttle: number }

export class Links {
  private readonly records = new Map<number, LinkRecord>()
  /** Every link's account, and the caps on links still in their handshake. */
  private readonly table: LinkTable<number>
  private readonly gate: InboundGate<LinkRecord>
  private readonly frames: FrameCache
  private readonly clock: Clock
  private nextId = 1
  private readonly journal: JournalLag<LinkRecord>
  private pingCounter = 0
  private lastPingAt = 0
  private keepaliveTimer?: unknown
  /** When the keepalive tick is due: one that runs far later says this node was away meanwhile. */
  private tickDue = 0
  /** When this node last came back from being away (its process stopped, its machine asleep). */
  private wokeAt = Number.NEGATIVE_INFINITY

  constructor(
    private readonly host: LinkHost,
    private readonly options: LinksOptions,
  ) {
    this.clock = host.clock
    this.table = new LinkTable({
      limits: options.limits,
      whenFull: 'drop-oldest',
      counting: 'still in their handshake',
    })
    this.gate = new InboundGate(this.clock, options.rateLimit, (waited) => this.nextTurn(waited))
    this.frames = new FrameCache(options.maxFrame)
    this.journal = new JournalLag(
      () => this.host.settled?.(),
      () => this.host.running(),
      (waited) => {
        this.gate.serve(waited)
        this.nextTurn(waited)
      },
    )
  }

  get(id: number): LinkRecord | undefined {
    return this.records.get(id)
  }

  newBucket(): TokenBucket {
    return this.gate.newBucket()
  }

  /** Takes over a new link (ours when `slot` is set); undefined when it is refused. */
  adopt(link: Link, slot?: DialSlot): LinkRecord | undefined {
    if (!this.host.running()) {
      link.destroy()
      return undefined
    }
    const id = this.nextId++
    // Links we dialed are ours; an inbound one counts against its source's caps until its handshake ends.
    const admission = this.table.admit(id, slot ? undefined : (link.source ?? link.remoteAddress))
    if (!admission.ok) {
      link.destroy()
      this.host.emit({
        type: 'link-error',
        address: link.remoteAddress,
        code: 'TOO_MANY',
        message: admission.reason,
      })
      return undefined
    }
    const dropped = admission.dropped === undefined ? undefined : this.records.get(admission.dropped)
    if (dropped) {
      const address = dropped.link.remoteAddress
      this.step(dropped, { type: 'close', reason: 'too many connections in their handshake' })
      this.host.emit({ type: 'link-error', address, code: 'TOO_MANY', message: admission.droppedWhy ?? '' })
    }
    const record: LinkRecord = {
      id,
      link,
      decoder: new FrameDecoder(this.options.maxFrame),
      state: newLinkState(link.remoteKey),
      lastHeard: this.clock.now(),
      ackDue: false,
      ackWaiting: false,
      ackHeld: false,
      backlog: [],
      backlogNext: 0,
      backlogBytes: 0,
      undecoded: [],
      blocked: false,
      blockedBytes: 0,
      blockedAt: 0,
      ...(slot ? { slot } : {}),
    }
    this.records.set(record.id, record)
    record.handshakeTimer = this.clock.setTimeout(
      () => this.step(record, { type: 'handshake-timeout' }),
      this.options.handshakeTimeoutMs,
    )
    // Our hello goes out before anything the transport already buffered is read.
    this.write(record, this.host.hello())
    link.attach({
      data: (chunk) => this.onData(record, chunk),
      drain: () => this.onDrain(record),
      close: (error) => {
        if (record.destroyTimer !== undefined) this.clock.clearTimeout(record.destroyTimer)
        if (record.throttleTimer !== undefined) this.clock.clearTimeout(record.throttleTimer)
        this.step(record, { type: 'transport-closed', ...(error ? { error } : {}) })
      },
    })
    return record
  }

  /** Steps the link machine; the room effects of what it delivered go to `effects` (a read's batch). */
  step(record: LinkRecord, event: LinkEvent, effects: RoomEffect[] = NO_EFFECTS): void {
    const step = linkTransition(record.state, event, this.host.context)
    if (!step.ok) return
    record.state = step.state
    for (const effect of step.effects) this.perform(record, effect, effects)
  }

  close(id: number, reason: string, code?: typeof SAME_KEY): void {
    const record = this.records.get(id)
    if (record) this.step(record, { type: 'close', reason, ...(code ? { code } : {}) })
  }

  /** Ends every link (`bye`) and stops the keepalive and the gate's timers. */
  closeAll(reason: string): void {
    if (this.keepaliveTimer !== undefined) this.clock.clearTimeout(this.keepaliveTimer)
    this.gate.close()
    for (const record of [...this.records.values()]) this.step(record, { type: 'close', reason })
  }

  write(record: LinkRecord, message: Message): void {
    if (record.state.status === 'closed' && message.type !== 'bye') return
    // A peer that does not read is written nothing it can do without: its link may stay open for as long
    // as it sends something now and then, and whatever waits for it would pile up. A later cumulative ack
    // says everything the dropped ones would have; a throttle only says why this node reads slowly. What
    // else it is written meanwhile (presence, said once for a leave) is counted against a budget.
    if (record.blocked && droppedWhileBlocked(message.type)) {
      if (message.type === 'ack') record.ackHeld = true
      return
    }
    try {
      // With one neighbour a frame goes out once (a resend after a reconnect is rare): nothing to share.
      const shared = message.type === 'msg' && this.host.shareFrames()
      const frame = this.frames.frameOf(message, shared)
      const accepted = record.link.write(frame)
      if (record.blocked) {
        record.blockedBytes += frame.length
        this.closeIfNeverReads(record, this.clock.now())
      } else if (!accepted && record.state.status === 'open') {
        // The peer is not reading: stop feeding it chat messages until the buffer drains.
        record.blocked = true
        record.blockedBytes = 0
        record.blockedAt = this.clock.now()
        this.host.emit({ type: 'backpressure', peer: record.state.peer, blocked: true })
      }
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error
      this.step(record, { type: 'protocol-error', error })
    }
  }

  /**
   * Closes a link blocked for `BLOCKED_GRACE_MS` with more than `BLOCKED_BYTES_BUDGET` written to it
   * meanwhile: its peer is taken for one that will never read (`OVER_BUDGET`). True when it did.
   */
  private closeIfNeverReads(record: LinkRecord, now: number): boolean {
    if (
      !record.blocked ||
      record.blockedBytes <= BLOCKED_BYTES_BUDGET ||
      now - record.blockedAt < BLOCKED_GRACE_MS ||
      record.state.status !== 'open'
    )
      return false
    const error = new ProtocolError(
      'OVER_BUDGET',
      `peer read nothing for ${Math.round((now - record.blockedAt) / 1000)} s while ${Math.round(record.blockedBytes / 1024)} KiB waited for it`,
    )
    this.step(record, { type: 'protocol-error', error })
    return true
  }

  /** Whether the link carries more now: open, and its remote end reads. */
  writable(record: LinkRecord): boolean {
    return !record.blocked && record.state.status === 'open'
  }

  /**
   * Silence is checked far more often than pings go out, so a dead link is dropped within a twentieth of
   * `deadAfterMs` after it went quiet for that long, not up to a whole ping interval later.
   */
  startKeepalive(): void {
    const { keepaliveMs, deadAfterMs } = this.options
    const tick = Math.max(10, Math.min(keepaliveMs, Math.floor(deadAfterMs / 20)))
    this.tickDue = this.clock.now() + tick
    this.keepaliveTimer = this.clock.setTimeout(() => {
      this.keepalive()
      if (this.host.running()) this.startKeepalive()
    }, tick)
  }

  /** How long a link may stay silent before it is dropped (`SILENT`). */
  get deadAfterMs(): number {
    return this.options.deadAfterMs
  }

  /**
   * Whether a link open since `since` that broke now may have broken because this node was away (its
   * process stopped, its machine asleep) after `since`, at most `deadAfterMs` ago: its peer then gave up on
   * this node's silence, and the break says nothing of the peer.
   */
  brokeWhileAway(since: number): boolean {
    const now = this.clock.now()
    this.noticeWaking(now)
    return since < this.wokeAt && now - this.wokeAt < this.options.deadAfterMs
  }

  /**
   * A keepalive tick that is late by far more than any busy event loop makes it means this node did not
   * run meanwhile: it wakes now. Noticed by the tick, or before it by a link closing (a loop woken inside
   * its poll reads its links before it runs its timers).
   */
  private noticeWaking(now: number): void {
    if (this.keepaliveTimer === undefined || this.wokeAt >= this.tickDue) return
    const { keepaliveMs, deadAfterMs } = this.options
    if (now - this.tickDue > Math.min(keepaliveMs, deadAfterMs / 2)) this.wokeAt = now
  }

  private keepalive(): void {
    const now = this.clock.now()
    this.noticeWaking(now)
    const ping = now - this.lastPingAt >= this.options.keepaliveMs
    if (ping) this.lastPingAt = now
    for (const record of [...this.records.values()]) {
      if (record.state.status !== 'open') continue
      // What it sent that this node has not read yet (it throttles it, or waits for the journal) was heard:
      // the link is paused meanwhile, so the frames behind it, its pings among them, cannot come.
      if (hasBacklog(record) || record.undecoded.length > 0) record.lastHeard = now
      // A peer that reads nothing while much waits for it, checked even when nothing more is written.
      if (this.closeIfNeverReads(record, now)) continue
      // Silence counts while this node ran: on waking, what its links brought meanwhile is read first.
      if (now - Math.max(record.lastHeard, this.wokeAt) >= this.options.deadAfterMs) {
        const error = new ProtocolError('SILENT', `peer sent nothing for ${this.options.deadAfterMs} ms`)
        this.step(record, { type: 'protocol-error', error })
        continue
      }
      if (ping) this.write(record, { type: 'ping', n: ++this.pingCounter })
    }
  }

  private onData(record: LinkRecord, chunk: Uint8Array): void {
    // A link we closed is read no more: what a refused peer still sends costs no parsing (the link is
    // paused too, so the transport stops decrypting and TCP pushes back on the sender).
    if (record.state.status === 'closed') return
    record.lastHeard = this.clock.now()
    if (hasBacklog(record) || record.undecoded.length > 0) {
      record.undecoded.push(chunk)
      return
    }
    if (!this.mayDecode(record)) {
      record.undecoded.push(chunk)
      this.journal.watch()
      return
    }
    this.decode(record, chunk)
    this.read(record)
  }

  private decode(record: LinkRecord, chunk: Uint8Array): void {
    const pendingBefore = record.decoder.pendingBytes
    const { messages, error } = record.decoder.push(chunk)
    if (messages.length > 0) {
      // The bytes that completed frames, shared evenly: exact in sum, close enough for a turn's budget.
      const consumed = pendingBefore + chunk.length - record.decoder.pendingBytes
      record.backlogBytes = Math.max(1, Math.round(consumed / messages.length))
      record.backlog = messages
      record.backlogNext = 0
    }
    if (error) {
      record.decodeError = error
      record.undecoded.length = 0
    }
  }

  /**
   * Takes what the inbound gate lets in from the link's backlog, then, in this order: carries out what the
   * room decided (so what was accepted is on its way to the journal), acks the link (the ack waits on the
   * journal), and pauses the link if the gate said so (the peer is told when its rate is exceeded). A read
   * that stopped for its turn or the journal is acked too, once what it took is durable: a sender that
   * keeps a window of messages in flight can then refill it while the rest is read and flushed. Acks stay
   * one per journal flush (the link waits for one at a time), and the sender does not flush its journal
   * for them (`Persistence.appendLater`).
   */
  private read(record: LinkRecord): void {
    let stop: ReadStop
    do {
      const effects: RoomEffect[] = []
      stop = this.take(record, effects)
      this.host.perform(effects)
    } while (stop === 'refused' && record.state.status !== 'closed')
    this.host.readDone(record)
    this.journal.watch()
    // Reading may have closed the link already (the room refused the peer).
    const error = record.decodeError
    if (error && !isClosed(record)) this.step(record, { type: 'protocol-error', error })
    if (typeof stop !== 'object' || record.throttleTimer !== undefined || isClosed(record)) return
    const retryMs = stop.throttle
    record.link.pause()
    this.write(record, { type: 'throttle', retryMs })
    record.throttleTimer = this.clock.setTimeout(() => {
      record.throttleTimer = undefined
      if (record.state.status === 'closed') return
      record.link.resume()
      this.read(record)
    }, retryMs)
  }

  /** Feeds the backlog to the link machine while the gate allows; stops early when the room refuses someone. */
  private take(record: LinkRecord, effects: RoomEffect[]): ReadStop {
    for (;;) {
      if (record.state.status === 'closed') {
        dropBacklog(record)
        record.undecoded.length = 0
        return 'empty'
      }
      if (!hasBacklog(record)) {
        if (record.undecoded.length === 0) return 'empty'
        if (!this.mayDecode(record)) return 'turn'
        this.decode(record, record.undecoded.shift()!)
        continue
      }
      const message = record.backlog[record.backlogNext]!
      const bytes = record.backlogBytes
      const turn = this.gate.takeTurn(record, bytes)
      if (!turn.ok) {
        if (turn.paused) record.link.pause()
        return 'turn'
      }
      if (message.type === 'msg') {
        if (this.journal.holds(record, bytes)) {
          this.awaitJournal(record)
          return 'turn'
        }
        const bucket = this.host.bucketOf(record)
        const retryMs = bucket ? this.gate.takeToken(bucket, message) : 0
        if (retryMs > 0) return { throttle: retryMs }
        this.journal.took(record, bytes)
      }
      record.backlogNext++
      if (message.type === 'hello' && record.hello === undefined && !this.noteHello(record, message))
        return 'empty'
      const before = effects.length
      if (isPlainDelivery(record.state, message)) this.host.deliver(record, message, effects)
      else this.step(record, { type: 'received', message }, effects)
      for (let i = before; i < effects.length; i++) if (effects[i]!.type === 'refuse') return 'refused'
    }
  }

  /**
   * Whether the link's next bytes may be parsed now: the turn has room for it, and the journal does not
   * hold it back. Otherwise it waits, paused, for the next turn or the journal. So a crowd of links that
   * all have bytes at once costs a turn's worth of parsing, not a chunk each.
   */
  private mayDecode(record: LinkRecord): boolean {
    const room = this.gate.room(record)
    if (!room.ok) {
      if (room.paused) record.link.pause()
      return false
    }
    if (!this.journal.holds(record, 0)) return true
    this.awaitJournal(record)
    return false
  }

  /**
   * Stops reading the link until the journal has caught up. The wait for the journal starts once what
   * this read took is appended (`JournalLag.watch` after the read): started here, it would count this
   * read's bytes as durable as soon as the earlier appends were.
   */
  private awaitJournal(record: LinkRecord): void {
    // Paused again even when already waiting: the gate's next turn may have resumed it.
    record.link.pause()
    this.journal.wait(record)
  }

  /** Records who the peer says it is; false when a peer that dialed in is refused. */
  private noteHello(record: LinkRecord, hello: Hello): boolean {
    record.hello = {
      peer: { id: hello.id, name: hello.name },
      ...(hello.listen ? { listen: hello.listen } : {}),
      epoch: helloCap(hello, 'epoch') ?? helloInstance(hello),
      instance: helloInstance(hello),
      relays: hello.caps.includes(ROOM_CAP),
      here: hello.caps.includes(HERE_CAP),
      lost: hello.caps.includes(LOST_CAP),
    }
    const namedUpTo = seqOfCap(helloCap(hello, NAMED_CAP))
    if (namedUpTo !== undefined) record.hello.namedUpTo = namedUpTo
    const refusal = this.host.checkPeer(record, hello)
    if (refusal) {
      this.step(record, { type: 'protocol-error', error: new ProtocolError('UNTRUSTED', refusal) })
      return false
    }
    // Not a breach of the protocol: the peer is told why in its bye, and nothing is reported per link.
    const twin = this.host.checkInstance?.(record)
    if (twin === undefined) return true
    this.step(record, { type: 'close', reason: twin, code: SAME_KEY })
    return false
  }

  /**
   * Serves the links that waited, in round-robin order: each takes what it has read, then is read again
   * only while this turn has room for what it may bring; the others stay paused until the next turn. So
   * a crowd of flooding links costs each turn a bounded amount of decrypting and parsing, and a link that
   * was not flooding is read in every turn.
   */
  private nextTurn(waited: LinkRecord[]): void {
    let resumed = 0
    for (const record of waited) {
      if (record.state.status === 'closed' || !this.host.running()) continue
      this.read(record)
      // Still waiting (for the gate, the journal or its rate limit): it stays paused.
      if (hasBacklog(record) || record.undecoded.length > 0 || record.throttleTimer !== undefined) continue
      if (this.journal.isWaiting(record) || isClosed(record)) continue
      if (this.gate.roomToResume(resumed)) {
        resumed++
        record.link.resume()
      } else this.gate.park(record)
    }
  }

  private onDrain(record: LinkRecord): void {
    if (!record.blocked) return
    record.blocked = false
    record.blockedBytes = 0
    this.host.drained(record)
  }

  private perform(record: LinkRecord, effect: LinkEffect, effects: RoomEffect[]): void {
    switch (effect.type) {
      case 'send':
        this.write(record, effect.message)
        return
      case 'cancel-handshake-timer':
        if (record.handshakeTimer !== undefined) this.clock.clearTimeout(record.handshakeTimer)
        record.handshakeTimer = undefined
        return
      case 'open':
        this.table.settle(record.id)
        record.opened = true
        this.host.opened(record, effect.peer, effect.instance)
        return
      case 'deliver':
        this.host.deliver(record, effect.message, effects)
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
    this.records.delete(record.id)
    this.table.delete(record.id)
    this.gate.forget(record)
    this.journal.forget(record)
    dropBacklog(record)
    record.undecoded.length = 0
    if (reason.code === 'TRANSPORT') record.link.destroy()
    else {
      record.link.end()
      // A peer closed for breaking the rules is not read again: its `bye` still goes out, and nothing it
      // keeps sending is decrypted or parsed. A clean close keeps reading, to see the remote end close.
      if (reason.protocolError) record.link.pause()
      // A remote end that never closes its side must not hold the socket forever.
      record.destroyTimer = this.clock.setTimeout(() => record.link.destroy(), 2_000)
    }
    const address = record.link.remoteAddress
    if (reason.protocolError) {
      // Who the peer said it was counts only once its hello was accepted: one refused for it may have lied.
      const hello = record.opened ? record.hello : undefined
      this.host.emit({
        type: 'link-error',
        address,
        code: reason.code,
        message: reason.message,
        ...(hello ? { peer: hello.peer } : {}),
        ...(hello?.listen ? { listen: hello.listen } : {}),
      })
    }
    this.host.closed(record, reason)
  }
}

/** Read through a call, so a status checked earlier in the caller is not taken as still true. */
function isClosed(record: LinkRecord): boolean {
  return record.state.status === 'closed'
}

function hasBacklog(record: LinkRecord): boolean {
  return record.backlogNext < record.backlog.length
}

function dropBacklog(record: LinkRecord): void {
  record.backlog = []
  record.backlogNext = 0
}

/** What a link whose peer does not read is not written (see `Links.write`). */
function droppedWhileBlocked(type: Message['type']): boolean {
  return type === 'pong' || type === 'ack' || type === 'ping' || type === 'throttle'
}
