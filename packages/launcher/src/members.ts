import {
  type MemberInfo,
  type NodeEvent,
  nameKey,
  namesakes,
  type PeerInfo,
  sameWrittenName,
} from '@parley/core'
import { clockTime, terminalLine } from './display.js'
import { type Departure, describeRoute, jsonRoute, type LinkEnd, type LinkRoutes } from './link-routes.js'
import { listenAddressOf, shortId, targetLabel } from './session.js'

/** Names told apart at most: a peer that switches names endlessly fills no more than this. */
export const MAX_LABEL_NAMES = 10_000

/** A label in two parts: the peer's name, and its short fingerprint when the name alone is not enough. */
export interface LabelParts {
  readonly name: string
  readonly fingerprint: string | undefined
}

/**
 * Display names that never merge two keys: a name that looks like another key's (core's `nameKey`), or
 * of a key seen under more than one name (a rename, or history written under a name it went by before),
 * gets the key's short fingerprint as a suffix (`bob~r4kq-2xbm`). Feed it every node event.
 */
export class PeerLabels {
  /** Keys whose name must carry their fingerprint, up to `MAX_LABEL_NAMES`; past that, every name does. */
  private readonly ambiguous = new Set<string>()
  private everyKeyShown = false
  /** The first name each key was seen under, up to `MAX_LABEL_NAMES` keys: under another, it is told apart. */
  private readonly firstNames = new Map<string, string>()
  /** Every key seen under each name (handshakes, members and the names messages were sent with). */
  private readonly keysByName = new Map<string, Set<string>>()
  /**
   * While only one key has been seen, under these names: nothing to tell apart yet, so their look-alike
   * keys (and the table behind them, loaded on first use) wait for a second key.
   */
  private soleKey: { readonly id: string; readonly names: Set<string> } | undefined = undefined
  private keyed = false
  /**
   * The last peer labelled, and its label's parts while nothing changed since (`changes`): a flood from
   * one sender reuses one PeerInfo, and is labelled once instead of once per line.
   */
  private lastPeer: PeerInfo | undefined
  private lastChanges = 0
  private lastParts: LabelParts = { name: '', fingerprint: undefined }
  /** `lastParts` joined, once asked for. */
  private lastLabel: string | undefined
  private changes = 0
  /** This node's name as last seen, and its key once needed (see `self`). */
  private ownName: string | undefined
  private ownKey: string | undefined

  /**
   * @param self this node as it goes by now (its id and current name): another key under a name that
   *   looks like it is always told apart, so no peer passes for you on your own screen.
   */
  constructor(private readonly self?: () => PeerInfo | undefined) {}

  observe(event: NodeEvent): void {
    if (event.type === 'message' || event.type === 'lines') this.seen(event.from)
    if (event.type === 'member' && event.renamedFrom !== undefined) this.suspect(event.peer.id)
    if (event.type !== 'connected' && event.type !== 'member') return
    this.seen(event.peer)
    if (!event.sameNameAs) return
    this.suspect(event.peer.id)
    for (const id of event.sameNameAs) this.suspect(id)
  }

  /** The name to show for `peer`, with its fingerprint when it must be told apart: `bob` or `bob~r4kq-2xbm`. */
  label(peer: PeerInfo): string {
    const { name, fingerprint } = this.parts(peer)
    if (this.lastLabel === undefined) this.lastLabel = fingerprint ? `${name}~${fingerprint}` : name
    return this.lastLabel
  }

  /**
   * What `label` is made of, for a view that places the fingerprint itself (a column of its own):
   * `fingerprint` is set when the name alone would not tell `peer` apart.
   */
  parts(peer: PeerInfo): LabelParts {
    const me = this.self?.()
    if (me !== undefined && me.name !== this.ownName) {
      this.ownName = me.name
      this.ownKey = undefined
      this.changes++
    }
    if (this.lastPeer === peer && this.lastChanges === this.changes) return this.lastParts
    this.seen(peer)
    const shared = this.keyed && (this.keysByName.get(labelKey(peer))?.size ?? 0) > 1
    const mine = me !== undefined && peer.id !== me.id && this.likeOwn(peer, me)
    const told = shared || mine || this.everyKeyShown || this.ambiguous.has(peer.id)
    this.lastPeer = peer
    this.lastChanges = this.changes
    this.lastParts = { name: peer.name, fingerprint: told ? shortId(peer.id) : undefined }
    this.lastLabel = undefined
    return this.lastParts
  }

  /**
   * Whether `peer`'s name is ours, as written or as a look-alike: the look-alike table is loaded the first
   * time a peer's name is labelled (a node that only sends never does).
   */
  private likeOwn(peer: PeerInfo, me: PeerInfo): boolean {
    if (peer.id.startsWith('plain:')) return false
    if (sameWrittenName(peer.name, me.name)) return true
    this.ownKey ??= labelKey(me)
    return labelKey(peer) === this.ownKey
  }

