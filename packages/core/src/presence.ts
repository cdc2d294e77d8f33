/**
 * Who is in the room, lurkers included: each node says it is there (`here` frames), signed by its key,
 * when a link opens, when it takes another name, every few minutes, and says it left (`gone`) when it
 * quits. A frame is relayed to every neighbour that takes presence (the `here` cap) only when it is newer
 * than what this node holds of its member, so a flood ends at every node that has seen it, and within its
 * member's own allowance, so no member's presences crowd out the others' at a relay. What is held
 * is one frame per member, on the member table (a member known only by its presence takes a free place
 * there, never one a member known otherwise holds, or when the table is full the place of one known only
 * by its presence that a neighbour holding more than its share brought, and goes first when room is
 * needed), and it expires: a member that stopped saying it is there is no longer shown as there.
 *
 * A member that dies without its `gone` (killed, its power lost) says nothing more: the neighbour that
 * loses its link to it floods a notice of its own (`lost`, signed by its key, naming the presence of the
 * member it held), to neighbours that take them (the `lost` cap). A node that holds no newer presence of
 * that member and no open link to it shows it as no longer there; one with an open link to it passes the
 * notice on to it alone, and a member that is there answers with a fresh presence, which is newer than
 * the one named and brings it back everywhere.
 */
import type { Clock } from './clock.js'
import { oneSpaced, shownName } from './names.js'
import type { NodeEvent } from './node-types.js'
import type { PeerInfo } from './peer-machine.js'
import {
  type HeldHere,
  type HereFields,
  type MessageAuth,
  type PresenceOptions,
  type RoomEffect,
  refuse,
} from './room-types.js'
import type { MemberRoom, Roster } from './roster.js'
import { type Here, type HereState, type Lost, MAX_REASON_LENGTH } from './schema.js'
import { cutText } from './text-cut.js'

/** How presence is said, held and bounded, unless the node says otherwise. */
export const PRESENCE_DEFAULTS = {
  /** Each node says it is there this often. */
  everyMs: 3 * 60_000,
  /** A presence not refreshed for this long (by its member's clock) no longer says the member is there. */
  expiryMs: 10 * 60_000,
  /** A presence dated further ahead than this (this node's clock) is ignored. */
  skewMs: 2 * 60_000,
  /** Presence frames one link may carry: a sustained rate per second and a burst; past it, `FLOOD`. */
  rate: { perSecond: 10, burst: 600 },
  /** Presences of other members sent to a neighbour whose link opens, at most (the freshest). */
  sentOnOpen: 500,
  /**
   * A member a neighbour lost its link to (`lost`) is told as having maybe left, and no longer shown there,
   * once this long passed with no newer presence of it: one still there through other members answers
   * within it, and nobody sees it leave and come back.
   */
  lostGraceMs: 5_000,
} as const

/** Neighbours whose allowances of presence frames, each way, are kept across links, at most. */
const MAX_KEYED = 1024

/** Neighbour and member pairs whose notices were proved wrong that are remembered, at most. */
const MAX_STRIKES = 4096
/** Signer and member pairs whose notices were proved wrong that are remembered, at most. */
const MAX_DOUBTS = 4096
/** A neighbour's notices about a member are doubted at most `expiryMs` times 2 to this (about 21 hours). */
const MAX_DOUBLINGS = 7

/** Frames of a neighbour's allowance that relays leave for this node's own presence. */
const RESERVE = 10

/**
 * Presences of one member relayed at once at most; then one per `MEMBER_EVERY` of `everyMs`, a little
 * faster than a member says it is there. A full member table's presences then take at most 1/0.8 of what
 * its refreshes need (1000 members: 7 a second, under the 8 relayed to a neighbour), so a neighbour that
 * says its own presence, or throwaway keys', as fast as its link allows cannot crowd out the others'.
 * Two quick restarts (a leave and a `here` each) and a rename fit in the burst.
 */
const MEMBER_BURST = 5
const MEMBER_EVERY = 0.8

/** What presence reads and where it goes. */
export interface PresenceParts {
  readonly room: MemberRoom
  readonly roster: Roster
  readonly clock: Clock
  /** Signs and checks presence; undefined: nothing is signed or checked (tests, trusted networks). */
  readonly auth?: MessageAuth | undefined
  /** This node as it goes by now. */
  self(): PeerInfo
  /** The neighbours with an open link whose hello announced the `here` cap. */
  takers(): Iterable<string>
  /** Of those, the ones whose hello also announced the `lost` cap. */
  lostTakers(): Iterable<string>
  emit(event: NodeEvent): void
}

