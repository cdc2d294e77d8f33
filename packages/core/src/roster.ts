/**
 * The room's members: who they are as frontends see them (each announced once per run and again under
 * each new name, with the other members whose names look the same), and who keeps a place when the
 * member table is full. Throwaway keys must never lock out honest members, so a full table forgets
 * someone rather than refusing a newcomer: never a member whose link is open or that this node dials,
 * first the members no long-lived neighbour vouches for, then those idle the longest. What a forgotten
 * member had reached is kept (its watermark), so its messages are never shown twice when it returns.
 */
import { namesakes, sameWrittenName, shownName } from './names.js'
import type { MemberInfo, NodeEvent } from './node-types.js'
import type { PeerInfo } from './peer-machine.js'
import { Room } from './room.js'
import { type HeldHere, type NeighborLink, newOrigin, type Origin, type RoomEffect } from './room-types.js'
import type { Lost, Msg } from './schema.js'
import type { Session, Sessions } from './sessions.js'
import type { Link } from './transport.js'

/** How members earn and keep a place, unless the node says otherwise. */
export const MEMBER_DEFAULTS = {
  /** A neighbour whose link stayed up this long vouches for itself and for the members it relays. */
  vouchAfterMs: 60_000,
  /** A vouched member silent this long loses its vouch: it is forgotten as readily as a stranger. */
  idleMs: 24 * 60 * 60_000,
  /** Watermarks of forgotten members kept, per place in the member table. */
  forgottenPerPlace: 10,
} as const

/** A relayed member whose newest message is older than this is not said to be in the room: it wrote there. */
export const RELAYED_RECENT_MS = 120_000

/** How a direct member is reached now: its open link, and the address it says it listens on. */
export interface Reach {
  readonly link: Link
  readonly listen?: string | undefined
}

export interface MemberRules {
  readonly vouchAfterMs: number
  readonly idleMs: number
  /** Members this node dials: they are never forgotten. */
  dials(peerId: string): boolean
  now(): number
  /** The open link of a peer's session, if it has one. */
  reachOf(peerId: string): Reach | undefined
  /** This node, under the name it goes by now: a peer that takes it is a namesake too. */
  self?(): PeerInfo
  /** Whether a held presence still says its member is there (see `Presence.present`). */
  present?(here: HeldHere | undefined): boolean | undefined
}

/** What the room asks before it takes a member it does not hold. */
interface MemberDoor {
  admitting(id: string): void
}

/**
 * The room with a door: before it takes a member it does not hold (a new neighbour, or the first message
 * of a relayed origin), the roster makes a place for it, and brings back what it knew of it.
 */
export class MemberRoom extends Room {
  door?: MemberDoor

  override linkOpened(id: string, info: NeighborLink, out: RoomEffect[] = []) {
    if (!this.origins.has(id)) this.door?.admitting(id)
    return super.linkOpened(id, info, out)
  }

  override receive(id: string, msg: Msg, trusted: boolean, out: RoomEffect[] = []) {
    if (msg.from !== this.self.id && !this.origins.has(msg.from)) this.door?.admitting(msg.from)
    return super.receive(id, msg, trusted, out)
  }

  get capacity(): number {
    return this.maxOrigins
  }

  /** Members held, besides this node (maybe not announced yet). */
  get memberCount(): number {
    return this.origins.size - 1
  }

  holds(id: string): boolean {
    return id !== this.self.id && this.origins.has(id)
  }

  *memberIds(): Generator<string> {
    for (const id of this.origins.keys()) if (id !== this.self.id) yield id
  }

  isOpen(id: string): boolean {
    return this.neighbors.get(id)?.open === true
  }

  /**
   * Forgets member `id` and everything the room holds for it; returns its name and watermark (undefined
   * when it was never more than a relay's unchecked claim). A neighbour whose link is open is kept.
   */
  forget(id: string): { peer: PeerInfo; received: number } | undefined {
    const origin = this.origins.get(id)
    if (!origin || origin === this.own || this.isOpen(id)) return undefined
    if (origin.here) this.rememberLapsed(id, origin.here)
    this.dropAllCandidates(origin)
    this.forgetOrigin(origin)
    this.neighbors.delete(id)
    for (const n of this.neighbors.values()) {
      // Released through the ledger: an honest relay of many forgotten members must not run out of budget.
      this.ledger.forgetOrigin(n, id)
      n.sentUpTo.delete(id)
      n.told.delete(id)
      n.floor.delete(id)
    }
    return origin.known ? { peer: origin.peer, received: origin.received } : undefined
  }