  private suspect(id: string): void {
    if (this.everyKeyShown || this.ambiguous.has(id)) return
    // Past the bound a key may go untold: rather than merge two, every label then carries its key.
    if (this.ambiguous.size >= MAX_LABEL_NAMES) {
      this.everyKeyShown = true
      this.ambiguous.clear()
    } else this.ambiguous.add(id)
    this.changes++
  }

  private seen(peer: PeerInfo): void {
    // Seeing the same peer again adds nothing.
    if (this.lastPeer === peer) return
    this.nameOfKey(peer)
    if (!this.keyed) {
      if (this.soleKey === undefined || this.soleKey.id === peer.id) {
        this.soleKey ??= { id: peer.id, names: new Set() }
        // As many as the table below holds: a second key may take any of them, the latest included.
        if (this.soleKey.names.size < MAX_LABEL_NAMES) this.soleKey.names.add(peer.name)
        return
      }
      // A second key: every name seen so far gets its look-alike key now.
      this.keyed = true
      for (const name of this.soleKey.names) this.add({ id: this.soleKey.id, name })
      this.soleKey = undefined
    }
    this.add(peer)
  }

  /**
   * A key under a name other than its first: the lines it wrote under each name are one sender's. Past the
   * bound an untracked key is told apart, as names past theirs are.
   */
  private nameOfKey(peer: PeerInfo): void {
    const first = this.firstNames.get(peer.id)
    if (first === undefined) {
      if (this.firstNames.size < MAX_LABEL_NAMES) this.firstNames.set(peer.id, peer.name)
      else this.suspect(peer.id)
    } else if (first !== peer.name) this.suspect(peer.id)
  }

  private add(peer: PeerInfo): void {
    const key = labelKey(peer)
    let keys = this.keysByName.get(key)
    if (!keys) {
      if (this.keysByName.size >= MAX_LABEL_NAMES) return
      keys = new Set()
      this.keysByName.set(key, keys)
    }
    if (keys.size < 16 && !keys.has(peer.id)) {
      keys.add(peer.id)
      this.changes++
    }
  }
}

/**
 * What names are compared by: core's `nameKey`, which sees through look-alike characters. A plain peer's
 * name is the address its link came from, which no peer picks: it is compared as it is, and the table of
 * look-alikes is not loaded for a plain node (a few milliseconds as its first link opens). Only a plain
 * node makes such ids; a secure node's are hex (the schema refuses any other), so no peer passes for one.
 */
function labelKey(peer: PeerInfo): string {
  return peer.id.startsWith('plain:') ? `plain:${peer.name}` : nameKey(peer.name)
}

/**
 * One line per member for `/peers`: name (told apart when ambiguous), short fingerprint, how it is reached,
 * state, and how a connected neighbour's link was made when `routes` knows it. Safe to print on a terminal
 * as they are (`terminalLine`).
 */
export function describeMembers(
  members: readonly MemberInfo[],
  labels: PeerLabels,
  routes?: LinkRoutes,
): string[] {
  if (members.length === 0) return ['no members yet: nobody is connected']
  return members.map((m) => {
    const how = m.direct ? 'direct' : 'relay'
    const route = m.direct && m.connected ? routes?.of(m.peer.id) : undefined
    const where = listenAddressOf(m)
    const state = m.direct
      ? m.connected
        ? `connected${where ? ` at ${targetLabel(where)}` : ''}${describeRoute(route)}`
        : linkDown(m, routes?.ended(m.peer.id), routes?.departed(m.peer.id))
      : m.present === false
        ? // Whether the mesh reaches it says little once it left: only that.
          presenceNote(m, routes?.departed(m.peer.id))
        : `${m.connected ? 'reachable through the mesh' : 'unreachable (no neighbour connected)'}${presenceNote(m)}`
    // A label that carries the fingerprint (`robert~nzwh-rkn6`) is not followed by it again.
    const parts = labels.parts(m.peer)
    const label =
      parts.fingerprint === undefined ? `${parts.name} [${shortId(m.peer.id)}]` : labels.label(m.peer)
    // Where it says it listens and why it left are its words: printed as they came, a peer could drive the
    // terminal (clear it, retitle it) or turn the line around each time the user asks who is there.
    return terminalLine(`${label} ${how}, ${state}`)
  })
}

/**
 * A neighbour whose link is down, for `/peers`: it left (its bye), its link was closed with `/disconnect`
 * (it is still there, its messages come through the mesh), or its link broke (a crash, a lost network):
 * then the mesh is said to reach it only once something of it came that way since, as a killed member
 * sends nothing more.
 */
