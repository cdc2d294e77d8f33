import type { Address, HistoryEntry, MemberInfo, NodeEvent, PeerInfo } from '@parley/core'
import {
  actionBody,
  COMMANDS,
  clockTime,
  completions,
  describeEvent,
  describeMembers,
  helpLines,
  type LinkRoute,
  LinkRoutes,
  PeerLabels,
  parseAction,
  parseSubmission,
  type ShownMessage,
  shortId,
  terminalLine,
  terminalSafe,
} from '@parley/launcher'
import type { KeyEvent } from '../input/key-decoder.js'
import { graphemes } from '../text/graphemes.js'
import type { GraphemeWidth } from '../text/width.js'
import { InputLine } from './input-line.js'
import { isMention } from './mentions.js'
import { DEFAULT_CAP, MessageList } from './message-list.js'
import { type Row, type Span, type Style, TEXT, wrap } from './rows.js'
import { ConnectionStatus, type StatusSummary } from './status.js'

/** How long without a key press counts as being away (the read marker then goes before the next message). */
export const DEFAULT_AWAY_AFTER_MS = 5 * 60_000
/** Sender colours: index into the view's palette. */
export const NICK_COLOURS = 12

export type Entry =
  | {
      readonly id: number
      readonly kind: 'message'
      readonly ts: number
      readonly from: PeerInfo
      /** The name shown: a name shared by two keys gets a fingerprint suffix (launcher's PeerLabels). */
      readonly label: string
      readonly body: string
      readonly own: boolean
      readonly mention: boolean
      hidden?: boolean
    }
  | {
      readonly id: number
      readonly kind: 'system'
      readonly ts: number
      readonly level: 'info' | 'warn' | 'hint'
      readonly text: string
      hidden?: boolean
    }
  | { readonly id: number; readonly kind: 'marker'; readonly ts: number; hidden?: boolean }
  /** A rule above a catch-up: "12 messages from while you were away". */
  | {
      readonly id: number
      readonly kind: 'rule'
      readonly ts: number
      readonly text: string
      hidden?: boolean
    }

/** What the runtime must do after an input or a node event; the model itself does no I/O. */
export type Effect =
  | { readonly type: 'send'; readonly body: string }
  | { readonly type: 'rename'; readonly name: string }
  | { readonly type: 'connect'; readonly address: Address }
  /** Refresh the member list from the node (`setMembers`); with `list`, also print it (`listMembers`). */
  | { readonly type: 'members'; readonly list: boolean }
  | { readonly type: 'quit' }
  | { readonly type: 'bell' }
  | { readonly type: 'redraw' }

/** Everything the view draws, already laid out for the terminal size. */
export interface Frame {
  readonly messages: Row[]
  readonly status: Row
  readonly input: Row
  /** Column of the cursor in the input row. */
  readonly cursor: number
  /** The member panel on the right of the messages, when it is open and the terminal is wide enough. */
  readonly panel?: { readonly width: number; readonly rows: Row[] }
}

/** The member panel takes at most this many columns, and opens only on terminals this wide. */
const PANEL_MAX = 30
const PANEL_MIN_COLS = 40

export interface ChatOptions {
  readonly self: PeerInfo
  readonly width: GraphemeWidth
  readonly now?: () => number
  readonly cap?: number
  readonly awayAfterMs?: number
  /** Formats a timestamp; local `HH:MM:SS` by default. */
  readonly time?: (ts: number) => string
  /** False in --plain mode: the status bar then says that nothing is encrypted. */
  readonly secure?: boolean
}

const PROMPT = '> '

/** A stable palette index for a node id (FNV-1a), so a peer keeps its colour across sessions. */
export function nickColour(id: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash % NICK_COLOURS
}

/**
 * The whole chat screen as data: scrollback, input line, status, read marker and commands.
 * Feed it keys and node events; it returns effects and lays out frames. No terminal, no timers, no sockets.
 */
export class ChatModel {
  readonly input = new InputLine()
  readonly status = new ConnectionStatus()
  readonly list: MessageList<Entry>
  private self: PeerInfo
  private readonly width: GraphemeWidth
  private readonly now: () => number
  private readonly time: (ts: number) => string
  private readonly awayAfterMs: number
  private nextId = 1
  private focused = true
  private lastActive: number
  private marker: Entry | undefined
  private markedThisAway = false
  private completion:
    | { from: number; rest: string; head: string; candidates: readonly string[]; index: number }
    | undefined
  private readonly senders = new Set<string>()
  private readonly labels = new PeerLabels()
  /** How each neighbour's link was made, for /peers. */
  private readonly routes = new LinkRoutes()
  private readonly secure: boolean
  private paneHeight = 20
  private inputScroll = 0
  /** The room's members as the node last listed them (the runtime keeps this fresh). */
  private members: readonly MemberInfo[] = []
  private panel = false
  private changes = 0
  /** Messages received from peers (for the flood benchmark's trace). */
  received = 0