/** A link's allowance of presence frames. */
interface Allowance {
  tokens: number
  refilledAt: number
}

/** Whether a node with this `MessageAuth` can take part in presence (it can sign and check it). */
export function presenceAvailable(auth: MessageAuth | undefined): boolean {
  return auth === undefined || auth.hereHash !== undefined
}

export class Presence {
  private readonly options: PresenceOptions
  /** Per link: dropped with the link record. Past it, the neighbour is refused (`FLOOD`). */
  private readonly allowances = new WeakMap<object, Allowance>()
  /**
   * Per neighbour key, across its links, of the same size: what its frames may cost this node (a
   * signature check each). Past it, frames are dropped unread but the link is kept: a neighbour that
   * reconnects gets no fresh burst of checks, while one of an earlier release that sends its presences
   * again on each link loses only those (every member says it is there again within `everyMs`).
   * Bounded (`MAX_KEYED`): entries full again go first, then the oldest.
   */
  private readonly keyed = new Map<string, Allowance>()
  /**
   * Per neighbour that takes presence: what this node may still send it, kept under the allowance that
   * neighbour enforces on its link (a fifth under its rate, a margin off its burst: frames bunched on the
   * way still fit; at 8 a second, a table of 1000 members refreshing every 3 minutes is relayed whole), so relaying what other
   * neighbours send, each within its own allowance, never makes this node a flooder. Kept across its
   * links, as it keeps what it takes of this node: a neighbour that reconnects in a loop is sent the
   * presences held on each link only as the allowance refills. Entries of neighbours gone whose
   * allowance is full again are pruned when a link opens.
   */
  private readonly outbound = new Map<string, Allowance>()
  /** The ts of our newest own frame: a newer one always has a later ts, even within one millisecond. */
  private lastTs = 0
  /** What this node may still answer to notices that it was lost (a fresh presence each). */
  private answers?: Allowance
  /** Per member lost: the timer that tells it once `lostGraceMs` passed (at most one per member held). */
  private readonly lostTimers = new Map<string, unknown>()
  /** Per neighbour whose link broke while this node was away: the timer that tells it lost if not back. */
  private readonly awayTimers = new Map<string, unknown>()
  /**
   * Signer and member (`from member`) of notices the member answered in time, so proved wrong: until the
   * time kept, that signer's notices about that member are not believed. A member that says it is there
   * answers each notice, so a signer claiming so again and again would otherwise spend its answers and
   * have it shown gone most of the time. Bounded (`MAX_DOUBTS`, the oldest go first), pruned in `expire()`.
   */
  private readonly doubted = new Map<string, number>()
  /** Per member marked lost by a neighbour's notice: that neighbour (it may have only passed it on). */
  private readonly lostVia = new Map<string, string>()
  /**
   * Neighbour and member (`via member`) of notices the member answered in time, passed on by that
   * neighbour whoever signed them (a signer made up for one notice is doubted where it comes in): until
   * `until`, that neighbour's notices about that member are not believed. `expiryMs` after the first,
   * twice as long after each that follows while the last is remembered (`expiryMs` past its `until`), so
   * an honest relay that passed on one mistaken notice is doubted about that member for 10 minutes, and
   * one passing made-up notices on and on has them believed ever more rarely. Bounded (`MAX_STRIKES`,
   * the oldest go first), pruned in `expire()`.
   */
  private readonly strikes = new Map<string, { count: number; until: number }>()

  constructor(
    private readonly parts: PresenceParts,
    options: Partial<PresenceOptions> = {},
  ) {
    this.options = { ...PRESENCE_DEFAULTS, ...options }
  }

  get expiryMs(): number {
    return this.options.expiryMs
  }

  /** Entries kept about neighbours, signers and members (allowances, doubts, strikes, timers): bounded. */
  get held(): number {
    const maps = [this.keyed, this.outbound, this.lostTimers, this.awayTimers, this.doubted, this.lostVia]
    return maps.reduce((sum, map) => sum + map.size, this.strikes.size)
  }

  get everyMs(): number {
    return this.options.everyMs
  }

