/**
 * What one node's room knows: every origin's recent messages and watermarks, what each neighbour has and
 * was sent, the candidates waiting to be checked, and our own stream. `Room` takes its decisions on top.
 */
import type { PeerInfo } from './peer-machine.js'
import { type HeldReport, RoomLedger, weigh } from './room-ledger.js'
import {
  ACK_ENTRY_RATE,
  type Candidate,
  cutLevel,
  type Gap,
  MAX_GAPS,
  type MessageAuth,
  type Neighbor,
  newOrigin,
  type Origin,
  type Outgoing,
  type Refusal,
  type RestoredRoom,
  ROOM_DEFAULTS,
  type RoomEffect,
  type RoomMember,
  type RoomOptions,
  raise,
  refuse,
  WINDOW_BYTES,
  WINDOWS_TOTAL_BYTES,
} from './room-types.js'
import { DEFAULT_HOPS, type Msg } from './schema.js'

/**
 * A catch-up that waits for its allowances goes on once this many bytes may go at once, so that it wakes
 * a few times a second rather than once a message.
 */
export const CATCH_UP_CHUNK = 64 * 1024

export class RoomBook {
  readonly self: PeerInfo
  protected readonly auth?: MessageAuth
  protected readonly windowSize: number
  /** Bytes one other origin's window holds at most, and all of them together (see `WINDOW_BYTES`). */
  protected readonly windowBytes: number
  protected readonly windowsTotal: number
  /** What every other origin's window holds together, in bytes. */
  protected windowsHeld = 0
  /**
   * A shrink that could not reach its target (what is not shown or checked yet stays): the next waits
   * until the windows hold a quarter more than it left, so that it does not run again for every message.
   */
  private shrinkFloor = 0
  protected readonly waitingCap: number
  protected readonly maxOrigins: number
  protected readonly hopLimit: number
  /** What each open neighbour's link makes this node hold, against its budgets. */
  protected readonly ledger: RoomLedger
  protected readonly own: Origin
  protected readonly origins = new Map<string, Origin>()
  protected readonly neighbors = new Map<string, Neighbor>()
  /** Origins with an open gap, oldest first. */
  protected readonly gaps = new Set<Origin>()
  /** Our own messages up to this seq are signed (sealed). */
  protected sealedUpTo = 0
  /** Every neighbour acknowledged our messages up to this seq: the rest is the outbox. */
  protected ownSettled = 0
  /** Lines in the outbox beyond one per message (messages of several `lines`). */
  protected ownLines = 0

  constructor(options: RoomOptions, restored?: RestoredRoom) {
    this.self = options.self
    if (options.auth) this.auth = options.auth
    this.windowSize = Math.max(1, options.windowSize ?? ROOM_DEFAULTS.windowSize)
    this.windowBytes = Math.max(1, options.windowBytes?.each ?? WINDOW_BYTES)
    this.windowsTotal = Math.max(this.windowBytes, options.windowBytes?.total ?? WINDOWS_TOTAL_BYTES)
    this.waitingCap = Math.max(1, options.waitingCap ?? ROOM_DEFAULTS.waitingCap)
    this.maxOrigins = options.maxOrigins ?? ROOM_DEFAULTS.maxOrigins
    this.hopLimit = Math.min(options.hopLimit ?? DEFAULT_HOPS, DEFAULT_HOPS)
    this.ledger = new RoomLedger(options.budgets ?? {}, options.maxNeighbors ?? ROOM_DEFAULTS.maxNeighbors)
    const sent = (restored?.nextSeq ?? 1) - 1
    this.own = newOrigin(this.self, sent)
    this.own.known = true
    this.own.log = [...(restored?.recent ?? restored?.outbox ?? [])]
    this.ownSettled = (restored?.outbox[0]?.seq ?? sent + 1) - 1
    for (const msg of restored?.outbox ?? []) if (msg.lines !== undefined) this.ownLines += msg.lines - 1
    this.own.head = this.hashOf(restored?.lastSent)
    this.sealedUpTo = sent
    this.origins.set(this.self.id, this.own)
    for (const r of restored?.origins ?? []) {
      const origin = newOrigin(r.peer, r.received)
      origin.known = true
      this.setLog(origin, r.log.slice(-this.windowSize))
      this.trim(origin)
      const first = origin.log[0]
      if (this.auth && first) {
        // The journal may hold messages taken unchecked from their origin: they are checked, as any
        // deferred run is, before the first of them is relayed.
        origin.verified = first.seq - 1
        origin.deferred = true
      }
      if (r.reset) {
        origin.awaitsOwnLink = true
        origin.resetAfter = r.resetAfter
      }
      this.origins.set(r.peer.id, origin)
      if (r.neighbor) this.neighbor(r.peer.id)
    }
    if (this.windowsHeld > this.windowsTotal) this.shrinkWindows()
  }

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

