/**
 * One room across the mesh: which message of which member (origin) this node has, which it may show,
 * which it must still forward to each neighbour, and whether a relayed message really comes from its
 * origin. Pure: no I/O and no timers. The node feeds it what arrives and carries out the effects it
 * returns, as data, in one place.
 */
import { ackFrames } from './acks.js'
import { shownName } from './names.js'
import { RoomChain } from './room-chain.js'
import { weigh } from './room-ledger.js'
import {
  ACK_ENTRY_RATE,
  type NeighborLink,
  type Origin,
  type RoomEffect,
  raise,
  refuse,
} from './room-types.js'
import type { Ack, Msg } from './schema.js'

export { type HeldReport, weigh } from './room-ledger.js'
export * from './room-types.js'

/**
 * The routing state of one node's room: its inputs (links opening and closing, acks, messages) and the
 * order messages are taken in; `RoomChain` checks each one, `RoomBook` holds the state.
 * @example
 * const room = new Room({ self: { id, name } })
 * const { accepted } = room.receive(neighborId, msg, true) // persist, show, then room.markShown(...)
 */
export class Room extends RoomChain {
  /**
   * A link to neighbour `id` opened: returns its opening ack (`send`), which says where our own stream
   * starts (`base`), what we have of every other origin (`have`), and where our window of each starts
   * (`bases`). A neighbour that restarted without its journal gets only what is new (and our outbox). A
   * neighbour that relays may be sent what other origins gave us unchecked, so that is checked now, and
   * the origins whose runs do not check are refused.
   */
  linkOpened(id: string, info: NeighborLink, out: RoomEffect[] = []): RoomEffect[] {
    const neighbor = this.neighbor(id)
    neighbor.relays = info.relays
    neighbor.namedUpTo = info.namedUpTo ?? Number.MAX_SAFE_INTEGER
    neighbor.open = true
    neighbor.left = false
    neighbor.resumed = false
    neighbor.source = info.source
    neighbor.sentUpTo.clear()
    neighbor.told.clear()
    neighbor.floor.clear()
    neighbor.catchUp.clear()
    this.dropCandidatesOf(neighbor)
    // Its watermarks come again in its opening ack; what it holds is counted afresh on this link.
    this.ledger.forgetWatermarks(neighbor)
    this.ledger.open(id)
    const origin = this.originFor({ id, name: info.name })
    origin.known = true
    origin.peer = { id, name: info.name }
    // A hello without the cap (an earlier release) says nothing: no seq keeps an older name any more.
    origin.namedUpTo = info.namedUpTo
    const fresh = neighbor.restarted
    neighbor.restarted = false
    const base = fresh ? this.ownSettled : (this.own.log[0]?.seq ?? this.own.received + 1) - 1
    // A floor of 0 raises nothing at resume, so only floors above it are held until then.
    if (base > 0) neighbor.floor.set(this.self.id, base)
    const bases: Record<string, number> = {}
    if (neighbor.relays) {
      for (const o of this.origins.values()) {
        if (o === this.own || o.peer.id === id || !o.known) continue
        if (o.deferred) this.checkDeferred(o, out)
        const floor = fresh ? o.received : (o.log[0]?.seq ?? o.received + 1) - 1
        if (floor <= 0) continue
        neighbor.floor.set(o.peer.id, floor)
        bases[o.peer.id] = floor
      }
    }
    const have = neighbor.relays ? this.haveDelta(id) : {}
    const upTo = this.shownOf(id)
    neighbor.toldUpTo = upTo
    // Which message `upTo` is, so a neighbour whose data dir went back sees that its numbering repeats.
    const upToId = this.idAt(id, upTo)
    const ack: Ack = upToId === undefined ? { type: 'ack', upTo, base } : { type: 'ack', upTo, base, upToId }
    for (const message of ackFrames(ack, have, bases)) out.push({ type: 'send', neighbor: id, message })
    return out
  }

  /**
   * The neighbour has more of our stream than we ever made, or another message at its `upTo`: our data
   * dir is older than what it saw, so our seqs from here on would repeat ones it has.
   */
  private wentBack(ack: Ack): boolean {
    if (ack.upTo > this.own.received) return true
    if (ack.upToId === undefined) return false
    const ours = this.idAt(this.self.id, ack.upTo)
    return ours !== undefined && ours !== ack.upToId
  }

