/**
 * What flows over open sessions: a session's messages handed to the room (`deliver`), the room's effects
 * carried out in one place and one order (`perform`), acks both ways, and the pump that writes what each
 * neighbour lacks. `ParleyNode` decides when links and sessions open and close; this carries what they
 * carry, so the node's lifecycle and the room's data path can be read apart.
 */
import type { Clock } from './clock.js'
import type { JournalRecord } from './journal.js'
import type { LinkRecord, Links } from './links.js'
import { lineId } from './msg-lines.js'
import type { NodeEvent } from './node-types.js'
import { dueAcks, pump } from './outbound.js'
import type { PeerInfo } from './peer-machine.js'
import type { Persistence } from './persistence.js'
import type { Presence } from './presence.js'
import { type OwnFork, planEffects, type Refusal, type RoomEffect, refusalError } from './room-types.js'
import type { MemberRoom, Roster } from './roster.js'
import type { Message, Msg } from './schema.js'
import type { Session, Sessions } from './sessions.js'

/** The node's parts the traffic goes through. */
export interface TrafficParts {
  readonly room: MemberRoom
  readonly roster: Roster
  readonly sessions: Sessions
  readonly links: Links
  readonly store: Persistence
  readonly clock: Clock
  /** Messages are signed: only a link that proved the origin's key vouches for its words. */
  readonly signed: boolean
  /** The lines a message carried come as one `lines` event (`NodeOptions.runs`). */
  readonly runs?: boolean
  /** Members' presence (`here` frames); undefined when this node takes no part (they are ignored). */
  readonly presence?: Presence | undefined
}

/** What the traffic asks of the node (methods on one object, so every node shares their code). */
export interface TrafficHooks {
  /**
   * Whether the outbox waits for the peer: this node dials it (it will be back), or dials an address that
   * has not said whose it is yet, which may be this peer's.
   */
  waitsFor(peerId: string): boolean
  /** Whether some address this node dials has not answered yet, so whose it is is not known. */
  dialsUnanswered(): boolean
  /** Whether this node dials the peer: one the user chose, never locked out by strangers' messages. */
  dials(peerId: string): boolean
  /** A neighbour on an open link took another name (its session goes by it already). */
  renamed(peer: PeerInfo): void
  emit(event: NodeEvent): void
}

export class SessionTraffic {
  private readonly room: MemberRoom
  private readonly roster: Roster
  private readonly sessions: Sessions
  private readonly links: Links
  private readonly store: Persistence
  private readonly clock: Clock
  private readonly runs: boolean
  /** Neighbours whose catch-up waits for its allowances, and the one timer that goes on with them. */
  private readonly paced = new Set<string>()
  private pacedTimer: unknown
  private pacedDue = 0

  constructor(
    private readonly parts: TrafficParts,
    private readonly hooks: TrafficHooks,
  ) {
    this.room = parts.room
    this.roster = parts.roster
    this.sessions = parts.sessions
    this.links = parts.links
    this.store = parts.store
    this.clock = parts.clock
    this.runs = parts.runs ?? false
  }

  /** The session a link carries, if it is that session's current link. */
  sessionOf(record: LinkRecord): Session | undefined {
    const session = record.hello ? this.sessions.get(record.hello.peer.id) : undefined
    return session?.link === record.id ? session : undefined
  }

  /** The session's current link, if it has one. */
  linkOf(session: Session | undefined): LinkRecord | undefined {
    return session?.link === undefined ? undefined : this.links.get(session.link)
  }

  /** What a session's link delivered, once the link machine has let it through. */
  deliver(record: LinkRecord, message: Message, effects: RoomEffect[]): void {
    const session = this.sessionOf(record)
    if (!session) return
    switch (message.type) {
      case 'msg': {
        record.ackDue = true
        if (this.store.overQuota(session.peer.id, message, effects, this.hooks.dials(message.from))) return
        // Straight from its origin over a link that proved the origin's key: shown at once.
        const trusted =
          message.from === session.peer.id && (!this.parts.signed || record.link.remoteKey === message.from)
        this.room.receive(session.peer.id, message, trusted, effects)
        this.roster.relayed(message.from, session.peer.id)
        return
      }
      case 'ack':
        this.room.onAck(session.peer.id, message, effects, this.clock.now())
        this.acknowledge(session, message.upTo)
        return
      case 'ping':
        this.links.write(record, { type: 'pong', n: message.n })
        return
      case 'pong':
        return
      case 'here':
        // Its own, over a link that proved its key: what it says of when it runs is its own word.
        if (
          message.from === session.peer.id &&
          (!this.parts.signed || record.link.remoteKey === message.from)
        )
          this.room.ownPresence(session.peer.id, message.ts, effects)
        this.parts.presence?.receive(record, session.peer.id, message, effects)
        return
      case 'lost':
        this.parts.presence?.receiveLost(record, session.peer.id, message, effects)
        return
      case 'throttle': {
        // One notice every few seconds is enough for a person; the peer may send many.
        const now = this.clock.now()
        if (now - session.throttledAt >= 3_000) {
          session.throttledAt = now
          this.hooks.emit({ type: 'throttled', peer: session.peer, retryMs: message.retryMs })
        }
        return
      }
      default:
        return
    }
  }