  /** Whether `here` still says its member is there now (not once a neighbour lost its link to it). */
  present(here: HeldHere | undefined, now = this.parts.clock.now()): boolean | undefined {
    if (!here) return undefined
    if (here.lostShown) return false
    return here.state === 'here' && here.ts > now - this.options.expiryMs
  }

  /** Whether this node signs and checks notices of lost links (`MessageAuth.lostHash`), so announces `lost`. */
  get takesLost(): boolean {
    const auth = this.parts.auth
    return auth === undefined || auth.lostHash !== undefined
  }

  /**
   * This node's own presence, signed, with a ts later than any it made before; a `gone` carries `reason`
   * (its `bye`'s), signed apart, so members further away are told why it left.
   */
  own(state: HereState, reason?: string): Here {
    const self = this.parts.self()
    const ts = Math.max(this.parts.clock.now(), this.lastTs + 1)
    this.lastTs = ts
    const fields: HereFields = { from: self.id, name: self.name, ts, state }
    const auth = this.parts.auth
    const hash = auth?.hereHash?.(fields)
    const frame: Here =
      hash === undefined || !auth
        ? { type: 'here', ...fields }
        : { type: 'here', ...fields, sig: auth.sign(hash) }
    return state === 'gone' && reason ? this.withReason(frame, cutText(reason, MAX_REASON_LENGTH)) : frame
  }

  /** Our presence (`state`, with `reason` when `gone`) for every neighbour that takes it. */
  sayToAll(state: HereState, out: RoomEffect[] = [], reason?: string): RoomEffect[] {
    // Signed only when some neighbour takes it: a node with none (one that only listens, stopping) signs
    // and hashes nothing, and loads no hashing at all.
    let frame: Here | undefined
    for (const neighbor of this.parts.takers()) {
      if (!this.mayTell(neighbor, 0)) continue
      frame ??= this.own(state, reason)
      out.push({ type: 'tell', neighbor, message: frame })
    }
    return out
  }

  /**
   * A link to `neighbor`, which takes presence, opened: it is sent ours, and the freshest presences held
   * of other members that have not expired (at most `sentOnOpen`), so it learns who is there at once.
   */
  opened(neighbor: string, out: RoomEffect[] = [], takesLost = false): RoomEffect[] {
    // What this node may send it is kept across its links: reconnecting does not fill it again.
    this.pruneOutbound()
    out.push({ type: 'tell', neighbor, message: this.own('here') })
    this.mayTell(neighbor, 0)
    const since = this.parts.clock.now() - this.options.expiryMs
    const held: HeldHere[] = []
    for (const member of this.parts.room.members()) {
      const here = member.here
      // One a neighbour lost goes with that neighbour's notice, or not at all: alone it would say the
      // member is there.
      if (here && here.ts > since && member.peer.id !== neighbor && (takesLost || !here.lost)) held.push(here)
    }
    held.sort((a, b) => b.ts - a.ts)
    for (const here of held.slice(0, this.options.sentOnOpen)) {
      if (!this.mayTell(neighbor, RESERVE)) break
      out.push({ type: 'tell', neighbor, message: here.frame })
      if (here.lost && this.mayTell(neighbor, RESERVE))
        out.push({ type: 'tell', neighbor, message: here.lost })
    }
    return out
  }

