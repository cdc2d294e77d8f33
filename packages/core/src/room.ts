/**
 * One room across the mesh: which message of which member (origin) this node has, which it may show,
 * which it must still forward to each neighbour, and whether a relayed message really comes from its
 * origin. Pure: no I/O and no timers. The node feeds it what arrives and carries out the effects it
 * returns, as data, in one place.
 */
import { ackFrames } from './acks.js'
import { shownName } from './names.js'
import type { PeerInfo } from './peer-machine.js'
import { RoomBook } from './room-book.js'
import { weigh } from './room-ledger.js'
import {
  ACK_ENTRY_RATE,
  type Candidate,
  MAX_GAP,
  type Origin,
  type RoomEffect,
  raise,
  refuse,
} from './room-types.js'
import type { Ack, Msg } from './schema.js'

export { type HeldReport, weigh } from './room-ledger.js'
export * from './room-types.js'

/**
 * The routing state of one node's room.
 * @example
 * const room = new Room({ self: { id, name } })
 * const { accepted } = room.receive(neighborId, msg, true) // persist, show, then room.markShown(...)
 */
export class Room extends RoomBook {
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
    this.dropCandidatesOf(neighbor)
    // Its watermarks come again in its opening ack; what it holds is counted afresh on this link.
    this.ledger.forgetWatermarks(neighbor)
    this.ledger.open(id)
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
    this.ledger.forgetWatermarks(neighbor, false)
    neighbor.told.clear()
    neighbor.restarted = true
    const origin = this.origins.get(id)
    if (!origin) return
    this.dropAllCandidates(origin)
    Object.assign(origin, { received: 0, shown: 0, verified: 0, head: undefined, log: [] })
    for (const other of this.neighbors.values()) {
      this.ledger.forgetHas(other, id)
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
    this.ledger.forgetWatermarks(neighbor)
    // What the link carried and was told starts over on its next link: nothing of it is kept meanwhile.
    neighbor.sentUpTo.clear()
    neighbor.told.clear()
    neighbor.floor.clear()
    this.ledger.close(id)
  }

  /**
   * Takes a neighbour's ack: what it has (its `upTo` of our stream, its `have` map), where its windows
   * start (`base`, `bases`: we jump forward past what it can no longer send), and, on the last opening
   * ack of a link, where to resume sending (`resume`). The origins it names count against its allowance
   * (`ACK_ENTRY_RATE`, `now` in ms) and each new entry against its watermark budget: past either, it is
   * refused (`OVER_BUDGET`).
   */
  onAck(id: string, ack: Ack, out: RoomEffect[] = [], now = 0): RoomEffect[] {
    const neighbor = this.neighbor(id)
    const have = ack.have === undefined ? [] : Object.entries(ack.have)
    const bases: [string, number][] = ack.bases === undefined ? [] : Object.entries(ack.bases)
    let over: string | undefined
    if (!this.ledger.takeAckEntries(neighbor, have.length + bases.length, now))
      over = `named more than ${ACK_ENTRY_RATE.burst} origins in its acks at once, or more than ${ACK_ENTRY_RATE.perSecond} a second`
    else over = this.ledger.markHas(neighbor, this.self.id, Math.min(ack.upTo, this.own.received))
    for (const [origin, seq] of over ? [] : have) {
      if (origin !== this.self.id) over = this.ledger.markHas(neighbor, origin, seq)
      if (over) break
    }
    if (ack.base !== undefined) bases.push([id, ack.base])
    for (const [originId, base] of over ? [] : bases) {
      if (originId === this.self.id) continue
      over = this.ledger.mark(neighbor, neighbor.bases, originId, base)
      if (over) break
      const origin = this.origins.get(originId)
      if (origin) this.settle(origin, out)
    }
    if (over) {
      out.push(refuse({ neighbor: id, code: 'OVER_BUDGET', message: over }))
      return out
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
      this.ledger.markHas(neighbor, msg.from, msg.seq)
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
      origin = this.originFor({ id: msg.from, name: shownName(msg.name ?? '', msg.from.slice(0, 8)) })
    }
    if (msg.seq <= origin.received) {
      const gap = origin.gap
      if (gap && msg.seq >= gap.lo && msg.seq <= gap.hi) return this.fillGap(origin, id, msg, out)
      this.ledger.markHas(neighbor, msg.from, msg.seq)
      this.keepHigherHops(origin, msg)
      return out
    }
    let slot = origin.waiting.get(msg.seq)
    const replaced = slot?.get(id)
    if (replaced) this.unbuffer(id, replaced)
    const bytes = weigh(msg)
    const refusal = this.buffer(neighbor, bytes, out)
    if (refusal) {
      if (replaced) slot!.delete(id)
      if (slot?.size === 0) origin.waiting.delete(msg.seq)
      this.dropCandidates(origin, id)
      out.push(refuse(refusal))
      return out
    }
    // Making room may have closed a neighbour whose copies were all that spoke of this origin or seq.
    if (this.origins.get(msg.from) !== origin) this.origins.set(msg.from, origin)
    slot = origin.waiting.get(msg.seq)
    if (!slot) {
      slot = new Map()
      origin.waiting.set(msg.seq, slot)
    }
    slot.set(id, { msg, trusted, bytes })
    this.settle(origin, out)
    return out
  }