  /** The newest presence held of member `id`. */
  hereOf(id: string): HeldHere | undefined {
    return this.origins.get(id)?.here
  }

  /**
   * Of members forgotten while a presence of theirs was held (their place taken): that presence's ts, so
   * that a replay of an older one (its `here` before its `gone`) is not taken as news once it is back.
   * Bounded: past `capacity × 4` entries the first forgotten go, and `lapsedFloor` rises to the newest of
   * those gone (never past when it was taken here, so a member dating its presence ahead cannot raise it
   * beyond this node's clock), which a presence of a member not listed must then be newer than.
   */
  private readonly lapsed = new Map<string, HeldHere>()
  private lapsedFloor = 0

  private rememberLapsed(id: string, here: HeldHere): void {
    this.lapsed.delete(id)
    this.lapsed.set(id, here)
    const cap = this.maxOrigins * 4
    for (const [gone, was] of this.lapsed) {
      if (this.lapsed.size <= cap) break
      this.lapsed.delete(gone)
      this.lapsedFloor = Math.max(this.lapsedFloor, Math.min(was.ts, was.heldAt))
    }
  }

  /** A presence of member `id` is news only when newer than this: what is held, or was held before it was forgotten. */
  hereNewerThan(id: string): number {
    const held = this.origins.get(id)?.here
    if (held) return held.ts
    return this.lapsed.get(id)?.ts ?? this.lapsedFloor
  }

  /** The member as the table holds it, known by its messages, its link or only its presence. */
  heldPeer(id: string): PeerInfo | undefined {
    return id === this.self.id ? undefined : this.origins.get(id)?.peer
  }

  /** Whether member `id` is known by more than its presence: a neighbour, or messages of it were taken. */
  knownBeyondPresence(id: string): boolean {
    return this.origins.get(id)?.known === true
  }

  /**
   * Per member that came as a presence alone: the neighbour whose relay brought it. Once the table is
   * full, a neighbour's newcomer may take the place of one brought by another that holds more such places
   * (`presencePlaceFor`), so no one neighbour's throwaway presences keep the members the others bring
   * from ever being shown.
   */
  private readonly presenceVia = new Map<string, string>()

  /**
   * Whether a presence of member `id`, relayed by neighbour `via`, could be held now: its member is held,
   * the table has a free place, or one can be made (`presencePlaceFor`).
   */
  mayHoldHere(id: string, via?: string): boolean {
    if (id === this.self.id) return false
    if (this.origins.has(id) || this.origins.size - 1 < this.maxOrigins) return true
    return via !== undefined && this.presencePlaceFor(via) !== undefined
  }

  /**
   * The member to forget so that a newcomer known only by its presence, relayed by `via`, takes its place
   * in a full table: one known only by its presence (the longest held), not linked, brought by the
   * neighbour that brought the most such members, when that is at least two more than `via` brought.
   */
  presencePlaceFor(via: string): string | undefined {
    // Counted now, not kept: a member that came as a presence and became known otherwise since (its
    // messages, a link) no longer holds such a place, nor counts against the neighbour that brought it.
    const places = new Map<string, string[]>()
    for (const [id, by] of this.presenceVia) {
      const origin = this.origins.get(id)
      if (!origin || origin.known || origin.waiting.size > 0 || this.isOpen(id)) continue
      const ids = places.get(by)
      if (ids) ids.push(id)
      else places.set(by, [id])
    }
    const mine = places.get(via)?.length ?? 0
    let most: string[] | undefined
    for (const [neighbor, ids] of places)
      if (neighbor !== via && ids.length > mine + 1 && ids.length > (most?.length ?? 0)) most = ids
    // The longest held of them: the map keeps the order they came in.
    return most?.[0]
  }

  protected override forgetOrigin(origin: Origin): void {
    super.forgetOrigin(origin)
    const id = origin.peer.id
    this.presenceVia.delete(id)
  }