  constructor(options: ChatOptions) {
    this.self = options.self
    this.width = options.width
    this.now = options.now ?? Date.now
    this.time = options.time ?? clockTime
    this.awayAfterMs = options.awayAfterMs ?? DEFAULT_AWAY_AFTER_MS
    this.secure = options.secure ?? true
    this.lastActive = this.now()
    this.list = new MessageList<Entry>((entry, cols) => this.layout(entry, cols), options.cap ?? DEFAULT_CAP)
  }

  get name(): string {
    return this.self.name
  }

  /**
   * Counts changes to everything on screen but the input line. A key that leaves it as it was needs only the
   * input line drawn again.
   */
  get revision(): number {
    return this.list.revision + this.changes
  }

  /** A status line of our own (not from the node), such as a hint or a progress note. */
  note(text: string, level: 'info' | 'warn' | 'hint' = 'info'): void {
    this.list.add({ id: this.nextId++, kind: 'system', ts: this.now(), level, text }, false)
  }

  setUndelivered(count: number): void {
    if (count !== this.status.undelivered) this.changes++
    this.status.undelivered = count
  }

  /** The room's members, from `node.members()`. */
  setMembers(members: readonly MemberInfo[]): void {
    this.changes++
    this.members = members
  }

  /** Prints the member list in the message pane (the answer to /peers). */
  listMembers(): void {
    for (const line of describeMembers(this.members, this.labels, this.routes)) this.note(line)
  }

  get panelOpen(): boolean {
    return this.panel
  }

  /** Messages from an earlier run (`--history N`), shown above everything else. */
  showHistory(entries: readonly HistoryEntry[]): void {
    if (entries.length === 0) return
    this.note(`the last ${entries.length} message(s) from history:`)
    for (const e of entries) {
      const own = e.direction === 'out'
      const from = own ? this.self : e.from
      const entry = {
        id: this.nextId++,
        kind: 'message',
        ts: e.ts,
        from,
        label: from.name,
        body: e.body,
        own,
        mention: false,
      } as const
      this.list.add(entry, false)
    }
  }

  /**
   * Received messages, from the launcher's MessageDisplay: live ones, or a catch-up (already in time
   * order) that gets a rule above it.
   */
  showMessages(messages: readonly ShownMessage[], catchUp?: number): Effect[] {
    this.changes++
    if (catchUp !== undefined) {
      const text = ` ${catchUp} message${catchUp === 1 ? '' : 's'} from while you were away `
      this.list.add({ id: this.nextId++, kind: 'rule', ts: this.now(), text }, false)
    }
    const effects: Effect[] = []
    for (const m of messages) {
      for (const effect of this.incoming(m.from, m.body, m.ts))
        if (!effects.some((e) => e.type === effect.type)) effects.push(effect)
    }
    return effects
  }

  /** A node event; a `connected` one comes with the `route` its link took, which the lines then name. */
  nodeEvent(event: NodeEvent, route?: LinkRoute): Effect[] {
    this.changes++
    this.status.apply(event, route)
    this.labels.observe(event)
    this.routes.observe(event, route)
    if (event.type === 'message') return this.incoming(event.from, event.body, event.ts)
    const line = describeEvent(event, route)
    if (line) this.note(line.text, line.level)
    return []
  }

  key(event: KeyEvent): Effect[] {
    if (event.type === 'focus') {
      this.focused = event.focused
      if (event.focused) this.active()
      return []
    }
    this.active()
    if (event.type === 'wheel') {
      if (event.direction === 'up') this.list.scrollUp(3)
      else this.list.scrollDown(3)
      return []
    }
    if (!(event.type === 'key' && (event.name === 'tab' || event.name === 'S-tab')))
      this.completion = undefined
    switch (event.type) {
      case 'text':
        this.input.insert(event.text)
        return []
      case 'paste':
        this.input.paste(event.text)
        return []
      case 'key':
        return this.namedKey(event.name)
      default: {
        const _exhaustive: never = event
        return _exhaustive
      }
    }
  }