  /**
   * A `here` frame came over `link`, from neighbour `neighbor`. Past the link's allowance, the neighbour
   * is refused (`FLOOD`); a bad signature is a forgery (`FORGED`). One dated too far ahead, expired, or
   * not newer than what is held is ignored (a replay cannot make a member look there again). A newer one is
   * held, told (a member first known by it, or one that left, with its reason), and relayed to the other
   * takers; a reason its member did not sign (`reasonSig`) is dropped, neither told nor relayed.
   */
  receive(link: object, neighbor: string, frame: Here, out: RoomEffect[]): void {
    const now = this.parts.clock.now()
    if (this.flooded(link, neighbor, now, out)) return
    const { room, auth } = this.parts
    const self = this.parts.self()
    if (frame.from === self.id) return
    if (frame.ts > now + this.options.skewMs || frame.ts <= now - this.options.expiryMs) return
    const held = room.hereOf(frame.from)
    if (frame.ts <= room.hereNewerThan(frame.from)) return
    // Not held and no place for it: dropped before its signature is checked.
    if (!room.mayHoldHere(frame.from, neighbor)) return
    if (auth) {
      const hash = auth.hereHash?.(frame)
      if (hash === undefined || frame.sig === undefined || !auth.verify(frame.from, hash, frame.sig)) {
        out.push(
          refuse({
            neighbor,
            code: 'FORGED',
            message: `a presence of ${frame.from.slice(0, 8)} does not carry its signature`,
          }),
        )
        return
      }
    }
    const wasThere = this.present(held, now) === true
    if (held?.lost && !held.lostShown && frame.state === 'here' && held.lost.from !== self.id) {
      this.doubt(held.lost.from, frame.from, now)
      const via = this.lostVia.get(frame.from)
      if (via !== undefined) this.strike(via, frame.from, now)
    }
    this.lostVia.delete(frame.from)
    const known = room.knownBeyondPresence(frame.from)
    const name = shownName(frame.name, frame.from.slice(0, 8))
    const relay = held?.relay ?? { tokens: MEMBER_BURST, refilledAt: now }
    const reason = this.vouchedReason(frame)
    const kept: HeldHere = {
      ts: frame.ts,
      state: frame.state,
      frame: copyOf(frame, reason),
      heldAt: now,
      relay,
    }
    const { roster } = this.parts
    if (!room.mayHoldHere(frame.from)) {
      // The table is full: a place another neighbour's presences took more of than their share.
      const place = room.presencePlaceFor(neighbor)
      if (place === undefined) return
      room.forget(place)
      if (room.holds(place)) return
      roster.dropped([place])
    }
    if (!room.holdHere(frame.from, name, kept, neighbor)) return
    roster.presentNow(frame.from, now)
    // Held whatever its member's allowance says; relayed only within it (its next one goes on instead).
    const perSecond = 1000 / (this.options.everyMs * MEMBER_EVERY)
    // A member's first presence in a while (its allowance nearly full: a refresh, a newcomer) goes before
    // the rest of a burst, which leaves half of each neighbour's allowance to them: presences saved up by
    // many members at once (throwaway keys kept there) cannot crowd out the refreshes of the others.
    const first = refilled(relay, MEMBER_BURST, perSecond, now).tokens >= MEMBER_BURST - 0.5
    // A leave after a `here` that went on goes on past the allowance (once: the leaves that follow without
    // a `here` relayed in between do not), or the nodes behind would show the member there until it expires.
    // Past it down to one burst below nothing (`borrowOne`): a member that comes and goes all the time
    // waits out its own debt, and never spends what the other members' presences need.
    const leaving = frame.state === 'gone' && relay.told === 'here'
    // So does the first presence after a notice that the member was lost went on: it may be its answer,
    // which the nodes that took the notice wait for (within the same debt).
    const answering = frame.state === 'here' && relay.told === 'lost'
    if (takeOne(relay, MEMBER_BURST, perSecond, now) || ((leaving || answering) && borrowOne(relay))) {
      relay.told = frame.state
      const reserve = first || leaving ? RESERVE : this.burstReserve()
      for (const taker of this.parts.takers())
        if (taker !== neighbor && taker !== frame.from && this.mayTell(taker, reserve))
          out.push({ type: 'tell', neighbor: taker, message: kept.frame })
    }
    // A neighbour on its open link is told by its link opening and closing.
    if (room.isOpen(frame.from)) return
    const peer = room.heldPeer(frame.from) ?? { id: frame.from, name }
    if (frame.state === 'here') {
      const event = roster.present(peer, frame.ts)
      if (event) this.parts.emit(event)
    } else if (wasThere || (known && held?.state !== 'gone')) {
      // One that already said it left, and nothing since, is not told as leaving again.
      roster.departed(frame.from)
      const why = reason === undefined ? '' : oneSpaced(reason)
      this.parts.emit({ type: 'member-left', peer, at: frame.ts, ...(why ? { reason: why } : {}) })
    }
  }

  /** `frame` with `reason`, signed apart when this node signs: without a way to sign it, none goes. */
  private withReason(frame: Here, reason: string): Here {
    const auth = this.parts.auth
    if (!auth) return { ...frame, reason }
    const hash = auth.hereReasonHash?.({ ...frame, reason })
    return hash === undefined || frame.sig === undefined
      ? frame
      : { ...frame, reason, reasonSig: auth.sign(hash) }
  }

