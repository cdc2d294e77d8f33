/**
 * The room as frontends see it: every member with how it is reached and when it was last heard, each
 * announced once per run, and the other members known under the same name (never the same person by
 * name alone).
 */
import type { MemberInfo, NodeEvent } from './node-types.js'
import type { PeerInfo } from './peer-machine.js'
import type { Room } from './room.js'
import type { Sessions } from './sessions.js'
import type { Link } from './transport.js'

export class Roster {
  private readonly announced = new Set<string>()
  private readonly lastSeen = new Map<string, number>()

  constructor(
    private readonly room: Room,
    private readonly sessions: Sessions,
    /** The open link of a peer's session, if it has one. */
    private readonly linkOf: (peerId: string) => Link | undefined,
  ) {}

  /** Ids of other members known under the same name. */
  sameNameAs(peer: PeerInfo): string[] {
    const ids = new Set(this.sessions.sameNameAs(peer))
    for (const m of this.room.members())
      if (m.peer.id !== peer.id && m.peer.name === peer.name) ids.add(m.peer.id)
    return [...ids]
  }

  /** The `member` event the first time this run that `peer` shows up; undefined after. */
  arrived(peer: PeerInfo, via: 'direct' | 'relay'): NodeEvent | undefined {
    if (this.announced.has(peer.id)) return undefined
    this.announced.add(peer.id)
    const sameNameAs = this.sameNameAs(peer)
    return { type: 'member', peer, via, ...(sameNameAs.length > 0 ? { sameNameAs } : {}) }
  }

  heard(peerId: string, now: number): void {
    this.lastSeen.set(peerId, now)
  }

  /** Every member of the room: neighbours and the origins relayed to this node. */
  list(): MemberInfo[] {
    return this.room.members().map((m) => {
      const link = this.linkOf(m.peer.id)
      const seen = this.lastSeen.get(m.peer.id)
      return {
        peer: m.peer,
        direct: m.direct,
        connected: m.direct ? link !== undefined : m.connected,
        ...(link ? { address: link.remoteAddress } : {}),
        ...(seen !== undefined ? { lastSeen: seen } : {}),
      }
    })
  }
}