  /**
   * The one place the room's decisions are carried out, always in this order: tell the user our stream
   * went back behind a neighbour's (`fork`), refuse (close the links of
   * neighbours that broke the rules), send what the room addressed to a neighbour, resume neighbours whose
   * links may carry more now, then persist what was accepted (and any jump past a moved window) in one
   * append, and once it is durable: announce members who joined, show each message, and pump what the
   * neighbours still lack (the node relays accepted messages at once, before the journal has them).
   */
  perform(effects: readonly RoomEffect[]): void {
    if (effects.length === 0) return
    const plan = planEffects(effects)
    for (const fork of plan.forks) this.forked(fork)
    for (const refusal of plan.refusals) this.refuse(refusal)
    for (const { neighbor, message } of plan.sends) {
      const record = this.linkOf(this.sessions.get(neighbor))
      if (record) this.links.write(record, message)
    }
    for (const neighbor of plan.resumed) {
      const session = this.sessions.get(neighbor)
      if (session) this.pump(session)
    }
    // Who each message is shown as sent by, as the room took it: one object for a run of messages one
    // member sent under one name, a new one where it renamed.
    const { accepted, joined, senders, formerNames } = plan
    if (accepted.length === 0 && plan.jumps.length === 0) return
    // When these arrived, by our clock: what the history is ordered by where a sender's claimed time
    // (`ts`) is later (see `HistoryEntry.at`). One reading for the whole read.
    const at = this.clock.now()
    void this.store
      .append(this.store.durable ? journalRecords(plan.jumps, accepted, senders, at) : [])
      .then(() => {
        // Each member's messages come in order, so marking its last one marks them all: one trim of its
        // log per read instead of one per message. A member known only by relayed messages is announced with
        // when the newest of them in this read was sent.
        const shownUpTo = new Map<string, number>()
        const lastSent = new Map<string, number>()
        for (const msg of accepted) {
          shownUpTo.set(msg.from, msg.seq)
          lastSent.set(msg.from, Math.max(lastSent.get(msg.from) ?? 0, msg.ts))
        }
        for (const peer of joined) this.announce(peer, 'relay', lastSent.get(peer.id))
        for (const [from, seq] of shownUpTo) this.room.markShown(from, seq)
        const origins = new Set<string>()
        const now = this.clock.now()
        let told: PeerInfo | undefined
        for (let i = 0; i < accepted.length; i++) {
          const msg = accepted[i]!
          const from = senders[i]!
          if (!origins.has(msg.from)) {
            origins.add(msg.from)
            this.roster.heard(msg.from, now)
          }
          // Before a message shows under a name, that name is announced: a member that signs under a new
          // one is announced again, with the clash check, however many names one read carries. A name it
          // went by before (history) is only shown on the lines written under it.
          if (from !== told && !formerNames.has(from)) {
            told = from
            this.renamed(from, lastSent.get(from.id))
          }
          const { seq, ts, more } = msg
          if (msg.lines === undefined) {
            const { id, body } = msg
            // Most messages end their line: no spread of an absent `more` for them.
            const entry = { direction: 'in', id, seq, ts, at, from, body } as const
            this.store.remember(more ? { ...entry, more } : entry)
            const event = { type: 'message', id, seq, ts, from, body } as const
            this.hooks.emit(more ? { ...event, more } : event)
            continue
          }
          // Lines carried together: each is a message to whoever shows or keeps it; with `more`, the last
          // goes on in the origin's next message.
          const entry = { direction: 'in', id: msg.id, seq, ts, at, from, body: msg.body } as const
          this.store.rememberLines(more ? { ...entry, more } : entry, msg.lines)
          const lines = msg.body.split('\n')
          if (this.runs) {
            const event = { type: 'lines', from, firstSeq: seq, idPrefix: msg.id, ts, bodies: lines } as const
            this.hooks.emit(more ? { ...event, oneMessage: true, more } : { ...event, oneMessage: true })
            continue
          }
          const last = lines.length - 1
          for (let line = 0; line < lines.length; line++) {
            const body = lines[line] as string
            const event = { type: 'message', id: lineId(msg.id, line), seq, ts, from, body } as const
            this.hooks.emit(more && line === last ? { ...event, more } : event)
          }
        }
        // Each member ends on the name it goes by now, announced (a no-op when its last message had it).
        for (const origin of origins) {
          const current = this.room.peerOf(origin)
          if (current && current !== told) this.renamed(current, lastSent.get(current.id))
        }
        for (const session of this.sessions.values()) for (const origin of origins) this.pump(session, origin)
      }, notDurable)
  }