  frame(cols: number, rows: number): Frame {
    const paneHeight = Math.max(1, rows - 2)
    this.paneHeight = paneHeight
    const panelWidth = this.panel && cols >= PANEL_MIN_COLS ? Math.min(PANEL_MAX, Math.floor(cols / 3)) : 0
    const paneCols = cols - panelWidth
    this.list.setSize(paneCols, paneHeight)
    const page = this.list.page()
    const messages = page.rows
    if (page.scrolled) {
      const text = page.newBelow > 0 ? ` ${page.newBelow} new below · PgDn ` : ' more below · PgDn '
      messages[messages.length - 1] = this.rule(text, paneCols, { kind: 'marker' })
    }
    const { row: input, cursor } = this.inputLine(cols)
    const status = this.statusRow(this.status.summary(), cols)
    if (panelWidth === 0) return { messages, status, input, cursor }
    return {
      messages,
      status,
      input,
      cursor,
      panel: { width: panelWidth, rows: this.panelRows(panelWidth, paneHeight) },
    }
  }

  /** The member panel: you first, then neighbours (● connected, ○ not) and members reached through relays (~). */
  private panelRows(width: number, height: number): Row[] {
    const border: Span = { text: '│ ', style: { kind: 'hint' } }
    const line = (text: string, style: Style): Row =>
      wrap([border, { text, style }], width, this.width)[0] ?? []
    const rows: Row[] = [
      line(`members (${this.members.length + 1}) · F2`, { kind: 'info' }),
      line(`● ${terminalSafe(this.self.name)} (you)`, { kind: 'own' }),
    ]
    const members = [...this.members].sort((a, b) => Number(b.direct) - Number(a.direct))
    for (const m of members) {
      const mark = m.direct ? (m.connected ? '●' : '○') : '~'
      const style: Style = m.direct ? (m.connected ? TEXT : { kind: 'warn' }) : { kind: 'hint' }
      rows.push(line(`${mark} ${terminalSafe(this.labels.label(m.peer))} ${shortId(m.peer.id)}`, style))
    }
    if (rows.length > height) {
      const hidden = rows.length - height + 1
      rows.splice(height - 1, rows.length, line(`… ${hidden} more (/peers)`, { kind: 'hint' }))
    }
    while (rows.length < height) rows.push([border])
    return rows
  }

  // ---- keys -------------------------------------------------------------------------------------

  private namedKey(name: string): Effect[] {
    const input = this.input
    switch (name) {
      case 'enter':
        return this.submit()
      case 'M-enter':
        input.insert('\n')
        return []
      case 'C-a':
      case 'home':
        input.home()
        return []
      case 'C-e':
      case 'end':
        input.end()
        return []
      case 'C-b':
      case 'left':
        input.left()
        return []
      case 'C-f':
      case 'right':
        input.right()
        return []
      case 'M-b':
      case 'C-left':
      case 'M-left':
        input.wordBack()
        return []
      case 'M-f':
      case 'C-right':
      case 'M-right':
        input.wordForward()
        return []
      case 'backspace':
        input.backspace()
        return []
      case 'delete':
      case 'C-d':
        input.deleteForward()
        return []
      case 'C-k':
        input.killToEnd()
        return []
      case 'C-u':
        input.killToStart()
        return []
      case 'C-w':
      case 'M-backspace':
        input.killWordBack()
        return []
      case 'M-d':
        input.killWordForward()
        return []
      case 'C-y':
        input.yank()
        return []
      case 'up':
      case 'C-p':
        input.historyUp()
        return []
      case 'down':
      case 'C-n':
        input.historyDown()
        return []
      case 'pageup':
      case 'S-up':
        this.list.scrollUp(name === 'pageup' ? Math.max(1, this.paneHeight - 1) : 1)
        return []
      case 'pagedown':
      case 'S-down':
        this.list.scrollDown(name === 'pagedown' ? Math.max(1, this.paneHeight - 1) : 1)
        return []
      case 'C-end':
      case 'M->':
        this.list.scrollToBottom()
        return []
      case 'tab':
      case 'S-tab':
        this.complete(name === 'tab' ? 1 : -1)
        return []
      case 'C-c':
        return [{ type: 'quit' }]
      case 'C-l':
        return [{ type: 'redraw' }]
      case 'f2':
        return this.togglePanel()
      default:
        return []
    }
  }

