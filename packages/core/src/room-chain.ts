/**
 * How a message of an origin is taken in once it is its turn: its place in the origin's hash chain and its
 * signature, checked at once (straight from its origin), per run (from a relay) or later (deferred until
 * someone may be sent it); a forgery refused; the origin's window jumped when a neighbour's starts later,
 * and the seqs skipped on a relay's word kept open as a gap. `Room` decides when; this says whether.
 */
import { shownName } from './names.js'
import type { PeerInfo } from './peer-machine.js'
import { RoomBook } from './room-book.js'
import { weigh } from './room-ledger.js'
import {
  type Candidate,
  MAX_GAP,
  MAX_UNSIGNED_RUN,
  type Origin,
  type RoomEffect,
  refuse,
} from './room-types.js'
import type { Msg } from './schema.js'

/** The checks and the bookkeeping of accepting a message; `Room` feeds it. */
export class RoomChain extends RoomBook {
  /**
   * A message inside a gap: kept in the neighbour's run of gap messages until the run reaches the top of
   * the gap, then checked back from the chain hash the signed run after the gap gave (`expect`), and
   * what checks is shown, late. A copy that does not chain is a forgery.
   */
  protected fillGap(origin: Origin, id: string, msg: Msg, out: RoomEffect[]): RoomEffect[] {
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

  /** The neighbour's run reached the top of the gap: checked back from `expect`, then accepted or refused. */
  protected closeGap(origin: Origin, id: string, run: Candidate[], out: RoomEffect[]): void {
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
      // Older messages filling a gap rename nothing: they go by the name the origin has now.
      out.push({ type: 'accept', msg: keptCopy(msg, origin.peer, this.hopsLeft(msg)), from: origin.peer })
    }
    const lo = run[0]!.msg.seq
    this.dropGap(origin)
    // A neighbour whose window started inside the gap filled only its top: the rest stays open.
    if (lo > gap.lo) this.openGap(origin, { lo: gap.lo, hi: lo - 1, expect, runs: new Map() })
  }

  /** A relay's copies of the origin's messages do not check: they are dropped and its link closed. */
  protected refuseForged(origin: Origin, neighborId: string, out: RoomEffect[]): void {
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
  protected tryRun(
    origin: Origin,
    neighborId: string,
    out: RoomEffect[],
    after = origin.received,
  ): 'accepted' | 'forged' | 'incomplete' | 'stale' {
    const auth = this.auth!
    // Inside an unverified run of trusted messages, the next one must extend it; after a verified message
    // a mismatch is the origin's own fork (it restarted without its journal), judged by its signature.
    const jumping = after > origin.received
    let expected = !jumping && origin.verified < origin.received ? origin.head : undefined
    const run: { msg: Msg; hash: string }[] = []
    let stale = false
    for (let seq = after + 1; ; seq++) {
      const candidate = origin.waiting.get(seq)?.get(neighborId)
      if (!candidate) return 'incomplete'
      const { msg } = candidate
      if (msg.prev === undefined) return 'forged'
      if (expected !== undefined && msg.prev !== expected) return 'forged'
      // A fork is the origin's new numbering only if it was written after the newest message held of the
      // old one: an older one is the old numbering's (held by a relay, or replayed). Its signature is
      // checked all the same: a forgery closes the relay's link, an old message of the origin's does not.
      if (run.length === 0 && !jumping && expected === undefined) stale = isStaleFork(origin, msg)
      // A relay's window that starts later holds newer messages: one written before the newest held is of
      // an older numbering (kept by the relay, or replayed), and would take the seqs of the new one. One
      // written in the same millisecond is not: a burst (a long line sent in parts) shares its ts.
      if (run.length === 0 && jumping) stale = writtenBeforeNewest(origin, msg, false)
      candidate.hash ??= auth.chain(msg.prev, msg)
      run.push({ msg, hash: candidate.hash })
      expected = candidate.hash
      if (msg.sig === undefined) continue
      if (!auth.verify(origin.peer.id, candidate.hash, msg.sig)) return 'forged'
      if (stale) return 'stale'
      if (jumping) this.jump(origin, after, out, run[0]!.msg.prev)
      for (const item of run) this.accept(origin, item.msg, item.hash, out)
      origin.verified = origin.received
      return 'accepted'
    }
  }

  /** A message straight from its origin: accepted now; its chain and signature are checked as they come. */
  protected acceptTrusted(origin: Origin, msg: Msg, out: RoomEffect[]): void {
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
    if (broken) out.push(brokenChain(origin, broken))
    else if (msg.sig !== undefined) origin.verified = origin.received
    else if (origin.received - origin.verified > MAX_UNSIGNED_RUN)
      // What is not checked yet cannot leave its window: a run that is never signed would be held whole.
      out.push(
        brokenChain(
          origin,
          `it sent ${origin.received - origin.verified} messages in a row without signing any (a parley node signs at least every ${MAX_UNSIGNED_RUN / 2})`,
        ),
      )
  }

  /**
   * Checks the run of messages taken unchecked from the origin, as a run from a relay is checked: each must
   * link to the one before it (the first one's `prev` is taken as given, as after a verified message), and
   * the newest signature vouches for the run up to it. A broken run closes the origin's link (FORGED).
   */
  protected checkDeferred(origin: Origin, out: RoomEffect[]): void {
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
      out.push(brokenChain(origin, broken))
      return
    }
    if (expected !== undefined) origin.head = expected
    if (signed) origin.verified = signed.seq
  }

