/**
 * One room across the mesh: which message of which member (origin) this node has, which it may show,
 * which it must still forward to each neighbour, and whether a relayed message really comes from its
 * origin. Pure: no I/O and no timers. The node feeds it what arrives and performs what it returns.
 */

import { ackFrames } from './acks.js'
import type { PeerInfo } from './peer-machine.js'
import { type Ack, DEFAULT_HOPS, type Msg } from './schema.js'

/**
 * Signs and checks each origin's hash chain. Core knows no cryptography: the secure package implements
 * this with sha256 and ed25519 (`createMessageAuth`); tests pass a fake.
 */
export interface MessageAuth {
  /** The `prev` of an origin's first message. */
  genesis(originId: string): string
  /** The chain hash of `msg` given the hash before it: `H(prev || canonicalMsg(msg))`. */
  chain(prev: string, msg: Msg): string
  /** This node's signature over a chain hash. */
  sign(hash: string): string
  /** True when `sig` is `originId`'s signature over `hash`. */
  verify(originId: string, hash: string, sig: string): boolean
}

/**
 * The bytes a chain hash covers: everything the origin wrote except `prev` (hashed separately), and
 * except `hops` and `sig`, which relays change or which sign the result.
 */
export function canonicalMsg(msg: Msg): string {
  return JSON.stringify(['parley-msg/1', msg.from, msg.seq, msg.id, msg.ts, msg.name ?? null, msg.body])
}

export interface RoomOptions {
  readonly self: PeerInfo
  readonly auth?: MessageAuth
  /** Recent messages kept per origin, for relaying and catching neighbours up. Default 1000. */
  readonly windowSize?: number
  /** Unverified or out-of-order messages buffered from one neighbour. Default 4096. */
  readonly waitingCap?: number
  /** Members (origins) this node keeps, besides itself. Default 1000. */
  readonly maxOrigins?: number
  /** Hops a message may still travel, at most, whatever it claims. Default DEFAULT_HOPS. */
  readonly hopLimit?: number
}

/** What the journal knew of one origin at start-up. */
export interface RestoredOrigin {
  readonly peer: PeerInfo
  /** Highest contiguous seq received (every one of them was shown). */
  readonly received: number
  /** The newest of them, oldest first, ending at `received`. */
  readonly log: readonly Msg[]
  /** This node had a link to it. */
  readonly neighbor: boolean
}

export interface RestoredRoom {
  readonly origins: Iterable<RestoredOrigin>
  /** The seq our next message gets. */
  readonly nextSeq: number
  /** Our messages some neighbour has not acknowledged, oldest first. */
  readonly outbox: readonly Msg[]
  /** Our newest messages (at least the outbox, at most the window or the outbox), oldest first. */
  readonly recent?: readonly Msg[]
  /** Our newest message, acknowledged or not: our chain continues from it. */
  readonly lastSent?: Msg
}

export type RefusalCode = 'FORGED' | 'TOO_MANY_ORIGINS' | 'FLOOD'

/** A neighbour that broke the room's rules: the node closes its link with `code`. */
export interface Refusal {
  readonly neighbor: string
  readonly code: RefusalCode
  readonly message: string
}

/**
 * What the room decided, as data; the node carries the effects out in one place, in a fixed order:
 * `refuse`, `send`, `resume`, then `jump` and `accept` are persisted together, and once durable, `join`
 * is announced and each accepted message is shown (then `markShown`) and relayed.
 */
export type RoomEffect =
  /** Close the neighbour's link: it broke the room's rules. */
  | { readonly type: 'refuse'; readonly refusal: Refusal }
  /** Write this to the neighbour's link now. */
  | { readonly type: 'send'; readonly neighbor: string; readonly message: Ack }
  /** The neighbour said what it has: its link may carry what it lacks (see `outgoing`). */
  | { readonly type: 'resume'; readonly neighbor: string }
  /** A message accepted, in order: persist it, then show it, call `markShown`, and relay it. */
  | { readonly type: 'accept'; readonly msg: Msg }
  /** An origin's watermark jumped forward (its window moved on): persist it as a journal `base` record. */
  | { readonly type: 'jump'; readonly peer: PeerInfo; readonly seq: number }
  /** A member seen for the first time, through a relay. */
  | { readonly type: 'join'; readonly peer: PeerInfo }

/** One thing to write on a neighbour's link: a message, or a notice that an origin's window moved on. */
export type Outgoing =
  | { readonly kind: 'msg'; readonly msg: Msg }
  | { readonly kind: 'base'; readonly origin: string; readonly seq: number }