  /** The reason a `gone` carries when its member signed it (`reasonSig`); a relay cannot put words in it. */
  private vouchedReason(frame: Here): string | undefined {
    const { reason, reasonSig } = frame
    if (frame.state !== 'gone' || reason === undefined) return undefined
    const auth = this.parts.auth
    if (!auth) return reason
    const hash = auth.hereReasonHash?.({
      from: frame.from,
      name: frame.name,
      ts: frame.ts,
      state: frame.state,
      reason,
    })
    return hash !== undefined && reasonSig !== undefined && auth.verify(frame.from, hash, reasonSig)
      ? reason
      : undefined
  }

  /**
   * The link to neighbour `member` ended without its `gone` (a crash, a lost network): when the presence
   * held of it still says it is there, the neighbours that take them are told, in a notice signed by this
   * node, and that presence stops saying so here too (after `lostGraceMs`, as everywhere). Its next
   * presence, if it is there, is told as it being in the room now.
   */
  linkLost(member: string, out: RoomEffect[] = []): RoomEffect[] {
    const now = this.parts.clock.now()
    const held = this.parts.room.hereOf(member)
    if (!this.takesLost || !held || held.lost || this.present(held, now) !== true) return out
    const fields = { from: this.parts.self().id, member, ts: held.ts }
    const auth = this.parts.auth
    const hash = auth?.lostHash?.(fields)
    const notice: Lost =
      hash === undefined || !auth
        ? { type: 'lost', ...fields }
        : { type: 'lost', ...fields, sig: auth.sign(hash) }
    this.markLost(held, notice, undefined, now, out)
    this.parts.roster.mayHaveLeft(member, held.ts)
    this.showLostLater(member, notice, false)
    return out
  }

  /**
   * The link to neighbour `member` broke while this node was away (its process stopped, its machine
   * asleep): the member gave up on this node's silence, which says nothing of it. Told as lost
   * (`linkLost`, its effects to `perform`) only if, `afterMs` from now, its link is not open again and no
   * newer presence of it came: a member that is there is back by then.
   */
  linkLostWhileAway(member: string, afterMs: number, perform: (effects: RoomEffect[]) => void): void {
    const { clock, room } = this.parts
    const ts = room.hereOf(member)?.ts
    if (ts === undefined) return
    const before = this.awayTimers.get(member)
    if (before !== undefined) clock.clearTimeout(before)
    const timer = clock.setTimeout(() => {
      this.awayTimers.delete(member)
      if (!room.isOpen(member) && room.hereOf(member)?.ts === ts) perform(this.linkLost(member))
    }, afterMs)
    this.awayTimers.set(member, timer)
  }

  /**
   * A `lost` frame came over `link`, from neighbour `neighbor`: counted with its presence frames (`FLOOD`),
   * and a bad signature is a forgery (`FORGED`). One signed by a key this node does not hold as a member,
   * or about a member whose presence held is newer than the one named, no longer says it is there, or was
   * lost already, is ignored. About this node, it is answered with a fresh presence (within an allowance);
   * about a member whose link here is open, it goes on to that member alone, which answers so. Otherwise
   * it goes on to the other neighbours that take it, and the member, unless a newer presence of it comes
   * within `lostGraceMs` (a member still there answers within it), is told as having maybe left.
   */
  receiveLost(link: object, neighbor: string, frame: Lost, out: RoomEffect[]): void {
    const now = this.parts.clock.now()
    if (this.flooded(link, neighbor, now, out) || !this.takesLost) return
    const { room } = this.parts
    const self = this.parts.self().id
    // A stranger's notice costs nothing to make up (a throwaway key): only members held may say so.
    if (frame.from === self || !room.holds(frame.from)) return
    if ((this.doubted.get(doubtKey(frame.from, frame.member)) ?? 0) > now) return
    if (this.distrusts(neighbor, frame.member, now)) return
    if (frame.member === self) {
      if (this.signedLost(neighbor, frame, out)) this.answerLost(now, out)
      return
    }
    const held = room.hereOf(frame.member)
    if (!held || held.lost || held.ts > frame.ts || this.present(held, now) !== true) return
    if (!this.signedLost(neighbor, frame, out)) return
    const notice = copyOfLost(frame)
    if (room.isOpen(frame.member)) {
      // Its link here is open: it alone can say it is there, in a presence newer than the one named.
      const relay = relayOf(held, now)
      if (this.takesLostNow(frame.member) && takeOne(relay, MEMBER_BURST, this.memberRate, now))
        if (this.mayTell(frame.member, RESERVE)) {
          out.push({ type: 'tell', neighbor: frame.member, message: notice })
          relay.told = 'lost'
        }
      return
    }
    this.markLost(held, notice, neighbor, now, out)
    this.lostVia.set(frame.member, neighbor)
    this.showLostLater(frame.member, notice, true)
  }

