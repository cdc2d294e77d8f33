import type { NodeEvent, PeerInfo, PeerState } from '@parley/core'
import { type LinkRoute, listenAddressOf, shortRoute, targetLabel } from '@parley/launcher'

export type ConnectionState =
  | 'listening'
  | 'dialing'
  | 'handshaking'
  | 'connected'
  | 'reconnecting'
  | 'failed'
  | 'closed'

export interface StatusSummary {
  readonly state: ConnectionState
  /**
   * The peer the state is about (the first connected one, else the one being dialed), where it is: a
   * TCP address, or for a DHT link how it was made (`DHT, holepunched, seen at HOST:PORT`).
   */
  readonly peer?: { readonly name?: string; readonly address: string }
  /** How many more peers are connected besides `peer`. */
  readonly others: number
  /** Where this node listens: `HOST:PORT`, or `DHT key [abcd-efgh]` on the DHT alone. */
  readonly listen?: string
  readonly undelivered: number
}

/** Peers whose link is down that the status keeps (their names complete with Tab). */
export const MAX_GONE = 1_000

interface SessionView {
  peer: PeerInfo
  address: string
  connected: boolean
}

/** Follows node events to say, in one line, how connected this node is. Pure. */
export class ConnectionStatus {
  private listen: string | undefined
  private closed = false
  private readonly targets = new Map<string, PeerState>()
  private readonly sessions = new Map<string, SessionView>()
  /** Sessions in `sessions` whose link is down. */
  private gone = 0
  /** Messages sent and not yet acknowledged (the runtime reads `node.pending`). */
  undelivered = 0

  private forgetOldestGone(): void {
    for (const [id, session] of this.sessions) {
      if (session.connected) continue
      this.sessions.delete(id)
      this.gone--
      return
    }
  }

  /** A node event; `route` is how a `connected` event's link was made. */
  apply(event: NodeEvent, route?: LinkRoute): void {
    switch (event.type) {
      case 'listening':
        this.listen = where(event.address)
        return
      case 'peer-state':
        this.targets.set(event.target, event.state)
        return
      case 'connected':
        if (this.sessions.get(event.peer.id)?.connected === false) this.gone--
        this.sessions.set(event.peer.id, {
          peer: event.peer,
          // A TCP link is shown at its address; a DHT link's address is only the key, so say how it was made.
          // Where it listens, as the connect line says, rather than the passing port an inbound link came from.
          address:
            route && route.kind !== 'tcp'
              ? shortRoute(route)
              : where(listenAddressOf(event) ?? event.address),
          connected: true,
        })
        return
      case 'disconnected': {
        const session = this.sessions.get(event.peer.id)
        if (!session?.connected) return
        session.connected = false
        // Gone peers are kept for Tab completion, the latest MAX_GONE: keys that come and go must not pile up.
        this.sessions.delete(event.peer.id)
        this.sessions.set(event.peer.id, session)
        if (++this.gone > MAX_GONE) this.forgetOldestGone()
        return
      }
      case 'member': {
        // A peer that took another name goes by it here too (the bar, Tab completion).
        const session = this.sessions.get(event.peer.id)
        if (session && event.renamedFrom !== undefined) session.peer = event.peer
        return
      }
      case 'closed':
        this.closed = true
        return
      default:
        // Messages, deliveries and errors do not change the connection state.
        return
    }
  }

  /** Every peer this node has had a session with, as it goes by now (for Tab completion). */
  peers(): PeerInfo[] {
    return [...this.sessions.values()].map((s) => s.peer)
  }

  summary(): StatusSummary {
    const base = { undelivered: this.undelivered, ...(this.listen ? { listen: this.listen } : {}) }
    if (this.closed) return { state: 'closed', others: 0, ...base }
    const connected = [...this.sessions.values()].filter((s) => s.connected)
    const first = connected[0]
    if (first) {
      return {
        state: 'connected',
        peer: { name: first.peer.name, address: first.address },
        others: connected.length - 1,
        ...base,
      }
    }
    for (const wanted of ['reconnecting', 'handshaking', 'connecting', 'failed'] as const) {
      for (const [target, state] of this.targets) {
        if (state.status !== wanted) continue
        const name = state.status === 'reconnecting' ? state.peer.name : undefined
        return {
          state: wanted === 'connecting' ? 'dialing' : wanted,
          peer: { address: where(target), ...(name ? { name } : {}) },
          others: 0,
          ...base,
        }
      }
    }
    return { state: 'listening', others: 0, ...base }
  }
}

/** `HOST:PORT` as it is; `dht:KEY` as `DHT key [abcd-efgh]`. */
function where(address: string): string {
  const label = targetLabel(address)
  return label === address ? address : `DHT ${label}`
}
