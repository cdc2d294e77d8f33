/**
 * One PeerInfo object per sender on the screen's thread. Each message crosses from the node's thread with
 * its own copy of its sender (an object and a 64-character id), and the screen keeps up to 10,000 messages:
 * sharing one copy per sender makes each kept message about a third smaller (about 485 to 335 bytes in
 * `ChatModel`), which is that much less for every scavenge during a flood to copy.
 */
import type { PeerInfo } from '@parley/core'

/** Senders remembered at most: names a hostile peer keeps changing must not grow the map without bound. */
export const MAX_SENDERS = 1024

export class Senders {
  private readonly known = new Map<string, PeerInfo>()

  /** The copy of `peer` seen first (same id and name), or `peer` itself, now remembered. */
  same(peer: PeerInfo): PeerInfo {
    const key = `${peer.id}\u0000${peer.name}`
    const known = this.known.get(key)
    if (known) return known
    if (this.known.size >= MAX_SENDERS) this.known.clear()
    this.known.set(key, peer)
    return peer
  }

  get size(): number {
    return this.known.size
  }
}