  /**
   * A message inside a gap: kept in the neighbour's run of gap messages until the run reaches the top of
   * the gap, then checked back from the chain hash the signed run after the gap gave (`expect`), and
   * what checks is shown, late. A copy that does not chain is a forgery.
   */
  private fillGap(origin: Origin, id: string, msg: Msg, out: RoomEffect[]): RoomEffect[] {
    const gap = origin.gap!
    const neighbor = this.neighbor(id)
    const run = gap.runs.get(id)
    if (run && run.at(-1)!.msg.seq + 1 !== msg.seq) this.dropGapRun(origin, id)
    const bytes = weigh(msg)
    const refusal = this.buffer(neighbor, bytes, out)
    if (refusal) {
      this.dropCandidates(origin, id)
      out.push(refuse(refusal))
      return out
    }
    const current = gap.runs.get(id) ?? []
    gap.runs.set(id, current)
    current.push({ msg, trusted: false, bytes })
    if (msg.seq === gap.hi) this.closeGap(origin, id, current, out)
    return out
  }

  private closeGap(origin: Origin, id: string, run: Candidate[], out: RoomEffect[]): void {
    const gap = origin.gap!
    const auth = this.auth!
    let expect = gap.expect
    let from = run.length
    while (from > 0) {
      const { msg } = run[from - 1]!
      if (msg.prev === undefined || auth.chain(msg.prev, msg) !== expect) break
      expect = msg.prev
      from--
    }
    if (from > 0) {
      this.refuseForged(origin, id, out)
      return
    }
    for (const { msg } of run) {
      this.ledger.markHas(this.neighbor(id), origin.peer.id, msg.seq)
      out.push({ type: 'accept', msg: keptCopy(msg, origin.peer, this.hopsLeft(msg)) })
    }
    const lo = run[0]!.msg.seq
    this.dropGap(origin)
    // A neighbour whose window started inside the gap filled only its top: the rest stays open.
    if (lo > gap.lo) this.openGap(origin, { lo: gap.lo, hi: lo - 1, expect, runs: new Map() })
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
      if (jumping) this.jump(origin, after, out, run[0]!.msg.prev)
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
      for (const [neighborId, candidate] of slot) {
        this.unbuffer(neighborId, candidate)
        const neighbor = this.neighbors.get(neighborId)
        if (neighbor) this.ledger.markHas(neighbor, origin.peer.id, received.seq)
      }
    }
    origin.received = received.seq
    origin.head = hash
    // The kept copy is the one that goes on: with one hop fewer (the hops are not signed), and with the
    // origin's own id and name strings, so each decoded message need not keep its copies alive.
    const msg = keptCopy(received, origin.peer, this.hopsLeft(received))
    origin.log.push(msg)
    this.trim(origin)
    if (
      msg.name !== undefined &&
      msg.name !== origin.peer.name &&
      !this.neighbors.get(origin.peer.id)?.open
    ) {
      // Signed names are relayed as sent; the one shown has nothing that could start a line or hide.
      const name = shownName(msg.name, origin.peer.id.slice(0, 8))
      if (name !== origin.peer.name) origin.peer = { id: origin.peer.id, name }
    }
    if (!origin.known) {
      origin.known = true
      if (origin.jumpedTo !== undefined) out.push({ type: 'jump', peer: origin.peer, seq: origin.jumpedTo })
      out.push({ type: 'join', peer: origin.peer })
    }
    out.push({ type: 'accept', msg })
  }

  /**
   * The origin's window moved on past what we have: continue after `base`. On a relay's word alone
   * (`expect`: the `prev` of the signed run after it), the newest skipped seqs stay open as a gap, so
   * another neighbour can still deliver them.
   */
  private jump(origin: Origin, base: number, out: RoomEffect[], expect?: string): void {
    this.dropGap(origin)
    if (expect !== undefined && base > origin.received) {
      const lo = Math.max(origin.received + 1, base - MAX_GAP + 1)
      this.openGap(origin, { lo, hi: base, expect, runs: new Map() })
    }
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
}

/** A received message as it is kept and sent on: built field by field, so every kept copy has one shape. */
function keptCopy(received: Msg, origin: PeerInfo, hops: number): Msg {
  const msg: Msg = {
    type: 'msg',
    id: received.id,
    seq: received.seq,
    ts: received.ts,
    from: origin.id,
    body: received.body,
    hops,
  }
  if (received.name !== undefined) msg.name = received.name === origin.name ? origin.name : received.name
  if (received.prev !== undefined) msg.prev = received.prev
  if (received.sig !== undefined) msg.sig = received.sig
  return msg
}