export interface RoomMember {
  readonly peer: PeerInfo
  /** A neighbour: this node has (had) a link to it. */
  readonly direct: boolean
  /** A neighbour: its link is open now. A relayed member: some neighbour that relays is connected. */
  readonly connected: boolean
}

interface Candidate {
  readonly msg: Msg
  readonly trusted: boolean
  /** The chain hash, computed once. */
  hash?: string
}

interface Origin {
  peer: PeerInfo
  /** Highest contiguous seq accepted (maybe not durable yet). */
  received: number
  /** Highest seq durable and shown: what acks and `have` maps claim. */
  shown: number
  /** Highest seq whose origin signature checked (or every accepted one, without a MessageAuth). */
  verified: number
  /** Chain hash of message `received`, when known. */
  head?: string
  /**
   * Messages after `verified` were taken straight from the origin without checking their chain, since no
   * neighbour could be sent them: they are checked (`checkDeferred`) before any is relayed.
   */
  deferred?: boolean
  /** Recent messages, ascending and contiguous, ending at `received`. */
  log: Msg[]
  /** Candidates for seqs after `received`, per neighbour that sent them. */
  waiting: Map<number, Map<string, Candidate>>
  /** At least one message accepted, or known from the journal or a link: not a relay's invention. */
  known: boolean
  /** The seq this not-yet-known origin started at (a jump), persisted once it becomes known. */
  jumpedTo?: number
}

interface Neighbor {
  readonly id: string
  /** What the neighbour has of each origin (learned from its acks and from what it sends). */
  readonly has: Map<string, number>
  /** What the current link carried of each origin. */
  readonly sentUpTo: Map<string, number>
  /** What our acks told it we have, for `have` deltas. */
  readonly told: Map<string, number>
  /** Where our stream of each origin starts on this link (we said so in `bases`). */
  readonly floor: Map<string, number>
  /** Where its stream of each origin starts on this link (it said so in `base` and `bases`). */
  readonly bases: Map<string, number>
  /** It speaks the room protocol: it takes messages of other origins. */
  relays: boolean
  /** It restarted without its journal: on its next link it gets only what is new, as it already saw the rest. */
  restarted: boolean
  open: boolean
  /** Its first ack on the current link arrived: it said what it has, so we may send. */
  resumed: boolean
  /** Candidates it sent that wait in some origin's buffer. */
  waiting: number
}

const DEFAULTS = { windowSize: 1000, waitingCap: 4096, maxOrigins: 1000 }

/**
 * The routing state of one node's room.
 * @example
 * const room = new Room({ self: { id, name } })
 * const { accepted } = room.receive(neighborId, msg, true) // persist, show, then room.markShown(...)
 */
export class Room {
  readonly self: PeerInfo
  private readonly auth?: MessageAuth
  private readonly windowSize: number
  private readonly waitingCap: number
  private readonly maxOrigins: number
  private readonly hopLimit: number
  private readonly own: Origin
  private readonly origins = new Map<string, Origin>()
  private readonly neighbors = new Map<string, Neighbor>()
  /** Our own messages up to this seq are signed (sealed). */
  private sealedUpTo = 0
  /** Every neighbour acknowledged our messages up to this seq: the rest is the outbox. */
  private ownSettled = 0

  constructor(options: RoomOptions, restored?: RestoredRoom) {
    this.self = options.self
    if (options.auth) this.auth = options.auth
    this.windowSize = Math.max(1, options.windowSize ?? DEFAULTS.windowSize)
    this.waitingCap = Math.max(1, options.waitingCap ?? DEFAULTS.waitingCap)
    this.maxOrigins = options.maxOrigins ?? DEFAULTS.maxOrigins
    this.hopLimit = Math.min(options.hopLimit ?? DEFAULT_HOPS, DEFAULT_HOPS)
    const sent = (restored?.nextSeq ?? 1) - 1
    this.own = newOrigin(this.self, sent)
    this.own.known = true
    this.own.log = [...(restored?.recent ?? restored?.outbox ?? [])]
    this.ownSettled = (restored?.outbox[0]?.seq ?? sent + 1) - 1
    this.own.head = this.hashOf(restored?.lastSent)
    this.sealedUpTo = sent
    this.origins.set(this.self.id, this.own)
    for (const r of restored?.origins ?? []) {
      const origin = newOrigin(r.peer, r.received)
      origin.known = true
      origin.log = r.log.slice(-this.windowSize)
      const first = origin.log[0]
      if (this.auth && first) {
        // The journal may hold messages taken unchecked from their origin: they are checked, as any
        // deferred run is, before the first of them is relayed.
        origin.verified = first.seq - 1
        origin.deferred = true
      }
      this.origins.set(r.peer.id, origin)
      if (r.neighbor) this.neighbor(r.peer.id)
    }
  }

