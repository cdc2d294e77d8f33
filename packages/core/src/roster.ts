/**
 * The room as frontends see it: every member with how it is reached and when it was last heard, each
 * announced once per run and again under each new name, and the other members whose names look the same
 * (`nameKey`: never the same person by name alone).
 */
import { namesakes } from './names.js'
import type { MemberInfo, NodeEvent } from './node-types.js'
import type { PeerInfo } from './peer-machine.js'
import type { Room } from './room.js'
import type { Sessions } from './sessions.js'
import type { Link } from './transport.js'

/** How a direct member is reached now: its open link, and the address it says it listens on. */
export interface Reach {
  readonly link: Link
  readonly listen?: string
}

export class Roster {
  /** Members already announced this run, with the name they were announced under. */
  private readonly announced = new Map<string, string>()
  private readonly lastSeen = new Map<string, number>()

  constructor(
    private readonly room: Room,
    private readonly sessions: Sessions,
    /** The open link of a peer's session, if it has one. */
    private readonly reachOf: (peerId: string) => Reach | undefined,
  ) {}

  /** Ids of other members whose name looks the same as `peer`'s. */
  sameNameAs(peer: PeerInfo): string[] {
    const known = [...this.sessions.values()].map((s) => s.peer)
    for (const m of this.room.members()) known.push(m.peer)
    return namesakes(peer, known)
  }

  /**
   * The `member` event the first time this run that `peer` shows up, and again when it shows up under
   * another name (`renamedFrom`: a rename is never silent); undefined otherwise.
   */
  arrived(peer: PeerInfo, via: 'direct' | 'relay'): NodeEvent | undefined {
    const before = this.announced.get(peer.id)
    if (before === peer.name) return undefined
    this.announced.set(peer.id, peer.name)
    const sameNameAs = this.sameNameAs(peer)
    return {
      type: 'member',
      peer,
      via,
      ...(sameNameAs.length > 0 ? { sameNameAs } : {}),
      ...(before !== undefined ? { renamedFrom: before } : {}),
    }
  }

  heard(peerId: string, now: number): void {
    this.lastSeen.set(peerId, now)
  }

  /** Every member of the room: neighbours and the origins relayed to this node. */
  list(): MemberInfo[] {
    return this.room.members().map((m) => {
      const reach = this.reachOf(m.peer.id)
      const seen = this.lastSeen.get(m.peer.id)
      return {
        peer: m.peer,
        direct: m.direct,
        connected: m.direct ? reach !== undefined : m.connected,
        ...(reach ? { address: reach.link.remoteAddress } : {}),
        ...(reach?.listen ? { listen: reach.listen } : {}),
        ...(seen !== undefined ? { lastSeen: seen } : {}),
      }
    })
  }
}