  protected accept(origin: Origin, received: Msg, hash: string | undefined, out: RoomEffect[]): void {
    // Only its own link is heard while it awaits one: this is the first message of its new numbering.
    if (origin.awaitsOwnLink) {
      origin.awaitsOwnLink = false
      origin.resetAfter = undefined
      origin.resetAt = undefined
      origin.resetPresenceDue = false
    }
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
    this.keepInLog(origin, msg)
    this.trim(origin)
    let former: PeerInfo | undefined
    if (msg.name !== undefined && msg.name !== origin.peer.name && this.takesSignedName(msg)) {
      // Signed names are relayed as sent; the one shown has nothing that could start a line or hide.
      const name = shownName(msg.name, origin.peer.id.slice(0, 8))
      if (name !== origin.peer.name) {
        if (namedOtherwiseSince(origin, msg)) former = { id: origin.peer.id, name }
        else origin.peer = { id: origin.peer.id, name }
      }
    }
    if (!origin.known) {
      origin.known = true
      if (origin.jumpedTo !== undefined) out.push({ type: 'jump', peer: origin.peer, seq: origin.jumpedTo })
      out.push({ type: 'join', peer: origin.peer })
    }
    out.push(
      former
        ? { type: 'accept', msg, from: former, former: true }
        : { type: 'accept', msg, from: origin.peer },
    )
  }

  /**
   * Whether `msg` goes by the name it was signed with: when that is another name than its origin goes by
   * here, it renames the origin, and the node announces the rename before showing it. A message written
   * after the origin's latest hello to us does (a `/nick` during the session), as does one of a member
   * only reached through relays. One written before that hello, which waited in an outbox, does not: the
   * hello's name is newer. Nor does any message of a neighbour on an open link whose hello did not say
   * which were written before it (an earlier release): its link goes by its hello's name.
   */
  private takesSignedName(msg: Msg): boolean {
    const neighbor = this.neighbors.get(msg.from)
    if (neighbor?.open && msg.seq <= neighbor.namedUpTo) return false
    return msg.seq > (this.origins.get(msg.from)?.namedUpTo ?? -1)
  }

  /**
   * The origin's window moved on past what we have: continue after `base`. On a relay's word alone
   * (`expect`: the `prev` of the signed run after it), the newest skipped seqs stay open as a gap, so
   * another neighbour can still deliver them.
   */
  protected jump(origin: Origin, base: number, out: RoomEffect[], expect?: string): void {
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
    this.setLog(origin, [])
    // A member first met through its window's start is persisted once its first message checks out.
    if (origin.known) out.push({ type: 'jump', peer: origin.peer, seq: base })
    else origin.jumpedTo = base
  }
}

/**
 * A presence held of `msg`'s origin was written after `msg` (both dated by the origin's clock) and names it
 * otherwise: `msg` is history under a name the origin went by before (a newcomer caught up on it), not a
 * rename. Only the name of something newer than all that is held renames a member.
 */
function namedOtherwiseSince(origin: Origin, msg: Msg): boolean {
  const here = origin.here
  return here !== undefined && msg.ts < here.ts && here.frame.name !== msg.name
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
  if (received.lines !== undefined) msg.lines = received.lines
  if (received.more) msg.more = true
  if (received.prev !== undefined) msg.prev = received.prev
  if (received.sig !== undefined) msg.sig = received.sig
  return msg
}

/** The origin itself sent what does not check (`why`): its own link is closed (FORGED). */
function brokenChain(origin: Origin, why: string): RoomEffect {
  return refuse({ neighbor: origin.peer.id, code: 'FORGED', message: `${origin.peer.name}: ${why}` })
}

/**
 * `msg`, the next seq of `origin` from a relay, forks from the chain held (its `prev` is not the head) and
 * was written no later than the newest message held: the origin's old numbering, not a new one. The times
 * are the origin's own clock, and a new numbering starts after the old one stopped. Without a head or a
 * newest message held there is nothing to compare with.
 */
function isStaleFork(origin: Origin, msg: Msg): boolean {
  if (origin.head === undefined || msg.prev === origin.head) return false
  return writtenBeforeNewest(origin, msg)
}

/**
 * `msg` was written (the origin's clock) before the newest message held of its origin, or in the same
 * millisecond unless `orSame` is false.
 */
function writtenBeforeNewest(origin: Origin, msg: Msg, orSame = true): boolean {
  const newest = origin.log.at(-1)
  return (
    newest !== undefined &&
    newest.seq === origin.received &&
    (orSame ? msg.ts <= newest.ts : msg.ts < newest.ts)
  )
}