  // ---- our own stream ------------------------------------------------------------------------------

  /** The seq our next message gets. */
  get nextSeq(): number {
    return this.own.received + 1
  }

  /** Our messages some neighbour has not acknowledged, oldest first. */
  get outbox(): readonly Msg[] {
    const first = this.own.log[0]?.seq ?? this.own.received + 1
    return this.own.log.slice(Math.max(0, this.ownSettled + 1 - first))
  }

  /** Our messages in the outbox with a seq in (`after`, `upTo`], oldest first, without copying the whole outbox. */
  outboxBetween(after: number, upTo: number): Msg[] {
    const log = this.own.log
    const first = log[0]?.seq
    if (first === undefined) return []
    const from = Math.max(after, this.ownSettled) + 1
    return log.slice(Math.max(0, from - first), Math.max(0, upTo - first + 1))
  }

  /** How many messages the outbox holds. */
  get pending(): number {
    return this.own.received - this.ownSettled
  }

  /** Adds one of our messages (its seq, `from` and chain link are filled in); it goes out once sealed and durable. */
  compose(fields: { id: string; ts: number; body: string; name?: string }): Msg {
    const seq = this.own.received + 1
    const msg: Msg = {
      type: 'msg',
      id: fields.id,
      seq,
      ts: fields.ts,
      from: this.self.id,
      body: fields.body,
    }
    if (fields.name !== undefined) msg.name = fields.name
    if (this.auth) {
      const prev = this.own.head ?? this.auth.genesis(this.self.id)
      msg.prev = prev
      this.own.head = this.auth.chain(prev, msg)
    }
    this.own.received = seq
    this.own.log.push(msg)
    return msg
  }

  /**
   * Signs the newest of our messages, which ends a burst, and returns the burst (the messages composed
   * since the last seal), the last one now carrying `sig`.
   */
  seal(): Msg[] {
    const from = this.sealedUpTo + 1
    const to = this.own.received
    if (to < from) return []
    this.sealedUpTo = to
    const start = this.indexOf(this.own, from)
    const burst = this.own.log.slice(start)
    if (this.auth && this.own.head !== undefined) {
      const last = burst.length - 1
      const signed = { ...burst[last]!, sig: this.auth.sign(this.own.head) }
      burst[last] = signed
      this.own.log[start + last] = signed
    }
    return burst
  }

  /** Our messages up to `seq` are durable: they may go out. */
  ownDurable(seq: number): void {
    this.own.shown = Math.max(this.own.shown, seq)
    this.own.verified = this.own.shown
  }

  /**
   * Every neighbour has our messages up to `seq`: they leave the outbox, and stay in our window only, for
   * members who connect later.
   */
  settleOwn(seq: number): void {
    this.ownSettled = Math.max(this.ownSettled, Math.min(seq, this.own.received))
    const log = this.own.log
    while (log.length > this.windowSize && log[0]!.seq <= this.ownSettled) log.shift()
  }

  // ---- neighbours ----------------------------------------------------------------------------------

  /**
   * A link to neighbour `id` opened: returns its opening ack (`send`), which says where our own stream
   * starts (`base`), what we have of every other origin (`have`), and where our window of each starts
   * (`bases`). A neighbour that restarted without its journal gets only what is new (and our outbox). A
   * neighbour that relays may be sent what other origins gave us unchecked, so that is checked now, and
   * the origins whose runs do not check are refused.
   */
  linkOpened(id: string, info: { name: string; relays: boolean }, out: RoomEffect[] = []): RoomEffect[] {
    const neighbor = this.neighbor(id)
    neighbor.relays = info.relays
    neighbor.open = true
    neighbor.resumed = false
    neighbor.sentUpTo.clear()
    neighbor.told.clear()
    neighbor.floor.clear()
    neighbor.bases.clear()
    this.dropCandidatesOf(neighbor)
    const origin = this.originFor({ id, name: info.name })
    origin.known = true
    origin.peer = { id, name: info.name }
    const fresh = neighbor.restarted
    neighbor.restarted = false
    const base = fresh ? this.ownSettled : (this.own.log[0]?.seq ?? this.own.received + 1) - 1
    neighbor.floor.set(this.self.id, base)
    const bases: Record<string, number> = {}
    if (neighbor.relays) {
      for (const o of this.origins.values()) {
        if (o === this.own || o.peer.id === id || !o.known) continue
        if (o.deferred) this.checkDeferred(o, out)
        const floor = fresh ? o.received : (o.log[0]?.seq ?? o.received + 1) - 1
        neighbor.floor.set(o.peer.id, floor)
        if (floor > 0) bases[o.peer.id] = floor
      }
    }
    const have = neighbor.relays ? this.haveDelta(id) : {}
    for (const message of ackFrames({ type: 'ack', upTo: this.shownOf(id), base }, have, bases))
      out.push({ type: 'send', neighbor: id, message })
    return out
  }