  /**
   * Holds `here` as member `id`'s newest presence, making it a member first (through the door, so the
   * table's rules decide who makes room); false when the table has no room for it. A member known only by
   * its presence goes by the name its presence gives (`name`, cleaned).
   */
  holdHere(id: string, name: string, here: HeldHere, via?: string): boolean {
    if (id === this.self.id) return false
    let origin = this.origins.get(id)
    if (!origin) {
      // A member known only by its presence takes a free place, never one another member holds: else a
      // neighbour's throwaway presences would push honest members off the table, again and again. Only
      // one another neighbour's presence brought, when that neighbour brought more (`presencePlaceFor`).
      if (this.origins.size - 1 >= this.maxOrigins) return false
      this.door?.admitting(id)
      if (this.origins.size - 1 >= this.maxOrigins) return false
      origin = this.originFor({ id, name })
      if (via !== undefined && !origin.known) this.presenceVia.set(id, via)
    }
    if (origin.peer.name !== name && (!origin.known || this.renamedByPresence(origin, here)))
      origin.peer = { id, name }
    origin.here = here
    this.lapsed.delete(id)
    return true
  }

  /**
   * Whether a presence renames a member known by more than it: one reached through relays, whose presence
   * says it is there and was written after its newest message held (both signed by it, on its clock). A
   * neighbour on its open link goes by its hello and its messages, which tell the rename.
   */
  private renamedByPresence(origin: Origin, here: HeldHere): boolean {
    if (here.state !== 'here' || this.isOpen(origin.peer.id)) return false
    const newest = origin.log.at(-1)
    return newest === undefined || here.ts > newest.ts
  }

  /** A neighbour lost its link to member `id` (`notice`) while this presence of it was held. */
  markLost(id: string, notice: Lost): void {
    const origin = this.origins.get(id)
    if (origin?.here) origin.here = { ...origin.here, lost: notice }
  }

  /** Member `id`'s presence held, marked lost, no longer says it is there: no answer came in time. */
  showLost(id: string): void {
    const origin = this.origins.get(id)
    if (origin?.here?.lost) origin.here = { ...origin.here, lostShown: true }
  }

  /**
   * Drops presences older than `before` (their member's clock): a member known only by one is forgotten,
   * the others keep their place. Returns the ids of members forgotten.
   */
  expireHere(before: number): string[] {
    const dropped: string[] = []
    // Older than the expiry, a presence is refused anyway: what is remembered of it is no longer needed.
    for (const [id, was] of this.lapsed) if (was.ts < before) this.lapsed.delete(id)
    for (const origin of [...this.origins.values()]) {
      if (!origin.here || origin.here.ts >= before) continue
      delete origin.here
      if (origin.known || origin.waiting.size > 0) continue
      this.forget(origin.peer.id)
      if (!this.origins.has(origin.peer.id)) dropped.push(origin.peer.id)
    }
    return dropped
  }

  /** A forgotten member is back: what it sent up to `received` was shown, so it is dropped if sent again. */
  readmit(peer: PeerInfo, received: number): void {
    if (this.origins.has(peer.id)) return
    const origin = newOrigin(peer, received)
    origin.known = true
    this.origins.set(peer.id, origin)
  }
}

/** What is kept of a forgotten member. */
interface Forgotten {
  readonly peer: PeerInfo
  readonly received: number
  readonly announced?: string
  /** The name it went by when it was last there (`knownAs`), when it was not announced since. */
  readonly knownAs?: string
  readonly session?: { readonly epoch: string; readonly acked: number }
  /** It was announced by old messages only (the newest sent then), and not said to be in the room since. */
  readonly unsure?: number
}

export class Roster implements MemberDoor {
  /** Members already announced this run, with the name they were announced under. */
  private readonly announced = new Map<string, string>()
  private readonly lastSeen = new Map<string, number>()
  /** When each member last did something: joined, spoke, connected or left. */
  private readonly activeAt = new Map<string, number>()
  /** Neighbours whose link once stayed up long enough to vouch. */
  private readonly longLived = new Set<string>()
  /** The neighbour that last relayed each member's messages. */
  private readonly relayedBy = new Map<string, string>()
  /** Forgotten members, oldest first, up to `forgottenCap`. */
  private readonly forgotten = new Map<string, Forgotten>()
  /**
   * Members announced by old relayed messages, and the newest sent then (`lastSent`, long ago), so not said
   * to be in the room: the first presence dated after it says they are, and is told (`hereAt`), once.
   */
  private readonly unsure = new Map<string, number>()