  /**
   * A notice `signer` signed about `member` was proved wrong: its next ones are not believed for a while.
   * Bounded (`MAX_DOUBTS`, the oldest go first): throwaway signers and members, each pair proved wrong
   * once, would otherwise be kept for as long as presence lasts, as many as a crowd of neighbours sends.
   */
  private doubt(signer: string, member: string, now: number): void {
    setNewest(this.doubted, doubtKey(signer, member), now + this.options.expiryMs, MAX_DOUBTS)
  }

  /** A notice `via` passed on about `member` was proved wrong (the member answered in time). */
  private strike(via: string, member: string, now: number): void {
    const key = doubtKey(via, member)
    const before = this.strikes.get(key)
    const count = before && before.until + this.options.expiryMs > now ? before.count + 1 : 1
    const until = now + this.options.expiryMs * 2 ** Math.min(count - 1, MAX_DOUBLINGS)
    setNewest(this.strikes, key, { count, until }, MAX_STRIKES)
  }

  /** Whether notices about `member` that neighbour `via` passes on are not believed now. */
  private distrusts(via: string, member: string, now: number): boolean {
    return (this.strikes.get(doubtKey(via, member))?.until ?? 0) > now
  }

  /** Stops the timers of notices not told yet (the node closes). */
  stop(): void {
    for (const timer of [...this.lostTimers.values(), ...this.awayTimers.values()])
      this.parts.clock.clearTimeout(timer)
    this.lostTimers.clear()
    this.awayTimers.clear()
  }

  /** Whether `frame` carries its signer's signature; a forgery costs `neighbor` its link (`FORGED`). */
  private signedLost(neighbor: string, frame: Lost, out: RoomEffect[]): boolean {
    const auth = this.parts.auth
    if (!auth) return true
    const hash = auth.lostHash?.(frame)
    if (hash !== undefined && frame.sig !== undefined && auth.verify(frame.from, hash, frame.sig)) return true
    out.push(
      refuse({
        neighbor,
        code: 'FORGED',
        message: `a notice of ${frame.from.slice(0, 8)} that it lost ${frame.member.slice(0, 8)} does not carry its signature`,
      }),
    )
    return false
  }

  /**
   * `held` (its member's presence) is marked lost by `notice` (it stops saying the member is there
   * `lostGraceMs` from now); the notice is kept with it, and passed on to the neighbours that take them
   * but `from`, within its member's allowance (past it once after a presence that went on, as a leave,
   * down to one burst below nothing).
   */
  private markLost(
    held: HeldHere,
    notice: Lost,
    from: string | undefined,
    now: number,
    out: RoomEffect[],
  ): void {
    this.parts.room.markLost(notice.member, notice)
    const relay = relayOf(held, now)
    const leaving = relay.told === 'here'
    if (!takeOne(relay, MEMBER_BURST, this.memberRate, now) && !(leaving && borrowOne(relay))) return
    relay.told = 'lost'
    for (const taker of this.parts.lostTakers())
      if (taker !== from && taker !== notice.from && this.mayTell(taker, RESERVE))
        out.push({ type: 'tell', neighbor: taker, message: notice })
  }

