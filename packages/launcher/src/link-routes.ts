import type { NodeEvent } from '@parley/core'
import type { LinkRoute } from './dht.js'

/** ` (direct TCP)`, ` (holepunched; …)` or ` (relayed through …)`; empty when nothing is known. */
export function describeRoute(route: LinkRoute | undefined): string {
  return route === undefined ? '' : ` (${routeText(route)})`
}

/** How a link was made, in the words of the status lines. */
export function routeText(route: LinkRoute): string {
  switch (route.kind) {
    case 'tcp':
      return 'direct TCP'
    case 'holepunched': {
      // A peer on this machine or network is reached at its own address: no NAT was punched through.
      const where = nearby(route.remoteHost)
      return where === undefined
        ? `holepunched; its address as seen through its NAT: ${route.remoteHost}:${route.remotePort}`
        : `direct UDP ${where}: ${route.remoteHost}:${route.remotePort}`
    }
    case 'relayed':
      return `relayed through ${route.relayKey}; still end-to-end encrypted`
    default: {
      const _exhaustive: never = route
      return _exhaustive
    }
  }
}

/**
 * `on this machine` for a loopback address, `on the local network` for a private or link-local one (the
 * LAN shortcut of two hosts behind one router); undefined for any other, which the link reached through
 * the peer's NAT, if it has one.
 */
function nearby(host: string): string | undefined {
  const h = host.toLowerCase()
  if (/^127\./.test(h) || h === '::1' || h === '::ffff:127.0.0.1') return 'on this machine'
  const v4 = /^(?:::ffff:)?(\d+)\.(\d+)\.\d+\.\d+$/.exec(h)
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])]
    if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254))
      return 'on the local network'
    return undefined
  }
  return /^f[cd]|^fe[89ab]/.test(h) ? 'on the local network' : undefined
}

/** A route as `--json` prints it: `{kind: 'tcp'}`, `{kind: 'holepunched', remoteHost, remotePort}`, `{kind: 'relayed', relayKey}`. */
export function jsonRoute(route: LinkRoute): Record<string, unknown> {
  switch (route.kind) {
    case 'tcp':
      return { kind: 'tcp' }
    case 'holepunched':
      return { kind: 'holepunched', remoteHost: route.remoteHost, remotePort: route.remotePort }
    case 'relayed':
      return { kind: 'relayed', relayKey: route.relayKey }
    default: {
      const _exhaustive: never = route
      return _exhaustive
    }
  }
}

/** How a neighbour's newest link ended, as its `disconnected` event told it. */
export interface LinkEnd {
  /** When (this node's clock, ms). */
  readonly at: number
  /** The event's reason, as the status line shows it. */
  readonly reason: string
  /** The peer said it leaves (`/quit`, input ended): it is gone, not just its link. */
  readonly left: boolean
  /** Either end closed this one link with `/disconnect`: the peer is still in the room. */
  readonly unlinked: boolean
  /**
   * A message of it written after the link ended (its clock) came since, through the mesh: it is alive.
   * What was on its way when it died, written before, says nothing of that.
   */
  readonly heard?: true
}

/** A member reached through relays that said it left the room, as its `member-left` event told it. */
export interface Departure {
  /** When it said so: its leave's date (its clock, ms). */
  readonly at: number
  /** Why, in its own words, when it gave a reason. */
  readonly reason?: string
}

/** The reasons a `/disconnect` gives, at the end that typed it and at the other. */
const UNLINKED = /^disconnected by the user$|closed this link with \/disconnect/

/**
 * How each direct member's link was made, from the `route` given with its `connected` event, how its
 * last link ended, from its `disconnected` event, and when a member reached through relays said it left,
 * from its `member-left` event: what `/peers` says next to the member. Feed it every
 * event with its route.
 */
export class LinkRoutes {
  readonly #routes = new Map<string, LinkRoute>()
  readonly #ends = new Map<string, LinkEnd>()
  readonly #departures = new Map<string, Departure>()

  constructor(private readonly now: () => number = Date.now) {}

  observe(event: NodeEvent, route?: LinkRoute): void {
    if (event.type === 'message' || event.type === 'lines') {
      const end = this.#ends.get(event.from.id)
      if (end && !end.heard && event.ts > end.at) this.#ends.set(event.from.id, { ...end, heard: true })
      return
    }
    if (event.type === 'disconnected') {
      remember(this.#ends, event.peer.id, {
        at: this.now(),
        reason: event.reason,
        left: event.left === true,
        unlinked: UNLINKED.test(event.reason),
      })
      return
    }
    if (event.type === 'member-left') {
      const { at = this.now(), reason } = event
      remember(this.#departures, event.peer.id, reason === undefined ? { at } : { at, reason })
      return
    }
    if (event.type !== 'connected') return
    this.#ends.delete(event.peer.id)
    if (route !== undefined) remember(this.#routes, event.peer.id, route)
  }

  /** The route of the newest link with the member whose key is `id`. */
  of(id: string): LinkRoute | undefined {
    return this.#routes.get(id)
  }

  /** How the newest link with member `id` ended, while no other has opened since. */
  ended(id: string): LinkEnd | undefined {
    return this.#ends.get(id)
  }

  /** The last leave member `id` said it made through relays (its `member-left`), if one came this run. */
  departed(id: string): Departure | undefined {
    return this.#departures.get(id)
  }
}

/** One entry per member: the table of members is bounded, and so is this. */
function remember<T>(map: Map<string, T>, id: string, value: T): void {
  map.delete(id)
  if (map.size >= MAX_ROUTES) map.delete(map.keys().next().value as string)
  map.set(id, value)
}

/** As many as the room's member table holds (`maxOrigins`). */
const MAX_ROUTES = 1000

/** A route in a few words, for a status bar: `direct TCP`, `DHT, holepunched, seen at HOST:PORT`, `DHT, relayed through abcd1234…`. */
export function shortRoute(route: LinkRoute): string {
  switch (route.kind) {
    case 'tcp':
      return 'direct TCP'
    case 'holepunched':
      return nearby(route.remoteHost) === undefined
        ? `DHT, holepunched, seen at ${route.remoteHost}:${route.remotePort}`
        : `DHT, direct UDP at ${route.remoteHost}:${route.remotePort}`
    case 'relayed':
      return `DHT, relayed through ${route.relayKey.slice(0, 8)}…`
    default: {
      const _exhaustive: never = route
      return _exhaustive
    }
  }
}