  /**
   * The names members went by when this node last ran (its journal, restored into the room), until each
   * shows up this run: one that comes back under another name is told as a rename, as a live one is.
   */
  private readonly knownAs = new Map<string, string>()

  constructor(
    private readonly room: MemberRoom,
    private readonly sessions: Sessions,
    private readonly rules: MemberRules,
  ) {
    room.door = this
    for (const member of room.members()) this.knownAs.set(member.peer.id, member.peer.name)
  }

  private get forgottenCap(): number {
    return Math.max(1, this.room.capacity) * MEMBER_DEFAULTS.forgottenPerPlace
  }

  /** Entries the roster keeps about members, forgotten ones included: bounded by the member table, not by traffic. */
  get held(): number {
    const maps = [this.announced, this.lastSeen, this.activeAt, this.relayedBy, this.forgotten, this.knownAs]
    return maps.reduce((sum, map) => sum + map.size, this.longLived.size + this.unsure.size)
  }

  /** Ids of other members, this node included, whose name looks the same as `peer`'s. */
  sameNameAs(peer: PeerInfo): string[] {
    const known = [...this.sessions.values()].map((s) => s.peer)
    for (const m of this.room.members()) known.push(m.peer)
    const ids = namesakes(peer, known)
    // This node's own name, as it is written (case and width folded): a peer that takes it is told at
    // once, without the look-alike table that a node with one peer never loads. Look-alikes of it are
    // told apart where names are shown (the launcher's PeerLabels).
    const self = this.rules.self?.()
    if (self && self.id !== peer.id && sameWrittenName(self.name, peer.name)) ids.push(self.id)
    return ids
  }

  /**
   * The `member` event the first time this run that `peer` shows up, and again when it shows up under
   * another name (`renamedFrom`: a rename is never silent); undefined otherwise. `lastSent`: it shows up
   * in relayed messages, the newest sent then; long ago, the event says it wrote in the room, not that it
   * is there, until `present` says so.
   */
  arrived(
    peer: PeerInfo,
    via: 'direct' | 'relay',
    lastSent?: number,
  ): Extract<NodeEvent, { type: 'member' }> | undefined {
    let before = this.announced.get(peer.id)
    const first = before === undefined
    if (via === 'direct') this.unsure.delete(peer.id)
    if (before === undefined) {
      // Its first arrival this run: under another name than the last run knew, it renamed itself meanwhile.
      const known = this.knownAs.get(peer.id)
      this.knownAs.delete(peer.id)
      if (known !== peer.name) before = known
    }
    if (before === peer.name) return undefined
    this.announced.set(peer.id, peer.name)
    const sent = via === 'relay' ? lastSent : undefined
    if (first && via === 'relay') {
      if (sent !== undefined && sent <= this.rules.now() - RELAYED_RECENT_MS) this.unsure.set(peer.id, sent)
      else this.unsure.delete(peer.id)
    }
    const sameNameAs = this.sameNameAs(peer)
    return {
      type: 'member',
      peer,
      via,
      ...(sameNameAs.length > 0 ? { sameNameAs } : {}),
      ...(before !== undefined ? { renamedFrom: before } : {}),
      ...(sent !== undefined ? { lastSent: sent } : {}),
    }
  }

  /**
   * A presence of `peer` dated `hereAt` says it is in the room: its `member` event when it is news (it
   * arrives, renamed, or was announced only by old messages, then with `hereAt`, once); undefined otherwise.
   */
  present(peer: PeerInfo, hereAt: number): Extract<NodeEvent, { type: 'member' }> | undefined {
    // A presence no newer than those messages says no more than they did (a relay may hold one back for
    // as long as presence lasts): the member still only wrote there.
    const since = this.unsure.get(peer.id)
    if (since !== undefined && hereAt <= since) return this.arrived(peer, 'relay')
    const unsure = this.unsure.delete(peer.id)
    const event = this.arrived(peer, 'relay')
    if (!unsure) return event
    // Its look-alike names were told when it was announced; a rename is told with them again.
    return event ? { ...event, hereAt } : { type: 'member', peer, via: 'relay', hereAt }
  }