  /** The neighbour restarted without its journal: it has nothing, and its own seqs start over. */
  peerRestarted(id: string): void {
    const neighbor = this.neighbor(id)
    neighbor.has.clear()
    neighbor.told.clear()
    neighbor.restarted = true
    const origin = this.origins.get(id)
    if (!origin) return
    this.dropAllCandidates(origin)
    Object.assign(origin, { received: 0, shown: 0, verified: 0, head: undefined, log: [] })
    for (const other of this.neighbors.values()) {
      other.has.delete(id)
      other.sentUpTo.delete(id)
      other.told.delete(id)
    }
  }

  linkClosed(id: string): void {
    const neighbor = this.neighbors.get(id)
    if (!neighbor) return
    neighbor.open = false
    neighbor.resumed = false
    this.dropCandidatesOf(neighbor)
  }

  /**
   * Takes a neighbour's ack: what it has (its `upTo` of our stream, its `have` map), where its windows
   * start (`base`, `bases`: we jump forward past what it can no longer send), and, on the last opening
   * ack of a link, where to resume sending (`resume`).
   */
  onAck(id: string, ack: Ack, out: RoomEffect[] = []): RoomEffect[] {
    const neighbor = this.neighbor(id)
    raise(neighbor.has, this.self.id, Math.min(ack.upTo, this.own.received))
    for (const [origin, seq] of Object.entries(ack.have ?? {})) raise(neighbor.has, origin, seq)
    const bases: [string, number][] = Object.entries(ack.bases ?? {})
    if (ack.base !== undefined) bases.push([id, ack.base])
    for (const [originId, base] of bases) {
      if (originId === this.self.id) continue
      raise(neighbor.bases, originId, base)
      const origin = this.origins.get(originId)
      if (origin) this.settle(origin, out)
    }
    if (!neighbor.resumed && ack.more !== true && neighbor.open) {
      neighbor.resumed = true
      for (const [origin, seq] of neighbor.floor) raise(neighbor.sentUpTo, origin, seq)
      out.push({ type: 'resume', neighbor: id })
    }
    return out
  }

  /**
   * Takes a message neighbour `id` sent. `trusted` means it came straight from its origin over a link that
   * authenticated the origin's key: it is shown at once, and its signature is checked when its burst ends.
   * A relayed message waits until a signed message of its origin vouches for it.
   */
  receive(id: string, msg: Msg, trusted: boolean, out: RoomEffect[] = []): RoomEffect[] {
    if (msg.from === this.self.id) return out
    const neighbor = this.neighbor(id)
    let origin = this.origins.get(msg.from)
    // The frequent case: the next message of an origin with nothing buffered, which needs no check
    // beyond its own (no auth, or straight from its origin): accepted without being buffered.
    if (
      origin !== undefined &&
      msg.seq === origin.received + 1 &&
      origin.waiting.size === 0 &&
      (this.auth === undefined || trusted)
    ) {
      raise(neighbor.has, msg.from, msg.seq)
      if (this.auth === undefined) {
        this.accept(origin, msg, undefined, out)
        origin.verified = origin.received
      } else this.acceptTrusted(origin, msg, out)
      return out
    }
    if (!origin) {
      if (this.origins.size - 1 >= this.maxOrigins) {
        out.push(
          refuse({
            neighbor: id,
            code: 'TOO_MANY_ORIGINS',
            message: `the room already has ${this.maxOrigins} members; refusing a new one`,
          }),
        )
        return out
      }
      origin = this.originFor({ id: msg.from, name: msg.name ?? msg.from.slice(0, 8) })
    }
    if (msg.seq <= origin.received) {
      raise(neighbor.has, msg.from, msg.seq)
      this.keepHigherHops(origin, msg)
      return out
    }
    let slot = origin.waiting.get(msg.seq)
    if (!slot?.has(id)) {
      if (neighbor.waiting >= this.waitingCap) {
        this.dropCandidates(origin, id)
        out.push(
          refuse({
            neighbor: id,
            code: 'FLOOD',
            message: `sent more than ${this.waitingCap} messages that cannot be shown yet`,
          }),
        )
        return out
      }
      neighbor.waiting++
    }
    if (!slot) {
      slot = new Map()
      origin.waiting.set(msg.seq, slot)
    }
    slot.set(id, { msg, trusted })
    this.settle(origin, out)
    return out
  }