  private complete(step: 1 | -1): void {
    if (this.completion) {
      const c = this.completion
      c.index = (c.index + step + c.candidates.length) % c.candidates.length
      const pick = c.candidates[c.index]!
      this.input.set(c.head + pick + c.rest, c.head.length + pick.length)
      return
    }
    const line = this.input.text
    const cursor = this.input.cursor
    const found = completions(line, cursor, [...this.senders, ...this.status.peerNames()])
    if (!found) return
    const head = line.slice(0, found.from)
    const rest = line.slice(found.to)
    const index = step === 1 ? 0 : found.candidates.length - 1
    const pick = found.candidates[index]!
    this.input.set(head + pick + rest, head.length + pick.length)
    this.completion = { from: found.from, head, rest, candidates: found.candidates, index }
  }

  private submit(): Effect[] {
    const line = this.input.submit()
    const what = parseSubmission(line)
    this.list.scrollToBottom()
    switch (what.type) {
      case 'empty':
        return []
      case 'message':
        this.own(what.body)
        return [{ type: 'send', body: what.body }]
      case 'me': {
        const body = actionBody(what.action)
        this.own(body)
        return [{ type: 'send', body }]
      }
      case 'help':
        this.help()
        return []
      case 'nick':
        this.self = { ...this.self, name: what.name }
        this.changes++
        this.note(`you are now ${what.name} (peers see it on your next messages)`)
        return [{ type: 'rename', name: what.name }]
      case 'connect':
        return [{ type: 'connect', address: what.address }]
      case 'peers':
        return [{ type: 'members', list: true }]
      case 'members':
        return this.togglePanel()
      case 'clear':
        this.list.clear()
        this.marker = undefined
        return []
      case 'quit':
        return [{ type: 'quit' }]
      case 'invalid':
        this.note(what.hint, 'hint')
        return []
      default: {
        const _exhaustive: never = what
        return _exhaustive
      }
    }
  }

  private togglePanel(): Effect[] {
    this.changes++
    this.panel = !this.panel
    return this.panel ? [{ type: 'members', list: false }] : []
  }

  private help(): void {
    for (const line of helpLines(COMMANDS.map((c) => c.name))) this.note(line, 'hint')
    this.note(
      'Enter send · Tab complete · ↑/↓ history · PgUp/PgDn or wheel scroll · F2 members · Ctrl-C quit',
      'hint',
    )
    this.note(
      'C-a/C-e start/end · C-b/C-f M-b/M-f move · C-k/C-u/C-w/M-d kill · C-y yank · M-Enter newline',
      'hint',
    )
  }

  // ---- messages ---------------------------------------------------------------------------------

  private own(body: string): void {
    this.list.add(
      {
        id: this.nextId++,
        kind: 'message',
        ts: this.now(),
        from: this.self,
        label: this.self.name,
        body,
        own: true,
        mention: false,
      },
      false,
    )
  }

  private incoming(from: PeerInfo, body: string, ts: number): Effect[] {
    this.received++
    const label = this.labels.label(from)
    this.senders.add(label)
    if (this.away() && !this.markedThisAway) this.placeMarker()
    const mention = isMention(body, this.self.name)
    this.list.add({ id: this.nextId++, kind: 'message', ts, from, label, body, own: false, mention })
    return mention ? [{ type: 'bell' }] : []
  }

  private away(): boolean {
    return !this.focused || this.now() - this.lastActive >= this.awayAfterMs
  }

  private active(): void {
    this.lastActive = this.now()
    this.markedThisAway = false
  }

  private placeMarker(): void {
    if (this.marker) this.marker.hidden = true
    this.marker = { id: this.nextId++, kind: 'marker', ts: this.now() }
    this.list.add(this.marker, false)
    this.markedThisAway = true
  }

  // ---- layout -----------------------------------------------------------------------------------

  private layout(entry: Entry, cols: number): Row[] {
    const stamp: Span = { text: `${this.time(entry.ts)} `, style: { kind: 'time' } }
    switch (entry.kind) {
      case 'marker':
        return [this.rule(` new since ${this.time(entry.ts).slice(0, 5)} `, cols, { kind: 'marker' })]
      case 'rule':
        return [this.rule(entry.text, cols, { kind: 'info' })]
      case 'system': {
        const style: Style =
          entry.level === 'warn'
            ? { kind: 'warn' }
            : entry.level === 'hint'
              ? { kind: 'hint' }
              : { kind: 'info' }
        const mark = entry.level === 'warn' ? '!! ' : '-- '
        return this.lines([stamp, { text: mark, style }], entry.text, style, cols)
      }
      case 'message': {
        const colour = nickColour(entry.from.id)
        const name = terminalLine(entry.label)
        const action = parseAction(entry.body)
        if (action !== undefined) {
          const style: Style = { kind: 'action', colour }
          return this.lines([stamp, { text: ` * ${name} `, style }], action, style, cols)
        }
        const nick: Style = entry.own ? { kind: 'own' } : { kind: 'nick', colour }
        const text: Style = entry.mention ? { kind: 'mention' } : TEXT
        return this.lines([stamp, { text: `<${name}> `, style: nick }], entry.body, text, cols)
      }
      default: {
        const _exhaustive: never = entry
        return _exhaustive
      }
    }
  }