  /**
   * A neighbour lost its link to member `id` while it held its presence dated `hereAt`: its next presence,
   * newer than that, is told as it being in the room now (`hereAt`), once.
   */
  mayHaveLeft(id: string, hereAt: number): void {
    if (this.announced.has(id)) this.unsure.set(id, hereAt)
  }

  /**
   * Member `id` said it left (its presence): when it comes back it is announced again, and under another
   * name than the one it left under, as a rename (never silently).
   */
  departed(id: string): void {
    const name = this.announced.get(id)
    if (name === undefined || !this.room.holds(id)) return
    this.announced.delete(id)
    this.unsure.delete(id)
    this.knownAs.set(id, name)
  }

  /** Members the room dropped by itself (their presence lapsed): nothing is kept of them. */
  dropped(ids: readonly string[]): void {
    for (const id of ids) {
      for (const map of [this.announced, this.lastSeen, this.activeAt, this.relayedBy, this.knownAs])
        map.delete(id)
      this.unsure.delete(id)
    }
  }

  heard(peerId: string, now: number): void {
    if (!this.room.holds(peerId)) return
    this.lastSeen.set(peerId, now)
    this.activeAt.set(peerId, now)
  }

  /**
   * A presence of member `originId` came from a neighbour and was taken: the member is active (as when it
   * speaks) and seen now. Not vouched for by that neighbour, as members whose messages it relays are: a
   * presence costs a throwaway key nothing, so members known only by theirs go first when room is needed.
   */
  presentNow(originId: string, now: number): void {
    this.heard(originId, now)
  }

  /** `neighborId` sent a message of member `originId`. */
  relayed(originId: string, neighborId: string): void {
    if (originId !== neighborId && this.room.holds(originId)) this.relayedBy.set(originId, neighborId)
  }

  /** A peer connects: it gets a place (and what was known of it, if it was forgotten) before its session opens. */
  connecting(peerId: string): void {
    if (!this.room.holds(peerId)) this.admitting(peerId)
  }

  /** A neighbour's link closed (its session's `openedAt` still says when that link opened). */
  left(session: Session): void {
    const peerId = session.peer.id
    const now = this.rules.now()
    if (now - session.openedAt >= this.rules.vouchAfterMs) this.longLived.add(peerId)
    if (this.room.holds(peerId)) this.activeAt.set(peerId, now)
  }

  /**
   * Forgets members until the table is within its capacity, after a restart restored more: those that
   * spoke least recently first (by their last message kept, never later than now). One sort, however
   * many the journal held.
   */
  trim(): void {
    const now = this.rules.now()
    const excess = this.room.memberCount - this.room.capacity
    if (excess <= 0) return
    const ranked: { id: string; active: number }[] = []
    for (const id of this.room.memberIds()) {
      const active = Math.min(this.room.logOf(id).at(-1)?.ts ?? Number.NEGATIVE_INFINITY, now)
      this.activeAt.set(id, active)
      ranked.push({ id, active })
    }
    ranked.sort((a, b) => (a.active < b.active ? -1 : a.active > b.active ? 1 : 0))
    for (const { id } of ranked.slice(0, excess)) this.forget(id)
  }

  /** Every member of the room: neighbours and the origins relayed to this node. */
  list(): MemberInfo[] {
    return this.room.members().map((m) => {
      const reach = this.rules.reachOf(m.peer.id)
      const seen = this.lastSeen.get(m.peer.id)
      const present = this.rules.present?.(m.here)
      return {
        peer: m.peer,
        direct: m.direct,
        connected: m.direct ? reach !== undefined : m.connected,
        ...(m.direct && reach === undefined && m.throughMesh ? { throughMesh: true as const } : {}),
        ...(reach ? { address: reach.link.remoteAddress } : {}),
        ...(reach?.listen ? { listen: reach.listen } : {}),
        ...(seen !== undefined ? { lastSeen: seen } : {}),
        ...(present !== undefined && m.here ? { present, hereAt: m.here.ts } : {}),
      }
    })
  }

  memberOf(msg: Msg): PeerInfo {
    const fallback = msg.from.slice(0, 8)
    return this.room.peerOf(msg.from) ?? { id: msg.from, name: shownName(msg.name ?? fallback, fallback) }
  }