  /** The message `seq` of `origin` is durable and shown. */
  markShown(originId: string, seq: number): void {
    const origin = this.origins.get(originId)
    if (!origin) return
    origin.shown = Math.max(origin.shown, Math.min(seq, origin.received))
    this.trim(origin)
  }

  /**
   * What the neighbour's link should carry next, in order per origin: every verified, shown message it
   * does not have (never its own, never one whose hops are spent), as the copy to send.
   * Call `markSent` after writing each item; stop early when the link pushes back.
   */
  *outgoing(id: string, only?: string): Generator<Outgoing> {
    const neighbor = this.neighbors.get(id)
    if (!neighbor?.open || !neighbor.resumed) return
    const origins = only === undefined ? this.origins.values() : [this.origins.get(only)]
    for (const origin of origins) {
      if (!origin || origin.peer.id === id) continue
      if (origin !== this.own && !neighbor.relays) continue
      const originId = origin.peer.id
      const limit = Math.min(origin.shown, origin.verified)
      for (;;) {
        const next = Math.max(neighbor.sentUpTo.get(originId) ?? 0, neighbor.has.get(originId) ?? 0) + 1
        if (next > limit || origin.log.length === 0) break
        const first = origin.log[0]!.seq
        if (next < first) {
          // Our window moved on while the neighbour lagged: it must jump, or it would wait forever.
          yield { kind: 'base', origin: originId, seq: first - 1 }
          raise(neighbor.sentUpTo, originId, first - 1)
          continue
        }
        const msg = origin.log[next - first]!
        const copy = this.forwardCopy(origin, msg)
        if (copy) yield { kind: 'msg', msg: copy }
        raise(neighbor.sentUpTo, originId, next)
        this.trim(origin)
      }
    }
  }

  /** The `have` entries the neighbour has not been told yet (all of them right after `linkOpened`). */
  haveDelta(id: string): Record<string, number> {
    const neighbor = this.neighbors.get(id)
    const delta: Record<string, number> = {}
    if (!neighbor?.relays) return delta
    for (const origin of this.origins.values()) {
      const originId = origin.peer.id
      if (origin === this.own || originId === id || origin.shown === 0) continue
      if ((neighbor.told.get(originId) ?? 0) >= origin.shown) continue
      neighbor.told.set(originId, origin.shown)
      delta[originId] = origin.shown
    }
    return delta
  }

  // ---- views ---------------------------------------------------------------------------------------

  /** Highest seq of `origin` durable and shown here. */
  shownOf(originId: string): number {
    return this.origins.get(originId)?.shown ?? 0
  }

  receivedOf(originId: string): number {
    return this.origins.get(originId)?.received ?? 0
  }

  /** The member as this node knows it (the newest name it used), if it is a member. */
  peerOf(originId: string): PeerInfo | undefined {
    const origin = this.origins.get(originId)
    return origin?.known ? origin.peer : undefined
  }

  /** The recent messages kept for `origin`, oldest first. */
  logOf(originId: string): readonly Msg[] {
    return this.origins.get(originId)?.log ?? []
  }

  /** Messages buffered because they are out of order or not verified yet, over all origins. */
  get waitingCount(): number {
    let count = 0
    for (const neighbor of this.neighbors.values()) count += neighbor.waiting
    return count
  }

  /** Every member but this node: every origin seen and every neighbour. */
  members(): RoomMember[] {
    const anyRelayOpen = [...this.neighbors.values()].some((n) => n.open && n.relays)
    const out: RoomMember[] = []
    for (const origin of this.origins.values()) {
      if (origin === this.own || !origin.known) continue
      const neighbor = this.neighbors.get(origin.peer.id)
      out.push({
        peer: origin.peer,
        direct: neighbor !== undefined,
        connected: neighbor ? neighbor.open : anyRelayOpen,
      })
    }
    return out
  }

  // ---- inside --------------------------------------------------------------------------------------

  private neighbor(id: string): Neighbor {
    let neighbor = this.neighbors.get(id)
    if (!neighbor) {
      neighbor = {
        id,
        has: new Map(),
        sentUpTo: new Map(),
        told: new Map(),
        floor: new Map(),
        bases: new Map(),
        relays: false,
        restarted: false,
        open: false,
        resumed: false,
        waiting: 0,
      }
      this.neighbors.set(id, neighbor)
    }
    return neighbor
  }