  /** The neighbour restarted without its journal: it has nothing, and its own seqs start over. */
  peerRestarted(id: string): void {
    const neighbor = this.neighbor(id)
    this.ledger.forgetWatermarks(neighbor, false)
    neighbor.told.clear()
    neighbor.toldUpTo = -1
    neighbor.restarted = true
    const origin = this.origins.get(id)
    if (!origin) return
    this.dropAllCandidates(origin)
    const newest = origin.log.at(-1)
    // Two restarts with nothing between: the old numbering's newest is still the one from before.
    const resetAfter = newest !== undefined && newest.seq === origin.received ? newest.ts : origin.resetAfter
    // Its window goes through setLog, which keeps the byte counts true.
    this.setLog(origin, [])
    Object.assign(origin, {
      received: 0,
      shown: 0,
      verified: 0,
      head: undefined,
      namedUpTo: undefined,
      awaitsOwnLink: true,
      resetAfter,
      resetAt: undefined,
      resetPresenceDue: true,
    })
    for (const other of this.neighbors.values()) {
      this.ledger.forgetHas(other, id)
      other.sentUpTo.delete(id)
      other.told.delete(id)
    }
  }

  /** With its reset still open: when the newest message held of `id`'s old numbering was written. */
  resetAfterOf(id: string): number | undefined {
    const origin = this.origins.get(id)
    return origin?.awaitsOwnLink ? origin.resetAfter : undefined
  }

  /**
   * A presence of neighbour `id` came on its own link, dated `ts` (its clock): the first since the link
   * announced its reset says when its new numbering already ran (`Origin.resetAt`), and what a relay
   * holds of it from then on may be taken.
   */
  ownPresence(id: string, ts: number, out: RoomEffect[] = []): RoomEffect[] {
    const origin = this.origins.get(id)
    if (!origin?.awaitsOwnLink || !origin.resetPresenceDue || !this.neighbors.get(id)?.open) return out
    origin.resetPresenceDue = false
    origin.resetAt = ts
    this.settle(origin, out)
    return out
  }

  /** `left`: the neighbour said it leaves (a `bye` that is not a `/disconnect`): the mesh no longer reaches it. */
  linkClosed(id: string, left = false): void {
    const neighbor = this.neighbors.get(id)
    if (!neighbor) return
    neighbor.open = false
    neighbor.left = left
    neighbor.resumed = false
    this.dropCandidatesOf(neighbor)
    this.ledger.forgetWatermarks(neighbor)
    // What the link carried and was told starts over on its next link: nothing of it is kept meanwhile.
    neighbor.sentUpTo.clear()
    neighbor.told.clear()
    neighbor.toldUpTo = -1
    neighbor.floor.clear()
    neighbor.catchUp.clear()
    this.ledger.close(id)
    // Only the link that announced a reset dates it: a presence on a later one may have waited in a relay.
    const origin = this.origins.get(id)
    if (origin) origin.resetPresenceDue = false
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
    // Only the opening ack says what the neighbour had before this link: later ones count what it got on it.
    if (!neighbor.resumed && !neighbor.forked && this.wentBack(ack)) {
      neighbor.forked = true
      out.push({ type: 'fork', neighbor: id, upTo: ack.upTo, newest: this.own.received })
    }
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
      this.noteCatchUp(neighbor)
      // Needed only until now: held for the link's life, it would make a hub of n idle links hold n² entries.
      neighbor.floor.clear()
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
    // Until the first message of its new numbering comes from it, a relayed one may be of the old (see
    // `Origin.awaitsOwnLink`): not taken, and not held against the relay, which may have it honestly.
    if (
      origin?.awaitsOwnLink &&
      !trusted &&
      !(origin.resetAfter !== undefined && msg.ts > origin.resetAfter) &&
      !ofNewNumbering(origin, msg)
    )
      return out
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
      this.reachedThrough(id, origin, msg)
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
    this.reachedThrough(id, origin, msg)
    return out
  }

  /**
   * `msg` of a neighbour whose own link is down came through neighbour `id`, and was taken: the mesh
   * reaches it, whatever a restart forgot of how its link ended.
   */
  private reachedThrough(id: string, origin: Origin, msg: Msg): void {
    if (id === msg.from || origin.received < msg.seq) return
    const itself = this.neighbors.get(msg.from)
    if (itself && !itself.open) itself.left = false
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
        else if (verdict === 'stale') this.dropCandidates(origin, neighborId)
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
      // Awaiting its own link after a reset, a relay's window start cannot tell its old numbering from its
      // new one: jumping to it would take old messages in the place of new ones at those seqs. Only a run
      // dated after the presence that came with the reset is of the new one (the rest chains to it).
      if (origin.awaitsOwnLink && !candidate.trusted && !ofNewNumbering(origin, candidate.msg)) continue
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
      else if (verdict === 'stale') this.dropCandidates(origin, neighbor.id)
    }
    return false
  }
}

/**
 * `msg` of an origin awaiting its own link after a reset was written no earlier than the presence it sent
 * on the link that announced the reset, and after the newest message held of its old numbering (all its
 * clock): its old numbering had stopped by then. A clock that went back across its restart costs only its
 * own messages (new ones left for its own link, or old ones taken for new), never another member's.
 */
function ofNewNumbering(origin: Origin, msg: Msg): boolean {
  const { resetAt, resetAfter } = origin
  return resetAt !== undefined && msg.ts >= resetAt && (resetAfter === undefined || msg.ts > resetAfter)
}