  /** `id` is about to become a member: make a place for it, and bring back what was known of it. */
  admitting(id: string): void {
    while (this.room.memberCount >= this.room.capacity && this.forgetOne()) {}
    this.pruneStrangers()
    this.activeAt.set(id, this.rules.now())
    const back = this.forgotten.get(id)
    if (!back) return
    this.forgotten.delete(id)
    this.room.readmit(back.peer, back.received)
    if (back.announced !== undefined) this.announced.set(id, back.announced)
    if (back.knownAs !== undefined) this.knownAs.set(id, back.knownAs)
    if (back.unsure !== undefined) this.unsure.set(id, back.unsure)
    if (back.session) this.sessions.revive(back.peer, back.session.epoch, back.session.acked)
  }

  /**
   * Drops what is kept of ids the room does not hold: a newcomer refused, or one a relay only claimed and
   * that was dropped with its unchecked messages. Amortised: only once the maps outgrow the table.
   */
  private pruneStrangers(): void {
    const limit = 2 * this.room.capacity + 16
    // `unsure` holds only members announced, so it outgrows nothing by itself.
    if (this.activeAt.size <= limit && this.announced.size <= limit && this.relayedBy.size <= limit) return
    for (const map of [this.activeAt, this.announced, this.lastSeen, this.relayedBy])
      for (const id of map.keys()) if (!this.room.holds(id)) map.delete(id)
    for (const id of this.unsure.keys()) if (!this.room.holds(id)) this.unsure.delete(id)
  }

  /** Forgets the member that least deserves its place; false when every member must stay. */
  private forgetOne(): boolean {
    const now = this.rules.now()
    let victim: string | undefined
    let victimRank = Number.POSITIVE_INFINITY
    let victimActive = Number.POSITIVE_INFINITY
    for (const id of this.room.memberIds()) {
      if (this.room.isOpen(id) || this.rules.dials(id) || this.sessions.get(id)?.link !== undefined) continue
      const active = this.activeAt.get(id) ?? Number.NEGATIVE_INFINITY
      // A member known only by its presence goes first, however fresh: a throwaway key's presence costs
      // nothing. A vouch lapses with inactivity: a member silent that long goes before a fresh newcomer.
      const rank = this.presenceOnly(id) ? -1 : this.vouched(id) && now - active < this.rules.idleMs ? 1 : 0
      if (rank < victimRank || (rank === victimRank && active < victimActive)) {
        victim = id
        victimRank = rank
        victimActive = active
      }
    }
    if (victim === undefined) return false
    this.forget(victim)
    return true
  }

  /** Known by its presence alone: neither a neighbour nor the origin of a message taken. */
  private presenceOnly(id: string): boolean {
    return !this.room.knownBeyondPresence(id) && this.room.hereOf(id) !== undefined
  }

  /** A long-lived neighbour, one this node dials, or a member such a neighbour relayed. */
  private vouched(id: string): boolean {
    if (this.vouchesDirectly(id)) return true
    const relay = this.relayedBy.get(id)
    return relay !== undefined && this.vouchesDirectly(relay)
  }

  private vouchesDirectly(id: string): boolean {
    if (this.longLived.has(id) || this.rules.dials(id)) return true
    const session = this.sessions.get(id)
    return session?.link !== undefined && this.rules.now() - session.openedAt >= this.rules.vouchAfterMs
  }

  private forget(id: string): void {
    const kept = this.room.forget(id)
    const session = this.sessions.delete(id)
    const knownAs = this.knownAs.get(id)
    this.knownAs.delete(id)
    if (kept) {
      const announced = this.announced.get(id)
      const unsure = this.unsure.get(id)
      this.forgotten.set(id, {
        peer: kept.peer,
        received: kept.received,
        ...(announced !== undefined ? { announced } : {}),
        ...(knownAs !== undefined ? { knownAs } : {}),
        ...(session ? { session: { epoch: session.epoch, acked: session.acked } } : {}),
        ...(unsure !== undefined ? { unsure } : {}),
      })
      if (this.forgotten.size > this.forgottenCap) this.forgotten.delete(this.forgotten.keys().next().value!)
    }
    this.announced.delete(id)
    this.unsure.delete(id)
    this.lastSeen.delete(id)
    this.activeAt.delete(id)
    this.longLived.delete(id)
    this.relayedBy.delete(id)
  }
}