  /** Our stream went back behind what a neighbour has: the user is told, once per neighbour; the outbox stays. */
  private forked(fork: OwnFork): void {
    const peer = this.sessions.get(fork.neighbor)?.peer ?? {
      id: fork.neighbor,
      name: fork.neighbor.slice(0, 8),
    }
    this.hooks.emit({
      type: 'forked',
      peer,
      upTo: fork.upTo,
      newest: fork.newest,
      pending: this.room.pendingLines,
    })
  }

  /** A neighbour broke the room's rules (forged, flooded, too many members): its link is closed and reported. */
  refuse(refusal: Refusal, record = this.linkOf(this.sessions.get(refusal.neighbor))): void {
    if (record) this.links.step(record, { type: 'protocol-error', error: refusalError(refusal) })
  }

  /**
   * `peer` is shown under its name from now on: announced if that is new, and a neighbour's session, link
   * and dials go by it (its leaving and its redials are told under it).
   */
  private renamed(peer: PeerInfo, lastSent?: number): void {
    const session = this.sessions.get(peer.id)
    // Only the name it goes by now: a message taken before a newer hello (its append was slow) is shown
    // under its own name, but does not undo that hello's.
    if (session && session.peer.name !== peer.name && this.room.peerOf(peer.id) === peer) {
      session.peer = peer
      const hello = this.linkOf(session)?.hello
      if (hello) hello.peer = peer
      this.hooks.renamed(peer)
    }
    this.announce(peer, session?.link !== undefined ? 'direct' : 'relay', lastSent)
  }

  /** A member arrived, straight or through a relay: announced once, with the look-alike name check. */
  announce(peer: PeerInfo, via: 'direct' | 'relay', lastSent?: number): void {
    const event = this.roster.arrived(peer, via, lastSent)
    if (event) this.hooks.emit(event)
  }

  /**
   * What the session's link should carry now, while it takes more. `only` limits it to one member. A
   * catch-up that waits for its allowances goes on by itself when they allow (`pace`).
   */
  pump(session: Session, only?: string): void {
    const record = this.linkOf(session)
    if (!record) return
    const target = {
      writable: () => this.links.writable(record),
      write: (message: Message) => this.links.write(record, message),
    }
    const now = this.clock.now()
    pump(this.room, session.peer.id, target, only, now)
    // A link that does not take more is pumped again when it drains.
    if (this.links.writable(record)) this.pace(session.peer.id, now)
  }

  /**
   * The neighbour's catch-up waits for the allowances: one timer for every such neighbour pumps each of
   * them again once the first may go on (those that still wait then are paced again, behind the others).
   */
  private pace(peerId: string, now: number): void {
    // Already waiting for the timer, which pumps it again: news pumps it meanwhile at no extra cost.
    if (this.pacedTimer !== undefined && this.paced.has(peerId)) return
    const wait = this.room.catchUpWait(peerId, now)
    if (wait === undefined) return
    this.paced.add(peerId)
    const due = now + wait
    if (this.pacedTimer !== undefined) {
      if (this.pacedDue <= due) return
      this.clock.clearTimeout(this.pacedTimer)
    }
    this.pacedDue = due
    this.pacedTimer = this.clock.setTimeout(() => {
      this.pacedTimer = undefined
      const waiting = [...this.paced]
      this.paced.clear()
      for (const id of waiting) {
        const session = this.sessions.get(id)
        if (session) this.pump(session)
      }
      // The first had the allowance for all first: if it still waits, it goes behind the others, so that
      // a neighbour that linked later is not held until every earlier one was served whole.
      const first = waiting[0]
      if (first !== undefined && this.paced.delete(first)) this.paced.add(first)
    }, wait)
  }

  /** The node closes: no paced catch-up goes on. */
  stop(): void {
    if (this.pacedTimer !== undefined) this.clock.clearTimeout(this.pacedTimer)
    this.pacedTimer = undefined
    this.paced.clear()
  }