  private originFor(peer: PeerInfo): Origin {
    let origin = this.origins.get(peer.id)
    if (!origin) {
      origin = newOrigin(peer, 0)
      this.origins.set(peer.id, origin)
    }
    return origin
  }

  /** Accepts whatever the buffer now allows, in order, for as long as it can. */
  private settle(origin: Origin, out: RoomEffect[]): void {
    // A relayed run must extend a checked chain, or its signature would vouch for what was never checked.
    if (origin.deferred) this.checkDeferred(origin, out)
    for (;;) {
      const slot = origin.waiting.get(origin.received + 1)
      if (!slot) {
        if (!this.jumpIfStuck(origin, out)) return
        continue
      }
      if (!this.auth) {
        this.accept(origin, slot.values().next().value!.msg, undefined, out)
        origin.verified = origin.received
        continue
      }
      const direct = [...slot.values()].find((c) => c.trusted)
      if (direct) {
        this.acceptTrusted(origin, direct.msg, out)
        continue
      }
      let progressed = false
      for (const neighborId of [...slot.keys()]) {
        const verdict = this.tryRun(origin, neighborId, out)
        if (verdict === 'accepted') {
          progressed = true
          break
        }
        if (verdict === 'forged') this.refuseForged(origin, neighborId, out)
      }
      if (!progressed) return
    }
  }

  /**
   * Nobody sent the next message, but a neighbour said its window of this origin starts later and sent
   * what follows: jump to its base (catch-up is within a window), if what it sent checks out.
   */
  private jumpIfStuck(origin: Origin, out: RoomEffect[]): boolean {
    const originId = origin.peer.id
    for (const neighbor of this.neighbors.values()) {
      const base = neighbor.bases.get(originId)
      if (base === undefined || base <= origin.received) continue
      const candidate = origin.waiting.get(base + 1)?.get(neighbor.id)
      if (!candidate) continue
      if (!this.auth) {
        this.jump(origin, base, out)
        return true
      }
      if (candidate.trusted) {
        this.jump(origin, base, out)
        this.acceptTrusted(origin, candidate.msg, out)
        return true
      }
      const verdict = this.tryRun(origin, neighbor.id, out, base)
      if (verdict === 'accepted') return true
      if (verdict === 'forged') this.refuseForged(origin, neighbor.id, out)
    }
    return false
  }

  private refuseForged(origin: Origin, neighborId: string, out: RoomEffect[]): void {
    this.dropCandidates(origin, neighborId)
    out.push(
      refuse({
        neighbor: neighborId,
        code: 'FORGED',
        message: `relayed messages of ${origin.peer.name} [${origin.peer.id.slice(0, 8)}] do not carry its valid signature`,
      }),
    )
  }

  /**
   * Checks the run of messages neighbour `neighborId` sent after `after` (normally `received`; higher
   * for a jump): each must link to the one before it, and the run is accepted up to the first signed
   * message whose signature checks.
   */
  private tryRun(
    origin: Origin,
    neighborId: string,
    out: RoomEffect[],
    after = origin.received,
  ): 'accepted' | 'forged' | 'incomplete' {
    const auth = this.auth!
    // Inside an unverified run of trusted messages, the next one must extend it; after a verified message
    // a mismatch is the origin's own fork (it restarted without its journal), judged by its signature.
    const jumping = after > origin.received
    let expected = !jumping && origin.verified < origin.received ? origin.head : undefined
    const run: { msg: Msg; hash: string }[] = []
    for (let seq = after + 1; ; seq++) {
      const candidate = origin.waiting.get(seq)?.get(neighborId)
      if (!candidate) return 'incomplete'
      const { msg } = candidate
      if (msg.prev === undefined) return 'forged'
      if (expected !== undefined && msg.prev !== expected) return 'forged'
      candidate.hash ??= auth.chain(msg.prev, msg)
      run.push({ msg, hash: candidate.hash })
      expected = candidate.hash
      if (msg.sig === undefined) continue
      if (!auth.verify(origin.peer.id, candidate.hash, msg.sig)) return 'forged'
      if (jumping) this.jump(origin, after, out)
      for (const item of run) this.accept(origin, item.msg, item.hash, out)
      origin.verified = origin.received
      return 'accepted'
    }
  }