  /**
   * Once `lostGraceMs` passed with no newer presence of the member of `notice`, its presence held stops
   * saying it is there, and with `tell`, it is told as having maybe left.
   */
  private showLostLater(member: string, notice: Lost, tell: boolean, waited = false): void {
    const { clock, room, roster } = this.parts
    const before = this.lostTimers.get(member)
    if (before !== undefined) clock.clearTimeout(before)
    const due = clock.now() + this.options.lostGraceMs
    const timer = clock.setTimeout(() => {
      this.lostTimers.delete(member)
      const held = room.hereOf(member)
      if (held?.lost !== notice || room.isOpen(member)) return
      // Far later than due, this node did not run meanwhile (stopped, asleep): an answer may wait on its
      // links, read after its timers. It gets the grace again, once.
      if (!waited && clock.now() - due > this.options.lostGraceMs) {
        this.showLostLater(member, notice, tell, true)
        return
      }
      const wasThere = this.present(held) === true
      room.showLost(member)
      if (!tell || !wasThere) return
      roster.mayHaveLeft(member, held.ts)
      const peer = room.heldPeer(member) ?? { id: member, name: held.frame.name }
      const by = room.heldPeer(notice.from) ?? { id: notice.from, name: notice.from.slice(0, 8) }
      this.parts.emit({ type: 'member-lost', peer, by, at: held.ts })
    }, this.options.lostGraceMs)
    this.lostTimers.set(member, timer)
  }

  /** A notice says this node was lost: a fresh presence says it is there, within an allowance. */
  private answerLost(now: number, out: RoomEffect[]): void {
    this.answers ??= { tokens: MEMBER_BURST, refilledAt: now }
    if (takeOne(this.answers, MEMBER_BURST, this.memberRate, now)) this.sayToAll('here', out)
  }

  private takesLostNow(neighbor: string): boolean {
    for (const taker of this.parts.lostTakers()) if (taker === neighbor) return true
    return false
  }

  /** How fast a member's allowance of relays refills, a second. */
  private get memberRate(): number {
    return 1000 / (this.options.everyMs * MEMBER_EVERY)
  }

  /**
   * Whether a presence frame is not read: past the link's allowance (`FLOOD`), the neighbour is refused;
   * past its key's, across its links, the frame is dropped and the link kept.
   */
  private flooded(link: object, neighbor: string, now: number, out: RoomEffect[]): boolean {
    if (this.allowed(link, now)) return !this.allowedKey(neighbor, now)
    out.push(
      refuse({
        neighbor,
        code: 'FLOOD',
        message: `more than ${this.options.rate.perSecond} presence frames a second (burst ${this.options.rate.burst})`,
      }),
    )
    return true
  }

  /** Forgets presences that expired; members known only by them leave the table. */
  expire(now = this.parts.clock.now()): void {
    for (const [key, until] of this.doubted) if (until <= now) this.doubted.delete(key)
    for (const [key, { until }] of this.strikes)
      if (until + this.options.expiryMs <= now) this.strikes.delete(key)
    const { room } = this.parts
    for (const member of this.lostVia.keys()) if (!room.hereOf(member)?.lost) this.lostVia.delete(member)
    this.parts.roster.dropped(this.parts.room.expireHere(now - this.options.expiryMs))
  }

  /**
   * Whether one more presence frame may go to `neighbor` (and counts it): relays keep `reserve` frames
   * back, so this node's own presence still goes when relays used up the rest. A relay left out is not
   * lost for good: its member says it is there again within `everyMs`.
   */
  private mayTell(neighbor: string, reserve: number): boolean {
    const { perSecond } = this.options.rate
    const rate = perSecond * 0.8
    const cap = this.outboundCap()
    const now = this.parts.clock.now()
    let allowance = this.outbound.get(neighbor)
    if (!allowance) {
      allowance = { tokens: cap, refilledAt: now }
      this.outbound.set(neighbor, allowance)
    }
    return takeOne(allowance, cap, rate, now, reserve)
  }

  /** The most a neighbour's outbound allowance holds: a margin off the burst it takes. */
  private outboundCap(): number {
    const { burst } = this.options.rate
    return Math.max(1, burst - Math.max(RESERVE, Math.ceil(burst / 12)))
  }

  /** What relays past a member's first presence in a while leave of a neighbour's allowance: half. */
  private burstReserve(): number {
    return Math.max(RESERVE, Math.floor(this.outboundCap() / 2))
  }

  /**
   * Forgets the outbound allowances of neighbours no longer linked that are full again (a new one starts
   * full), once there are more than a few; past `MAX_KEYED`, the oldest of those not linked too.
   */
  private pruneOutbound(): void {
    if (this.outbound.size < 64) return
    const linked = new Set(this.parts.takers())
    const cap = this.outboundCap()
    const rate = this.options.rate.perSecond * 0.8
    prune(
      this.outbound,
      (id, allowance) =>
        !linked.has(id) && refilled(allowance, cap, rate, this.parts.clock.now()).tokens >= cap,
    )
    for (const id of this.outbound.keys()) {
      if (this.outbound.size <= MAX_KEYED) break
      if (!linked.has(id)) this.outbound.delete(id)
    }
  }