function linkDown(m: MemberInfo, end: LinkEnd | undefined, departure: Departure | undefined): string {
  if (end === undefined)
    return m.throughMesh ? 'its link is down; reachable through the mesh' : 'disconnected'
  const heardSince = heardAfter(m, end)
  // Its leave (its `gone`) came through the mesh after its link ended: it left, whatever the link said.
  if (heardSince && m.present === false) return presenceNote(m, departure)
  if (end.left && !heardSince) {
    const said = end.reason.startsWith(`${m.peer.name} left `) ? end.reason.slice(m.peer.name.length + 6) : ''
    return `left at ${clockTime(end.at)}${said ? ` ${said}` : ''}`
  }
  if (m.throughMesh && (end.unlinked || heardSince)) return 'its link is down; reachable through the mesh'
  const since = `its link is down since ${clockTime(end.at)} (${end.reason})`
  return m.throughMesh ? `${since}; nothing of it came through the mesh since` : since
}

/**
 * Whether a neighbour whose link is down left the room: it said so in its bye and nothing of it came
 * since, or its presence, taken after its link ended (through the mesh), says it is not there.
 */
export function neighbourLeft(m: MemberInfo, end: LinkEnd | undefined): boolean {
  if (m.connected || end === undefined) return false
  return heardAfter(m, end) ? m.present === false : end.left
}

/**
 * Whether something of a neighbour written after its link ended came since, through the mesh: a message
 * (`LinkRoutes`), or a presence dated after it. Its clock against ours, as every date a member gives is:
 * a presence it made as it died, relayed after its link was seen to end, is not taken for a sign of life.
 */
function heardAfter(m: MemberInfo, end: LinkEnd): boolean {
  return end.heard === true || (m.hereAt !== undefined && m.hereAt > end.at)
}

/**
 * What a relayed member's presence says, for `/peers`: there (it says so), left (when and why, as a
 * neighbour that quit is told, while its leave is the newest presence held), or not heard of lately.
 */
function presenceNote(m: MemberInfo, departure?: Departure): string {
  if (m.present === undefined) return ''
  if (m.present) return ', in the room'
  if (departure !== undefined && (m.hereAt === undefined || m.hereAt <= departure.at))
    return `left at ${clockTime(departure.at)}${departure.reason === undefined ? '' : ` (${departure.reason})`}`
  const since = m.hereAt === undefined ? 'lately' : `since ${clockTime(m.hereAt).slice(0, 5)}`
  return `not known to be in the room (it left, or said nothing ${since})`
}

/** Namesakes named in `renamedNote`, at most: the rest are counted. */
const NAMESAKES_NAMED = 3

/**
 * What `/nick NAME` tells the user: the new name, when peers see it, and the members whose names look
 * the same (core's `nameKey`), under which every peer that knows both then shows each with a fingerprint.
 * @param self this node under its new name
 */
export function renamedNote(self: PeerInfo, members: readonly MemberInfo[]): string {
  const note = `you are now ${self.name} (peers see it on your next messages)`
  const ids = new Set(
    namesakes(
      self,
      members.map((m) => m.peer),
    ),
  )
  if (ids.size === 0) return note
  const same = members.filter((m) => ids.has(m.peer.id)).map((m) => `${m.peer.name} [${shortId(m.peer.id)}]`)
  const named = same.slice(0, NAMESAKES_NAMED).join(', ')
  const more = same.length > NAMESAKES_NAMED ? ` and ${same.length - NAMESAKES_NAMED} more` : ''
  return (
    `${note}; ${named}${more} ${same.length === 1 ? 'goes' : 'go'} by a name that looks the same, so peers ` +
    `see you as ${self.name}~${shortId(self.id)}`
  )
}

/** A member as `--json` frontends print it; a connected neighbour's `link` when `routes` knows it. */
export function jsonMember(m: MemberInfo, routes?: LinkRoutes): Record<string, unknown> {
  const route = m.direct && m.connected ? routes?.of(m.peer.id) : undefined
  return {
    name: m.peer.name,
    id: m.peer.id,
    fingerprint: shortId(m.peer.id),
    via: m.direct ? 'direct' : 'relay',
    connected: m.connected,
    ...(m.throughMesh ? { throughMesh: true } : {}),
    ...(m.address ? { address: m.address } : {}),
    ...(m.listen ? { listen: m.listen } : {}),
    ...(m.lastSeen !== undefined ? { lastSeen: m.lastSeen } : {}),
    ...(m.present !== undefined ? { present: m.present } : {}),
    ...(m.hereAt !== undefined ? { hereAt: m.hereAt } : {}),
    ...(route ? { link: jsonRoute(route) } : {}),
  }
}
