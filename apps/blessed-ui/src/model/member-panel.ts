/**
 * The member panel (F2, /members) and the /peers list: the room's members as the node last listed them,
 * and how each neighbour's link was made. Apart from ChatModel because it follows the room, not the
 * scrollback or the input line.
 */
import type { MemberInfo, NodeEvent, PeerInfo } from '@parley/core'
import {
  describeMembers,
  type LinkRoute,
  LinkRoutes,
  neighbourLeft,
  type PeerLabels,
  routeText,
  shortId,
  terminalLine,
} from '@parley/launcher'
import { type GraphemeWidth, textWidth } from '../text/width.js'
import { fitCells, type Row, type Span, type Style, TEXT, wrap } from './rows.js'

/** The panel takes at most this many columns, and opens only on terminals this wide. */
const PANEL_MAX = 30
const PANEL_MIN_COLS = 40
/** A name beside its fingerprint keeps at least this many cells, or the fingerprint goes on the next row. */
const NAME_MIN_CELLS = 6

/**
 * How a link was made, in the words `/peers` and the status lines use (`direct TCP`, `holepunched`,
 * `direct UDP` for a peer on this machine or network, reached at its own address, `relayed`), without the
 * address or relay key that a 30-column panel has no room for.
 */
export function linkKind(route: LinkRoute): string {
  switch (route.kind) {
    case 'tcp':
      return 'direct TCP'
    case 'holepunched':
      return routeText(route).startsWith('direct UDP') ? 'direct UDP' : 'holepunched'
    case 'relayed':
      return 'relayed'
    default: {
      const _exhaustive: never = route
      return _exhaustive
    }
  }
}

export class MemberPanel {
  private listed: readonly MemberInfo[] = []
  private shown = false
  /** How each neighbour's link was made, for /peers and the panel. */
  private readonly routes = new LinkRoutes()

  constructor(
    private readonly labels: PeerLabels,
    private readonly width: GraphemeWidth,
  ) {}

  get open(): boolean {
    return this.shown
  }

  /** Returns whether the panel is now open. */
  toggle(): boolean {
    this.shown = !this.shown
    return this.shown
  }

  /** A node event with the route of a `connected` event's link. */
  observe(event: NodeEvent, route?: LinkRoute): void {
    this.routes.observe(event, route)
  }

  /** The room's members as the node last listed them. */
  get members(): readonly MemberInfo[] {
    return this.listed
  }

  /** The room's members, from `node.members()`. */
  set(members: readonly MemberInfo[]): void {
    this.listed = members
  }

  /** The answer to /peers, one line per member. */
  list(): string[] {
    return describeMembers(this.listed, this.labels, this.routes)
  }

  /** Columns the panel takes on a terminal `cols` wide: 0 when closed or when the terminal is too narrow. */
  widthFor(cols: number): number {
    return this.shown && cols >= PANEL_MIN_COLS ? Math.min(PANEL_MAX, Math.floor(cols / 3)) : 0
  }

  /**
   * You first, then neighbours (● connected, ○ not, · once it left), each connected one with how its link was made on the
   * row below, then members reached through relays (~, ○ while no connected neighbour reaches them, or · once
   * their presence says they left or it lapsed).
   */
  rows(self: PeerInfo, width: number, height: number): Row[] {
    const border: Span = { text: '│ ', style: { kind: 'hint' } }
    const line = (text: string, style: Style): Row =>
      wrap([border, { text, style }], width, this.width)[0] ?? []
    // The key's hint goes whole or not at all: cut at its space it left a lone `·`.
    const count = `members (${this.listed.length + 1})`
    const header = textWidth(`${count} · F2`, this.width) <= width - 2 ? `${count} · F2` : count
    const rows: Row[] = [
      line(header, { kind: 'info' }),
      line(
        `● ${fitCells(terminalLine(self.name), width - 2 - textWidth('●  (you)', this.width), this.width)} (you)`,
        {
          kind: 'own',
        },
      ),
    ]
    const members = [...this.listed].sort((a, b) => Number(b.direct) - Number(a.direct))
    // A member and its link row stay together: the panel never shows a link without its member.
    const groups = members.map((m) => {
      // A neighbour that said it leaves is gone, as a relayed member whose presence says so: not a link down.
      const gone = m.direct ? neighbourLeft(m, this.routes.ended(m.peer.id)) : m.present === false
      // A relayed member no connected neighbour can reach is not reached: `/peers` says unreachable.
      const mark = gone ? '·' : !m.connected ? '○' : m.direct ? '●' : '~'
      const style: Style = !m.connected ? { kind: 'warn' } : m.direct ? TEXT : { kind: 'hint' }
      // A name too long for the panel is cut short, never its fingerprint, which tells look-alikes apart.
      // On a narrow panel, where the name would keep only a few cells beside it, the fingerprint takes a
      // row of its own under the name.
      const fp = shortId(m.peer.id)
      // The fingerprint follows every name here: only the label's name part, or it would show twice.
      const label = terminalLine(this.labels.parts(m.peer).name)
      const room = width - 2 - textWidth(`${mark}  ${fp}`, this.width)
      const group =
        room >= NAME_MIN_CELLS || textWidth(label, this.width) <= room
          ? [line(`${mark} ${fitCells(label, room, this.width)} ${fp}`, style)]
          : [
              line(
                `${mark} ${fitCells(label, width - 2 - textWidth(`${mark} `, this.width), this.width)}`,
                style,
              ),
              line(`  ${fp}`, style),
            ]
      const route = m.direct && m.connected ? this.routes.of(m.peer.id) : undefined
      if (route) group.push(line(`  ${fitCells(linkKind(route), width - 4, this.width)}`, { kind: 'hint' }))
      return group
    })
    const total = rows.length + groups.reduce((n, g) => n + g.length, 0)
    if (total <= height) {
      for (const group of groups) rows.push(...group)
    } else {
      let shown = 0
      for (const group of groups) {
        if (rows.length + group.length > height - 1) break
        rows.push(...group)
        shown++
      }
      rows.splice(Math.max(0, height - 1))
      rows.push(line(`… ${groups.length - shown} more (/peers)`, { kind: 'hint' }))
    }
    while (rows.length < height) rows.push([border])
    return rows
  }
}