  /** A message straight from its origin: accepted now; its chain and signature are checked as they come. */
  private acceptTrusted(origin: Origin, msg: Msg, out: RoomEffect[]): void {
    const auth = this.auth!
    if (msg.prev === undefined) {
      // A neighbour that does not sign (an older parley): its link vouches for its words, but nothing
      // downstream could check them, so they are shown here and never relayed.
      this.accept(origin, msg, undefined, out)
      return
    }
    if (!this.relayWanted(origin)) {
      // Shown on the strength of the link alone; hashing and the signature wait until someone needs them.
      this.accept(origin, msg, undefined, out)
      origin.deferred = true
      return
    }
    if (origin.deferred) this.checkDeferred(origin, out)
    const openRun = origin.verified < origin.received
    let broken: string | undefined
    if (openRun && origin.head !== undefined && msg.prev !== origin.head)
      broken = 'its messages break their own chain'
    const hash = auth.chain(msg.prev, msg)
    if (!broken && msg.sig !== undefined && !auth.verify(origin.peer.id, hash, msg.sig))
      broken = 'its signature does not check'
    this.accept(origin, msg, hash, out)
    if (broken) {
      out.push(
        refuse({
          neighbor: origin.peer.id,
          code: 'FORGED',
          message: `${origin.peer.name}: ${broken}`,
        }),
      )
    } else if (msg.sig !== undefined) origin.verified = origin.received
  }

  /** Some open neighbour other than the origin relays, so the origin's messages may have to be forwarded. */
  private relayWanted(origin: Origin): boolean {
    for (const n of this.neighbors.values()) if (n.open && n.relays && n.id !== origin.peer.id) return true
    return false
  }

  /**
   * Checks the run of messages taken unchecked from the origin, as a run from a relay is checked: each must
   * link to the one before it (the first one's `prev` is taken as given, as after a verified message), and
   * the newest signature vouches for the run up to it. A broken run closes the origin's link (FORGED).
   */
  private checkDeferred(origin: Origin, out: RoomEffect[]): void {
    origin.deferred = false
    const auth = this.auth!
    const log = origin.log
    let expected: string | undefined
    let signed: { seq: number; hash: string; sig: string } | undefined
    let broken: string | undefined
    const start = this.indexOf(origin, origin.verified + 1)
    for (let i = start; i < log.length; i++) {
      const msg = log[i]!
      if (msg.prev === undefined) {
        // An older parley's words are never relayed; nothing after them can be linked either.
        origin.head = undefined
        return
      }
      if (expected !== undefined && msg.prev !== expected) {
        broken = 'its messages break their own chain'
        break
      }
      expected = auth.chain(msg.prev, msg)
      if (msg.sig !== undefined) signed = { seq: msg.seq, hash: expected, sig: msg.sig }
    }
    if (!broken && signed && !auth.verify(origin.peer.id, signed.hash, signed.sig))
      broken = 'its signature does not check'
    if (broken) {
      origin.head = undefined
      out.push(
        refuse({
          neighbor: origin.peer.id,
          code: 'FORGED',
          message: `${origin.peer.name}: ${broken}`,
        }),
      )
      return
    }
    if (expected !== undefined) origin.head = expected
    if (signed) origin.verified = signed.seq
  }

  private accept(origin: Origin, received: Msg, hash: string | undefined, out: RoomEffect[]): void {
    const slot = origin.waiting.get(received.seq)
    if (slot) {
      origin.waiting.delete(received.seq)
      for (const neighborId of slot.keys()) {
        const neighbor = this.neighbors.get(neighborId)
        if (!neighbor) continue
        neighbor.waiting--
        raise(neighbor.has, origin.peer.id, received.seq)
      }
    }
    origin.received = received.seq
    origin.head = hash
    // The kept copy is the one that goes on: with one hop fewer (the hops are not signed), and with the
    // origin's own id and name strings, so each decoded message need not keep its copies alive.
    const msg: Msg = { ...received, from: origin.peer.id, hops: this.hopsLeft(received) }
    if (msg.name !== undefined && msg.name === origin.peer.name) msg.name = origin.peer.name
    origin.log.push(msg)
    this.trim(origin)
    if (msg.name !== undefined && msg.name !== origin.peer.name && !this.neighbors.get(origin.peer.id)?.open)
      origin.peer = { id: origin.peer.id, name: msg.name }
    if (!origin.known) {
      origin.known = true
      if (origin.jumpedTo !== undefined) out.push({ type: 'jump', peer: origin.peer, seq: origin.jumpedTo })
      out.push({ type: 'join', peer: origin.peer })
    }
    out.push({ type: 'accept', msg })
  }

