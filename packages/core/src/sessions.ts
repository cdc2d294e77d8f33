/**
 * One session per remote node id: the peer as it last introduced itself, the link that carries it now,
 * what it acknowledged of ours, its sequence epoch and its allowance under the rate limit.
 */
import type { TokenBucket } from './inbound-gate.js'
import type { RestoredState } from './journal.js'
import type { PeerInfo } from './peer-machine.js'

export interface Session {
  peer: PeerInfo
  instance: string
  /** The id of the link that carries it now. */
  link?: number
  /** Highest seq of ours that the peer has acknowledged. */
  acked: number
  /** When the current link opened (clock ms). */
  openedAt: number
  /** The peer's sequence epoch: a new one means its seq numbering restarted (state lost). */
  epoch: string
  /** The peer's allowance under the rate limit. */
  bucket: TokenBucket
  /** When the peer last told us it throttles us (clock ms). */
  throttledAt: number
}

/** What opening a session on a link changed. */
export interface SessionOpening {
  readonly session: Session
  /** First time this peer is met (it goes to the journal). */
  readonly created: boolean
  /** Its epoch changed: it restarted without its journal (it goes to the journal). */
  readonly restarted: boolean
  /** The link that carried it before, replaced by this one. */
  readonly replaced?: number
  /** The instance (the peer's run) of the session before this link: the replaced link's. */
  readonly replacedInstance: string
}

export class Sessions {
  private readonly byPeer = new Map<string, Session>()

  constructor(private readonly newBucket: () => TokenBucket) {}

  get size(): number {
    return this.byPeer.size
  }

  get(peerId: string): Session | undefined {
    return this.byPeer.get(peerId)
  }

  values(): IterableIterator<Session> {
    return this.byPeer.values()
  }

  /** The neighbours the journal knew, with no link yet. */
  restore(restored: RestoredState): void {
    for (const p of restored.peers.values())
      if (p.neighbor) this.byPeer.set(p.peer.id, this.create(p.peer, '', p.epoch, p.acked))
  }

  /** Forgets the session with `peerId` (a member forgotten to make room); what it was, if it had one. */
  delete(peerId: string): Session | undefined {
    const session = this.byPeer.get(peerId)
    this.byPeer.delete(peerId)
    return session
  }

  /** Brings back a forgotten neighbour's session, so that its next link still sees whether it restarted. */
  revive(peer: PeerInfo, epoch: string, acked: number): void {
    if (!this.byPeer.has(peer.id)) this.byPeer.set(peer.id, this.create(peer, '', epoch, acked))
  }

  /** Link `link` now carries the session with `peer`. */
  open(link: number, peer: PeerInfo, instance: string, epoch: string, now: number): SessionOpening {
    let session = this.byPeer.get(peer.id)
    const created = session === undefined
    let restarted = false
    if (!session) {
      session = this.create(peer, instance, epoch, 0)
      this.byPeer.set(peer.id, session)
    } else if (session.epoch !== epoch) {
      // Its seqs start over and it remembers nothing of ours.
      session.epoch = epoch
      session.acked = 0
      restarted = true
    }
    session.openedAt = now
    const previous = session.link
    const replacedInstance = session.instance
    session.peer = peer
    session.instance = instance
    session.link = link
    return {
      session,
      created,
      restarted,
      replacedInstance,
      ...(previous !== undefined && previous !== link ? { replaced: previous } : {}),
    }
  }

  /**
   * The lowest ack among the neighbours we wait for: those connected now and those `waitFor` names (we
   * dial them, they will be back). Undefined when there is none.
   */
  lowestAcked(waitFor: (peerId: string) => boolean): number | undefined {
    let lowest: number | undefined
    for (const s of this.byPeer.values()) {
      if (s.link !== undefined || waitFor(s.peer.id)) lowest = Math.min(lowest ?? s.acked, s.acked)
    }
    return lowest
  }

  private create(peer: PeerInfo, instance: string, epoch: string, acked: number): Session {
    return {
      peer,
      instance,
      acked,
      openedAt: 0,
      epoch,
      bucket: this.newBucket(),
      throttledAt: Number.NEGATIVE_INFINITY,
    }
  }
}