  /** How many lines the outbox holds: a message of several `lines` counts each. */
  get pendingLines(): number {
    return this.own.received - this.ownSettled + this.ownLines
  }

  /** Adds one of our messages (its seq, `from` and chain link are filled in); it goes out once sealed and durable. */
  compose(fields: { id: string; ts: number; body: string; name?: string; lines?: number; more?: true }): Msg {
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
    if (fields.lines !== undefined) {
      msg.lines = fields.lines
      this.ownLines += fields.lines - 1
    }
    if (fields.more) msg.more = true
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
   * Neighbour `id` has our stream further, or otherwise, than we do (see `OwnFork`): none of ours goes to
   * it, and none of its acks of ours counts, for the rest of the run.
   */
  forkedWith(id: string): boolean {
    return this.neighbors.get(id)?.forked === true
  }

  /** Our messages up to this seq left the outbox. */
  get ownSettledUpTo(): number {
    return this.ownSettled
  }

  /**
   * Every neighbour has our messages up to `seq`: they leave the outbox, and stay in our window only, for
   * members who connect later.
   */
  settleOwn(seq: number): void {
    const settled = Math.max(this.ownSettled, Math.min(seq, this.own.received))
    const log = this.own.log
    if (this.ownLines > 0 && settled > this.ownSettled) {
      for (let i = Math.max(0, this.indexOf(this.own, this.ownSettled + 1)); i < log.length; i++) {
        const msg = log[i]!
        if (msg.seq > settled) break
        if (msg.lines !== undefined) this.ownLines -= msg.lines - 1
      }
    }
    this.ownSettled = settled
    let drop = 0
    while (log.length - drop > this.windowSize && log[drop]!.seq <= this.ownSettled) drop++
    // One splice per ack: shifting a log of thousands once per message moved the whole log each time.
    dropOldest(log, drop)
  }

  /** The message `seq` of `origin` is durable and shown. */
  markShown(originId: string, seq: number): void {
    const origin = this.origins.get(originId)
    if (!origin) return
    origin.shown = Math.max(origin.shown, Math.min(seq, origin.received))
    this.trim(origin)
  }

  /**
   * What the neighbour's link should carry next, in order per origin: every verified message it does not
   * have (never its own, never one whose hops are spent), as the copy to send. Ours go once durable;
   * another origin's go before they are durable here, since the neighbour that sent them keeps them
   * until our ack, and acks claim only what is shown. Stop early when the link pushes back. Its catch-up
   * (`noteCatchUp`) goes while the catch-up allowances at `now` (ms) last: past them, that origin's rest
   * waits, in order, for `catchUpWait`, and other origins' news still goes.
   */
  *outgoing(id: string, only?: string, now = 0): Generator<Outgoing> {
    const neighbor = this.neighbors.get(id)
    if (!neighbor?.open || !neighbor.resumed) return
    // Only a run over every origin can tell that nothing waits for the allowances any more.
    if (only === undefined) neighbor.pacedFor = 0
    // Catch-up taken for the message yielded last: given back if the caller stops before asking for more.
    let owed = 0
    try {
      const origins = only === undefined ? this.origins.values() : [this.origins.get(only)]
      for (const origin of origins) {
        if (!origin || origin.peer.id === id) continue
        if (origin !== this.own && !neighbor.relays) continue
        if (origin === this.own && neighbor.forked) continue
        const originId = origin.peer.id
        const limit = origin === this.own ? Math.min(origin.shown, origin.verified) : origin.verified
        for (;;) {
          const next = Math.max(neighbor.sentUpTo.get(originId) ?? 0, neighbor.has.get(originId) ?? 0) + 1
          if (next > limit || origin.log.length === 0) break
          const first = origin.log[0]!.seq
          if (next < first) {
            // Our window moved on while the neighbour lagged: it must jump, or it would wait forever.
            yield { kind: 'base', origin: originId, seq: first - 1 }
            raise(neighbor.sentUpTo, originId, first - 1)
            this.caughtUp(neighbor, originId, first - 1)
            continue
          }
          const msg = origin.log[next - first]!
          const copy = this.forwardCopy(origin, msg)
          if (copy) {
            if (neighbor.catchUp.size > 0 && next <= (neighbor.catchUp.get(originId) ?? 0)) {
              const bytes = weigh(copy)
              if (!this.ledger.takeCatchUp(neighbor, bytes, now)) {
                neighbor.pacedFor = bytes
                break
              }
              owed = bytes
            }
            yield { kind: 'msg', msg: copy }
            owed = 0
          }
          raise(neighbor.sentUpTo, originId, next)
          this.caughtUp(neighbor, originId, next)
          this.trim(origin)
        }
      }
    } finally {
      if (owed > 0) this.ledger.giveBackCatchUp(neighbor, owed, now)
    }
  }

  /**
   * Milliseconds until the neighbour's catch-up, which waits for the allowances, may go on (0: now);
   * undefined when none of it waits. It goes on once `CATCH_UP_CHUNK` may go at once.
   */
  catchUpWait(id: string, now: number): number | undefined {
    const neighbor = this.neighbors.get(id)
    if (!neighbor?.open || neighbor.pacedFor === 0) return undefined
    if (neighbor.catchUp.size === 0) {
      neighbor.pacedFor = 0
      return undefined
    }
    return this.ledger.catchUpWait(neighbor, Math.max(neighbor.pacedFor, CATCH_UP_CHUNK), now)
  }

  /** Catch-up bytes taken from the allowances so far, all neighbours together. */
  get catchUpServed(): number {
    return this.ledger.catchUp.served
  }

  /**
   * The neighbour's link resumed (its opening ack said what it has): what it lacks now, of every window
   * and of our messages that everyone we wait for has (not the outbox, which is news), is its catch-up.
   * A neighbour back after a short absence lacks little; one with throwaway keys, everything, each time.
   */
  protected noteCatchUp(neighbor: Neighbor): void {
    neighbor.catchUp.clear()
    neighbor.pacedFor = 0
    for (const origin of this.origins.values()) {
      const originId = origin.peer.id
      if (originId === neighbor.id) continue
      if (origin === this.own ? neighbor.forked : !neighbor.relays) continue
      const limit =
        origin === this.own ? Math.min(origin.shown, origin.verified, this.ownSettled) : origin.verified
      const known = Math.max(neighbor.sentUpTo.get(originId) ?? 0, neighbor.has.get(originId) ?? 0)
      if (limit > known) neighbor.catchUp.set(originId, limit)
    }
  }

  /** The neighbour's link carried `originId` up to `seq`: its catch-up of that origin may be over. */
  private caughtUp(neighbor: Neighbor, originId: string, seq: number): void {
    if (neighbor.catchUp.size === 0) return
    const horizon = neighbor.catchUp.get(originId)
    if (horizon !== undefined && seq >= horizon) neighbor.catchUp.delete(originId)
  }

  /**
   * The `have` entries the neighbour has not been told yet (all of them right after `linkOpened`), but
   * for origins it already has as far (it sent them to us, said so, or we sent them): news to nobody.
   */
  haveDelta(id: string): Record<string, number> {
    const neighbor = this.neighbors.get(id)
    const delta: Record<string, number> = {}
    if (!neighbor?.relays) return delta
    for (const origin of this.origins.values()) {
      const originId = origin.peer.id
      // Seqs still open in a gap are not claimed, so a neighbour that links up sends them.
      const shown = origin.gap ? Math.min(origin.shown, origin.gap.lo - 1) : origin.shown
      if (origin === this.own || originId === id || shown === 0) continue
      if ((neighbor.told.get(originId) ?? 0) >= shown) continue
      const known = Math.max(neighbor.has.get(originId) ?? 0, neighbor.sentUpTo.get(originId) ?? 0)
      if (known >= shown) continue
      neighbor.told.set(originId, shown)
      delta[originId] = shown
    }
    return delta
  }

  /**
   * Notes that an ack tells neighbour `id` we showed its stream up to `upTo`; false when an earlier ack on
   * this link already said as much.
   */
  tellUpTo(id: string, upTo: number): boolean {
    const neighbor = this.neighbors.get(id)
    if (!neighbor) return true
    if (upTo <= neighbor.toldUpTo) return false
    neighbor.toldUpTo = upTo
    return true
  }

  /** The neighbour's link dropped our acks while it was blocked: the next ack tells its `upTo` again. */
  acksDropped(id: string): void {
    const neighbor = this.neighbors.get(id)
    if (neighbor) neighbor.toldUpTo = -1
  }

  /** Highest seq of `origin` durable and shown here. */
  shownOf(originId: string): number {
    return this.origins.get(originId)?.shown ?? 0
  }

  receivedOf(originId: string): number {
    return this.origins.get(originId)?.received ?? 0
  }

  /** The id of message `seq` of `originId`, while this node keeps it. */
  idAt(originId: string, seq: number): string | undefined {
    const log = this.origins.get(originId)?.log
    const first = log?.[0]?.seq
    return first === undefined || seq < first ? undefined : log![seq - first]?.id
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

  /** What each open neighbour's link makes this node hold, against the budgets. */
  held(): HeldReport & { readonly windows: number } {
    return { ...this.ledger.held(), windows: this.windowsHeld }
  }

  /** Whether neighbour `id` may link now (see `RoomLedger.admit`). */
  admitNeighbor(id: string, dialed: boolean): Refusal | undefined {
    return this.ledger.admit(id, dialed)
  }

  /** Every member but this node: every origin seen and every neighbour. */
  members(): RoomMember[] {
    const anyRelayOpen = [...this.neighbors.values()].some((n) => n.open && n.relays)
    const out: RoomMember[] = []
    for (const origin of this.origins.values()) {
      if (origin === this.own || !(origin.known || origin.here)) continue
      const neighbor = this.neighbors.get(origin.peer.id)
      const member: RoomMember = {
        peer: origin.peer,
        direct: neighbor !== undefined,
        connected: neighbor ? neighbor.open : anyRelayOpen,
        ...(origin.here ? { here: origin.here } : {}),
      }
      const throughMesh = neighbor !== undefined && !neighbor.open && !neighbor.left && anyRelayOpen
      out.push(throughMesh ? { ...member, throughMesh: true } : member)
    }
    return out
  }

  protected neighbor(id: string): Neighbor {
    let neighbor = this.neighbors.get(id)
    if (!neighbor) {
      neighbor = {
        id,
        has: new Map(),
        sentUpTo: new Map(),
        told: new Map(),
        toldUpTo: -1,
        floor: new Map(),
        bases: new Map(),
        relays: false,
        namedUpTo: -1,
        restarted: false,
        forked: false,
        open: false,
        resumed: false,
        waiting: 0,
        source: undefined,
        catchUp: new Map(),
        pacedFor: 0,
        ackEntries: ACK_ENTRY_RATE.burst,
        ackRefilledAt: 0,
        // Not linked in this run yet (restored from the journal, say): nothing says the mesh reaches it.
        left: true,
      }
      this.neighbors.set(id, neighbor)
    }
    return neighbor
  }

  protected originFor(peer: PeerInfo): Origin {
    let origin = this.origins.get(peer.id)
    if (!origin) {
      origin = newOrigin(peer, 0)
      this.origins.set(peer.id, origin)
    }
    return origin
  }

  /** Some open neighbour other than the origin relays, so the origin's messages may have to be forwarded. */
  protected relayWanted(origin: Origin): boolean {
    for (const n of this.neighbors.values()) if (n.open && n.relays && n.id !== origin.peer.id) return true
    return false
  }

  /**
   * Keeps the newest `windowSize` messages of a member. An older one stays while it is not shown and
   * verified yet, or while a connected neighbour still has to be sent it, up to twice the window: a
   * neighbour that falls further behind than that is told to jump.
   */
  protected trim(origin: Origin): void {
    if (origin === this.own) return
    const log = origin.log
    let drop = 0
    let bytes = origin.logBytes
    for (;;) {
      const left = log.length - drop
      const overCount = left > this.windowSize
      // Past its bytes, a window keeps what is not shown or checked yet, and owes no neighbour: a
      // neighbour that lags behind what is dropped is told to jump, as past twice the count.
      const overBytes = left > 1 && bytes > this.windowBytes
      if (!overCount && !overBytes) break
      if (!overCount || left <= this.windowSize * 2) {
        const first = log[drop]!.seq
        const checked = origin.deferred ? origin.received : origin.verified
        if (first > Math.min(origin.shown, checked)) break
        if (!overBytes && this.stillOwed(origin, first)) break
      }
      bytes -= weigh(log[drop]!)
      drop++
    }
    this.dropFromLog(origin, drop, origin.logBytes - bytes)
    if (this.windowsHeld > Math.max(this.windowsTotal, this.shrinkFloor)) this.shrinkWindows()
  }

  /**
   * All windows together hold more than `windowsTotal`: the largest are cut to one level, oldest messages
   * first, until they hold three quarters of it (so that this runs once in a while, not per message).
   * A window keeps what is not shown or checked yet.
   */
  protected shrinkWindows(): void {
    const target = Math.floor((this.windowsTotal * 3) / 4)
    const ranked = [...this.origins.values()]
      .filter((o) => o !== this.own && o.logBytes > 0)
      .sort((a, b) => b.logBytes - a.logBytes)
    const level = cutLevel(
      ranked.map((o) => o.logBytes),
      target,
    )
    for (const origin of ranked) {
      if (origin.logBytes <= level) break
      const log = origin.log
      const limit = Math.min(origin.shown, origin.deferred ? origin.received : origin.verified)
      let drop = 0
      let bytes = origin.logBytes
      while (drop < log.length && bytes > level && log[drop]!.seq <= limit) {
        bytes -= weigh(log[drop]!)
        drop++
      }
      this.dropFromLog(origin, drop, origin.logBytes - bytes)
    }
    this.shrinkFloor = this.windowsHeld > target ? Math.floor(this.windowsHeld * 1.25) : 0
  }

  /** Sets an origin's window (at a restore, or emptied by a jump), keeping the byte counts true. */
  protected setLog(origin: Origin, log: Msg[]): void {
    if (origin !== this.own) {
      let bytes = 0
      for (const msg of log) bytes += weigh(msg)
      this.windowsHeld += bytes - origin.logBytes
      origin.logBytes = bytes
    }
    origin.log = log
  }

  /** Adds a message to an origin's window; `trim` keeps it within its limits. */
  protected keepInLog(origin: Origin, msg: Msg): void {
    origin.log.push(msg)
    if (origin === this.own) return
    const bytes = weigh(msg)
    origin.logBytes += bytes
    this.windowsHeld += bytes
  }

  /** Drops the `count` oldest messages of an origin's window, which weigh `bytes` together (the caller counted them). */
  protected dropFromLog(origin: Origin, count: number, bytes: number): void {
    if (count <= 0) return
    if (origin !== this.own) {
      origin.logBytes -= bytes
      this.windowsHeld -= bytes
    }
    dropOldest(origin.log, count)
  }

  /** An origin leaves the room: what its window held is no longer counted. */
  protected forgetOrigin(origin: Origin): void {
    this.windowsHeld -= origin.logBytes
    origin.logBytes = 0
    this.origins.delete(origin.peer.id)
  }

  protected stillOwed(origin: Origin, seq: number): boolean {
    const originId = origin.peer.id
    for (const n of this.neighbors.values()) {
      if (!n.open || !n.relays || n.id === originId) continue
      if (Math.max(n.sentUpTo.get(originId) ?? 0, n.has.get(originId) ?? 0) < seq) return true
    }
    return false
  }

  /** What we send on: the kept message (its hops already lowered), or nothing once its hops are spent. */
  protected forwardCopy(origin: Origin, msg: Msg): Msg | undefined {
    if (origin === this.own) return msg
    return (msg.hops ?? DEFAULT_HOPS) >= 1 ? msg : undefined
  }

  /** The hops a received message has left once we send it on. */
  protected hopsLeft(msg: Msg): number {
    return Math.min(msg.hops ?? DEFAULT_HOPS, this.hopLimit) - 1
  }

  /** A second copy that may travel further than the first replaces it, so the hop limit counts the shorter path. */
  protected keepHigherHops(origin: Origin, msg: Msg): void {
    const first = origin.log[0]?.seq
    if (first === undefined || msg.seq < first) return
    const index = msg.seq - first
    const kept = origin.log[index]
    const hops = this.hopsLeft(msg)
    if (!kept || hops <= (kept.hops ?? DEFAULT_HOPS) || kept.id !== msg.id) return
    origin.log[index] = { ...kept, hops }
  }

  protected hashOf(msg: Msg | undefined): string | undefined {
    if (!this.auth || msg?.prev === undefined) return undefined
    return this.auth.chain(msg.prev, msg)
  }

  protected indexOf(origin: Origin, seq: number): number {
    const first = origin.log[0]?.seq ?? seq
    return Math.max(0, seq - first)
  }

  protected dropSlot(origin: Origin, seq: number): void {
    const slot = origin.waiting.get(seq)
    if (!slot) return
    origin.waiting.delete(seq)
    for (const [neighborId, candidate] of slot) this.unbuffer(neighborId, candidate)
  }

  /** A candidate left the buffers (accepted or dropped): its neighbour holds that much less. */
  protected unbuffer(neighborId: string, candidate: Candidate): void {
    const neighbor = this.neighbors.get(neighborId)
    if (neighbor) neighbor.waiting--
    this.ledger.links.release(neighborId, 'buffered', candidate.bytes)
  }

  /** Counts a candidate against its neighbour's reorder budget: a refusal when it does not fit. */
  protected buffer(neighbor: Neighbor, bytes: number, out: RoomEffect[]): Refusal | undefined {
    if (neighbor.waiting >= this.waitingCap)
      return {
        neighbor: neighbor.id,
        code: 'FLOOD',
        message: `sent more than ${this.waitingCap} messages that cannot be shown yet`,
      }
    let charge = this.ledger.links.charge(neighbor.id, 'buffered', bytes)
    if (!charge.ok && charge.over === 'total') {
      // All links together are full: the link holding the most goes, not the one that asked last, so
      // neighbours that park just under their own budget cannot keep everyone else from buffering a burst.
      const own = this.ledger.links.accountOf(neighbor.id)?.held.buffered ?? 0
      const fullest = this.ledger.links.fullest('buffered', neighbor.id)
      const evicted = fullest && fullest.held > own + bytes ? this.neighbors.get(fullest.key) : undefined
      if (evicted) {
        this.dropCandidatesOf(evicted)
        const message = `held the most buffered messages (${fullest!.held} bytes) when all links together reached ${this.ledger.links.budgets.total} bytes`
        out.push(refuse({ neighbor: evicted.id, code: 'OVER_BUDGET', message }))
        charge = this.ledger.links.charge(neighbor.id, 'buffered', bytes)
      }
    }
    if (!charge.ok) return { neighbor: neighbor.id, code: 'OVER_BUDGET', message: charge.reason }
    neighbor.waiting++
    return undefined
  }

  protected dropCandidates(origin: Origin, neighborId: string): void {
    for (const [seq, slot] of origin.waiting) {
      const candidate = slot.get(neighborId)
      if (!candidate) continue
      slot.delete(neighborId)
      this.unbuffer(neighborId, candidate)
      if (slot.size === 0) origin.waiting.delete(seq)
    }
    this.dropGapRun(origin, neighborId)
    this.forgetIfInvented(origin)
  }

  protected dropGapRun(origin: Origin, neighborId: string): void {
    const run = origin.gap?.runs.get(neighborId)
    if (!run) return
    origin.gap!.runs.delete(neighborId)
    for (const candidate of run) this.unbuffer(neighborId, candidate)
  }

  /** Closes an origin's gap: what waited to fill it is dropped. */
  protected dropGap(origin: Origin): void {
    const gap = origin.gap
    if (!gap) return
    for (const neighborId of [...gap.runs.keys()]) this.dropGapRun(origin, neighborId)
    origin.gap = undefined
    this.gaps.delete(origin)
  }

  /** Opens a gap for `origin` (replacing its old one), closing the oldest open gap past MAX_GAPS. */
  protected openGap(origin: Origin, gap: Gap): void {
    this.dropGap(origin)
    const oldest = this.gaps.values().next().value
    if (this.gaps.size >= MAX_GAPS && oldest) this.dropGap(oldest)
    origin.gap = gap
    this.gaps.add(origin)
  }

  protected dropCandidatesOf(neighbor: Neighbor): void {
    if (neighbor.waiting === 0) return
    for (const origin of [...this.origins.values()]) this.dropCandidates(origin, neighbor.id)
  }

  protected dropAllCandidates(origin: Origin): void {
    for (const seq of [...origin.waiting.keys()]) this.dropSlot(origin, seq)
    this.dropGap(origin)
  }

  /** An origin that only a relay's unverified messages spoke of is forgotten with them. */
  protected forgetIfInvented(origin: Origin): void {
    if (!origin.known && !origin.here && origin.waiting.size === 0) this.forgetOrigin(origin)
  }
}

/** Removes the first `count` items: one shift for one (it allocates nothing), else one splice. */
function dropOldest(log: unknown[], count: number): void {
  if (count === 1) log.shift()
  else if (count > 1) log.splice(0, count)
}