  /**
   * Keeps the newest `windowSize` messages of a member. An older one stays while it is not shown and
   * verified yet, or while a connected neighbour still has to be sent it, up to twice the window: a
   * neighbour that falls further behind than that is told to jump.
   */
  private trim(origin: Origin): void {
    if (origin === this.own) return
    const log = origin.log
    while (log.length > this.windowSize) {
      const first = log[0]!.seq
      if (log.length <= this.windowSize * 2) {
        const checked = origin.deferred ? origin.received : origin.verified
        if (first > Math.min(origin.shown, checked)) return
        if (this.stillOwed(origin, first)) return
      }
      log.shift()
    }
  }

  private stillOwed(origin: Origin, seq: number): boolean {
    const originId = origin.peer.id
    for (const n of this.neighbors.values()) {
      if (!n.open || !n.relays || n.id === originId) continue
      if (Math.max(n.sentUpTo.get(originId) ?? 0, n.has.get(originId) ?? 0) < seq) return true
    }
    return false
  }

  /** The origin's window moved on past what we have: continue after `base`. */
  private jump(origin: Origin, base: number, out: RoomEffect[]): void {
    for (const seq of [...origin.waiting.keys()]) if (seq <= base) this.dropSlot(origin, seq)
    origin.received = base
    origin.shown = Math.max(origin.shown, base)
    origin.verified = base
    origin.head = undefined
    origin.log = []
    // A member first met through its window's start is persisted once its first message checks out.
    if (origin.known) out.push({ type: 'jump', peer: origin.peer, seq: base })
    else origin.jumpedTo = base
  }

  /** What we send on: the kept message (its hops already lowered), or nothing once its hops are spent. */
  private forwardCopy(origin: Origin, msg: Msg): Msg | undefined {
    if (origin === this.own) return msg
    return (msg.hops ?? DEFAULT_HOPS) >= 1 ? msg : undefined
  }

  /** The hops a received message has left once we send it on. */
  private hopsLeft(msg: Msg): number {
    return Math.min(msg.hops ?? DEFAULT_HOPS, this.hopLimit) - 1
  }

  /** A second copy that may travel further than the first replaces it, so the hop limit counts the shorter path. */
  private keepHigherHops(origin: Origin, msg: Msg): void {
    const first = origin.log[0]?.seq
    if (first === undefined || msg.seq < first) return
    const index = msg.seq - first
    const kept = origin.log[index]
    const hops = this.hopsLeft(msg)
    if (!kept || hops <= (kept.hops ?? DEFAULT_HOPS) || kept.id !== msg.id) return
    origin.log[index] = { ...kept, hops }
  }

  private hashOf(msg: Msg | undefined): string | undefined {
    if (!this.auth || msg?.prev === undefined) return undefined
    return this.auth.chain(msg.prev, msg)
  }

  private indexOf(origin: Origin, seq: number): number {
    const first = origin.log[0]?.seq ?? seq
    return Math.max(0, seq - first)
  }

  private dropSlot(origin: Origin, seq: number): void {
    const slot = origin.waiting.get(seq)
    if (!slot) return
    origin.waiting.delete(seq)
    for (const neighborId of slot.keys()) {
      const neighbor = this.neighbors.get(neighborId)
      if (neighbor) neighbor.waiting--
    }
  }

  private dropCandidates(origin: Origin, neighborId: string): void {
    const neighbor = this.neighbors.get(neighborId)
    for (const [seq, slot] of origin.waiting) {
      if (!slot.delete(neighborId)) continue
      if (neighbor) neighbor.waiting--
      if (slot.size === 0) origin.waiting.delete(seq)
    }
    this.forgetIfInvented(origin)
  }

  private dropCandidatesOf(neighbor: Neighbor): void {
    if (neighbor.waiting === 0) return
    for (const origin of [...this.origins.values()]) this.dropCandidates(origin, neighbor.id)
  }

  private dropAllCandidates(origin: Origin): void {
    for (const seq of [...origin.waiting.keys()]) this.dropSlot(origin, seq)
  }

  /** An origin that only a relay's unverified messages spoke of is forgotten with them. */
  private forgetIfInvented(origin: Origin): void {
    if (!origin.known && origin.waiting.size === 0) this.origins.delete(origin.peer.id)
  }
}

function newOrigin(peer: PeerInfo, received: number): Origin {
  return {
    peer,
    received,
    shown: received,
    verified: received,
    log: [],
    waiting: new Map(),
    known: false,
  }
}

function refuse(refusal: Refusal): RoomEffect {
  return { type: 'refuse', refusal }
}

function raise(map: Map<string, number>, key: string, value: number): void {
  if (value > (map.get(key) ?? 0)) map.set(key, value)
}