  /** A prefix, then text over one or more lines, each wrapped and indented under the text. */
  private lines(prefix: Span[], text: string, style: Style, cols: number): Row[] {
    const indent = prefix.reduce((n, s) => n + graphemes(s.text).reduce((m, g) => m + this.width(g), 0), 0)
    const rows: Row[] = []
    terminalSafe(text)
      .split('\n')
      .forEach((line, i) => {
        const spans =
          i === 0
            ? [...prefix, { text: line, style }]
            : [
                { text: ' '.repeat(indent), style: TEXT },
                { text: line, style },
              ]
        rows.push(...wrap(spans, cols, this.width, indent))
      })
    return rows
  }

  private rule(label: string, cols: number, style: Style): Row {
    const side = Math.max(0, Math.floor((cols - this.cells(label)) / 2))
    const text = '─'.repeat(Math.min(side, 3)) + label
    return (
      wrap([{ text: text + '─'.repeat(Math.max(0, cols - this.cells(text))), style }], cols, this.width)[0] ??
      []
    )
  }

  private cells(text: string): number {
    let n = 0
    for (const g of graphemes(text)) n += this.width(g)
    return n
  }

  private statusRow(s: StatusSummary, cols: number): Row {
    const tone =
      s.state === 'connected'
        ? 'ok'
        : s.state === 'listening'
          ? 'idle'
          : s.state === 'failed' || s.state === 'closed'
            ? 'bad'
            : 'busy'
    const plain: Style = { kind: 'status-text' }
    const spans: Span[] = [{ text: ` ${s.state} `, style: { kind: 'status', tone } }]
    if (!this.secure) spans.push({ text: ' PLAIN: not encrypted ', style: { kind: 'status', tone: 'bad' } })
    if (s.peer) {
      const who = s.peer.name ? `${terminalSafe(s.peer.name)} ${s.peer.address}` : s.peer.address
      spans.push({ text: ` ${who}${s.others > 0 ? ` (+${s.others})` : ''} `, style: plain })
    }
    spans.push({ text: `│ ${terminalSafe(this.self.name)} @ ${s.listen ?? '…'} `, style: plain })
    if (s.undelivered > 0) spans.push({ text: `│ ${s.undelivered} undelivered `, style: plain })
    const used = spans.reduce((n, sp) => n + this.cells(sp.text), 0)
    if (used < cols) spans.push({ text: ' '.repeat(cols - used), style: plain })
    return wrap(spans, cols, this.width)[0] ?? []
  }

  /** The input line alone, as `frame` lays it out: what a key usually changes. */
  inputLine(cols: number): { row: Row; cursor: number } {
    const room = Math.max(1, cols - PROMPT.length - 1)
    const parts = graphemes(this.input.text).map((g) => {
      const shown = g === '\n' ? '↵' : g === '\t' ? '→' : terminalSafe(g)
      return { shown, w: this.cells(shown), hint: g === '\n' || g === '\t' }
    })
    let cursorCells = 0
    let at = 0
    for (const g of graphemes(this.input.text)) {
      if (at >= this.input.cursor) break
      at += g.length
      cursorCells++
    }
    // cursorCells counts graphemes before the cursor; turn it into cells.
    const before = parts.slice(0, cursorCells).reduce((n, p) => n + p.w, 0)
    if (before < this.inputScroll) this.inputScroll = Math.max(0, before - Math.floor(room / 4))
    if (before > this.inputScroll + room) this.inputScroll = before - room + Math.floor(room / 4)
    const spans: Span[] = [{ text: PROMPT, style: { kind: 'own' } }]
    let x = 0
    let used = 0
    let shownFrom = -1
    for (const p of parts) {
      const start = x
      x += p.w
      if (start < this.inputScroll) continue
      if (shownFrom < 0) shownFrom = start
      if (used + p.w > room) break
      spans.push({ text: p.shown, style: p.hint ? { kind: 'hint' } : TEXT })
      used += p.w
    }
    if (shownFrom < 0) shownFrom = Math.min(this.inputScroll, before)
    return { row: spans, cursor: PROMPT.length + before - shownFrom }
  }
}
