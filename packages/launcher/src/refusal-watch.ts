/**
 * A peer that refused this node (another node with the same key holds the link, a disk quota, …) is
 * redialed quietly: its refusal was told once, and each redial it refuses again is not news. When it lets
 * this node in at last, that is news: told once, when the link carries something (an acknowledgement of
 * ours, or a message of the peer's own), since a link that opens may still be refused a moment later.
 */
import type { NodeEvent, PeerInfo } from '@parley/core'
import { type StatusLine, shortId } from './session.js'

/** Peers watched at most: past it, the oldest is forgotten (its return then goes untold). */
export const MAX_WATCHED_REFUSALS = 1_000

export class RefusalWatch {
  /** Peers whose latest link opened while they refused this node, by id. */
  private readonly quiet = new Map<string, PeerInfo>()

  /** Feed it every node event; returns the line to show when a peer that refused lets this node in. */
  observe(event: NodeEvent): StatusLine | undefined {
    if (event.type === 'connected') {
      if (!event.afterRefusal) this.quiet.delete(event.peer.id)
      else if (!this.quiet.has(event.peer.id)) {
        if (this.quiet.size >= MAX_WATCHED_REFUSALS) this.quiet.delete(this.quiet.keys().next().value!)
        this.quiet.set(event.peer.id, event.peer)
      }
      return undefined
    }
    if (this.quiet.size === 0) return undefined
    const id =
      event.type === 'delivered'
        ? event.to.id
        : event.type === 'message' || event.type === 'lines'
          ? event.from.id
          : undefined
    const peer = id === undefined ? undefined : this.quiet.get(id)
    if (!peer) return undefined
    this.quiet.delete(peer.id)
    return {
      level: 'info',
      text: `connected to ${peer.name} [${shortId(peer.id)}] again: it takes this node's messages now, after refusing it`,
    }
  }
}