  /**
   * Acks claim only what is durable and shown, so they wait for the journal. One wait at a time per link:
   * reads that arrive meanwhile are acked together once it ends (their records are in a later flush, which
   * that wait could not cover), instead of one ack per read, each repeating the last.
   */
  flushAck(record: LinkRecord): void {
    if (!record.ackDue || record.ackWaiting) return
    record.ackDue = false
    const session = record.hello ? this.sessions.get(record.hello.peer.id) : undefined
    if (!session) return
    record.ackWaiting = true
    void this.store.settled().then(() => {
      record.ackWaiting = false
      if (session.link !== record.id) return
      for (const ack of dueAcks(this.room, session.peer.id)) this.links.write(record, ack)
      this.flushAck(record)
    })
  }

  /**
   * A message leaves the outbox once every neighbour we wait for has it: those connected now, and those
   * we dial (they will be back). A neighbour that dialed us and left is not waited for, or any stranger
   * who once connected would pin the outbox forever; it catches up from the window when it returns.
   * After a restart, a peer this node dials is known by id only once its handshake ends: until then every
   * neighbour is waited for, since any of them may be it. Where the outbox starts is journaled
   * (`settled`), so that the next start does not wait for strangers either.
   */
  settle(): void {
    const upTo = this.settleOutbox()
    if (upTo !== undefined) this.toldSettled(upTo)
  }

  private toldSettled(upTo: number): void {
    this.hooks.emit({ type: 'settled', upTo, pending: this.room.pendingLines })
  }

  /** `settle` without telling: where the outbox starts now, if it moved. */
  private settleOutbox(): number | undefined {
    // A dialed address that has not answered is a neighbour whose ack is unknown (maybe 0, maybe one the
    // member table forgot to make room): nothing leaves the outbox until it answers.
    if (this.hooks.dialsUnanswered()) return undefined
    const lowest = this.sessions.lowestAcked((peerId) => this.hooks.waitsFor(peerId))
    if (lowest === undefined) return undefined
    const before = this.room.ownSettledUpTo
    this.room.settleOwn(lowest)
    const after = this.room.ownSettledUpTo
    // Lost in a crash, it costs only a resend that the peers drop as copies: it rides along.
    if (after <= before) return undefined
    this.store.appendLater('settled', { t: 'settled', upTo: after })
    return after
  }

  private acknowledge(session: Session, upTo: number): void {
    // Once our numbering went back, an ack may name a message of the same seq that is not ours now.
    if (upTo <= session.acked || this.room.forkedWith(session.peer.id)) return
    const from = session.acked
    session.acked = Math.min(upTo, this.room.nextSeq - 1)
    const newlyAcked = this.room.outboxBetween(from, session.acked)
    const settled = this.settleOutbox()
    // Lost in a crash, it costs only a resend of what the peer already has, which it drops as a copy; so
    // it rides along with the next append instead of holding up a disk flush of its own.
    this.store.appendLater(`acked:${session.peer.id}`, {
      t: 'acked',
      peer: session.peer,
      upTo: session.acked,
    })
    for (const m of newlyAcked) this.hooks.emit({ type: 'delivered', id: m.id, seq: m.seq, to: session.peer })
    // Told after the deliveries it follows from: a reader that stops at `settled` has seen them all.
    if (settled !== undefined) this.toldSettled(settled)
  }
}

/**
 * The records of what one read accepted: each window jump, then each message with its sender's name and,
 * where its sender dated it later than that, when it arrived (`at`). A line is placed in the history by the
 * earlier of the two times, so an arrival time no earlier than the sender's date would change nothing
 * there, and a record goes without it (a fifteenth of what a short message's record takes on disk).
 */
function journalRecords(
  jumps: readonly { peer: PeerInfo; seq: number }[],
  accepted: readonly Msg[],
  senders: readonly PeerInfo[],
  at: number,
): JournalRecord[] {
  const records: JournalRecord[] = jumps.map(({ peer, seq }) => ({ t: 'base', peer, seq }))
  for (let i = 0; i < accepted.length; i++) {
    const msg = accepted[i]!
    const name = senders[i]!.name
    records.push(msg.ts > at ? { t: 'received', msg, name, at } : { t: 'received', msg, name })
  }
  return records
}

/**
 * What was not journaled is not shown, relayed as durable or acknowledged: the neighbour that sent it keeps
 * it and sends it again. The journal's failure is told once, as a `journal-error` event.
 */
function notDurable(): void {}