  /** Whether the neighbour's key, across its links, may still have a frame read (and counts it). */
  private allowedKey(neighbor: string, now: number): boolean {
    const { perSecond, burst } = this.options.rate
    let allowance = this.keyed.get(neighbor)
    if (!allowance) {
      if (this.keyed.size >= MAX_KEYED) {
        prune(this.keyed, (_, a) => refilled(a, burst, perSecond, now).tokens >= burst)
        for (const id of this.keyed.keys()) {
          if (this.keyed.size < MAX_KEYED) break
          this.keyed.delete(id)
        }
      }
      allowance = { tokens: burst, refilledAt: now }
      this.keyed.set(neighbor, allowance)
    }
    return takeOne(allowance, burst, perSecond, now)
  }

  private allowed(link: object, now: number): boolean {
    const { perSecond, burst } = this.options.rate
    let allowance = this.allowances.get(link)
    if (!allowance) {
      allowance = { tokens: burst, refilledAt: now }
      this.allowances.set(link, allowance)
    }
    return takeOne(allowance, burst, perSecond, now)
  }
}

/**
 * Takes one frame from `allowance`, refilled at `perSecond` up to `cap` since it was last, and leaving
 * `reserve` frames in it: false, taking nothing, when it holds too few.
 */
function takeOne(allowance: Allowance, cap: number, perSecond: number, now: number, reserve = 0): boolean {
  refilled(allowance, cap, perSecond, now)
  if (allowance.tokens < 1 + reserve) return false
  allowance.tokens -= 1
  return true
}

/**
 * Takes one frame from a member's allowance of relays that holds none (it was just refilled): a leave or
 * an answer to a notice goes on past the allowance, but only down to one burst below nothing, which it
 * then waits out. A member that links, says it is there and drops its link over and over has its
 * presences and the notices about it relayed at its own rate, never at the cost of the others'.
 */
function borrowOne(allowance: Allowance): boolean {
  if (allowance.tokens < 1 - MEMBER_BURST) return false
  allowance.tokens -= 1
  return true
}

/** `allowance`, refilled at `perSecond` up to `cap` since it was last. */
function refilled(allowance: Allowance, cap: number, perSecond: number, now: number): Allowance {
  allowance.tokens = Math.min(cap, allowance.tokens + ((now - allowance.refilledAt) * perSecond) / 1000)
  allowance.refilledAt = now
  return allowance
}

/** Sets `key` as the newest entry of `map`, then forgets the oldest ones past `max`. */
function setNewest<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key)
  map.set(key, value)
  for (const oldest of map.keys()) {
    if (map.size <= max) break
    map.delete(oldest)
  }
}

/** Deletes the entries of `map` that `drop` says go. */
function prune<V>(map: Map<string, V>, drop: (key: string, value: V) => boolean): void {
  for (const [key, value] of map) if (drop(key, value)) map.delete(key)
}

/** A held presence's allowance of relays (one made full when it has none). */
function relayOf(held: HeldHere, now: number): NonNullable<HeldHere['relay']> {
  return held.relay ?? { tokens: MEMBER_BURST, refilledAt: now }
}

function doubtKey(from: string, member: string): string {
  return `${from} ${member}`
}

/** The notice as it is kept and relayed: its known fields only. */
function copyOfLost(frame: Lost): Lost {
  const { from, member, ts, sig } = frame
  return sig === undefined ? { type: 'lost', from, member, ts } : { type: 'lost', from, member, ts, sig }
}

/** The frame as it is kept and relayed: its known fields only, and its reason only when `reason` vouched for it. */
function copyOf(frame: Here, reason: string | undefined): Here {
  const { from, name, ts, state, sig, reasonSig } = frame
  const kept: Here =
    sig === undefined ? { type: 'here', from, name, ts, state } : { type: 'here', from, name, ts, state, sig }
  if (reason === undefined) return kept
  return reasonSig === undefined ? { ...kept, reason } : { ...kept, reason, reasonSig }
}
