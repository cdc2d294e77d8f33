/**
 * The chat screen's model: it takes keys and node events, runs commands, and returns effects as data for
 * the runtime to carry out. It composes the parts that each do one job: the scrollback and how entries look
 * (`scrollback.ts`), the member panel (`member-panel.ts`), editing keys and Tab (`editing-keys.ts`,
 * `tab-completion.ts`), and the status and input rows (`bars.ts`).
 */
import {
  type Address,
  MAX_BODY_LENGTH,
  type MemberInfo,
  messagesOf,
  type NodeEvent,
  type PeerInfo,
} from '@parley/core'
import {
  actionBody,
  actionPartText,
  type BootstrapNode,
  COMMANDS,
  catchUpKinds,
  catchUpWhat,
  clockTime,
  countText,
  type DescribeOptions,
  describeEvent,
  type HistoryLine,
  helpLines,
  type LinkRoute,
  PeerLabels,
  parseAction,
  parseSubmission,
  renamedNote,
  type ShownMessage,
  type StatusLine,
} from '@parley/launcher'
import type { KeyEvent } from '../input/key-decoder.js'
import type { GraphemeWidth } from '../text/width.js'
import { InputRow, statusRow } from './bars.js'
import { editInput } from './editing-keys.js'
import { InputLine } from './input-line.js'
import { MemberPanel } from './member-panel.js'
import { isMention } from './mentions.js'
import { DEFAULT_CAP, MessageList } from './message-list.js'
import { messageParts, partsGoOn } from './message-parts.js'

/**
 * The most characters one entry grows to from the parts of a line sent in parts: past it, the next part is
 * an entry of its own, so a sender that says `more` for ever grows no entry without end, nor makes each
 * part lay out an ever longer one again.
 */
const JOINED_MAX = 100_000

import type { Row } from './rows.js'
import { type Entry, EntryLayout, ruleRow } from './scrollback.js'
import { ConnectionStatus } from './status.js'
import { TabCompletion } from './tab-completion.js'

export { type Entry, NICK_COLOURS, nickColour } from './scrollback.js'

/** How long without a key press counts as being away (the read marker then goes before the next message). */
export const DEFAULT_AWAY_AFTER_MS = 5 * 60_000

type MessageEntry = Extract<Entry, { kind: 'message' }>

/**
 * A later part of an action sent in parts, `text` its action text, as a body of its own: framed as the first
 * part is (closed too when it ends the line), so it shows as an action and a next part can join it.
 */
function actionPart(text: string, endsLine: boolean): string {
  return endsLine ? actionBody(text) : actionBody(text).slice(0, -1)
}

/** What `actionBody` adds around an action's text. */
const ACTION_FRAMING = actionBody('').length

/** Senders kept for Tab completion: a stranger minting keys must not grow them for the whole run. */
export const MAX_SENDERS = 1_000

/** What the runtime must do after an input or a node event; the model itself does no I/O. */
export type Effect =
  /** Messages to send, in order: a draft too long for one message, cut by `messageParts`. */
  | {
      readonly type: 'send'
      readonly bodies: readonly string[]
      /** Body `i`'s line goes on in body `i + 1` (`partsGoOn`); absent, every body ends its line. */
      readonly goOn?: readonly boolean[]
    }
  | { readonly type: 'rename'; readonly name: string }
  | { readonly type: 'connect'; readonly address: Address }
  | { readonly type: 'disconnect'; readonly address: Address }
  /** Refresh the member list from the node (`setMembers`); with `list`, also print it (`listMembers`). */
  | { readonly type: 'members'; readonly list: boolean }
  | { readonly type: 'quit'; readonly reason?: string }
  | { readonly type: 'bell' }
  | { readonly type: 'redraw' }
  /** Ctrl-Z: give the terminal back and stop, as a shell's job (`fg` brings it back). */
  | { readonly type: 'suspend' }

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

export interface ChatOptions {
  readonly self: PeerInfo
  /** `--bootstrap`: the listening line tells peers to look on this private DHT too. */
  readonly bootstrap?: readonly BootstrapNode[]
  /** How far members' clocks may be behind this one's (`PARLEY_CLOCK_SLACK_MS`). */
  readonly clockSlackMs?: number
  readonly width: GraphemeWidth
  readonly now?: () => number
  readonly cap?: number
  readonly awayAfterMs?: number
  /** Formats a timestamp; local `HH:MM:SS` by default. */
  readonly time?: (ts: number) => string
  /** False in --plain mode: the status bar then says that nothing is encrypted. */
  readonly secure?: boolean
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
  private readonly awayAfterMs: number
  private nextId = 1
  private focused = true
  private lastActive: number
  private marker: Entry | undefined
  private markedThisAway = false
  private readonly completion = new TabCompletion()
  /**
   * Each member who spoke, by id, for Tab completion: the latest `MAX_SENDERS`, the most recent last. A
   * member that renamed itself is completed by its new name only. Labelled when Tab is pressed, so a
   * member whose name another's looks like is completed with its fingerprint, even if it spoke first.
   */
  private readonly senders = new Map<string, PeerInfo>()
  private lastSender: PeerInfo | undefined
  /** The entry of a line whose next part (`more`) is still to come: that part joins it, if it is still last. */
  private openLine: MessageEntry | undefined
  private readonly labels = new PeerLabels(() => this.self)
  private readonly panel: MemberPanel
  private readonly inputRow: InputRow
  private readonly secure: boolean
  private readonly describing: DescribeOptions
  private paneHeight = 20
  private changes = 0
  /** Messages received from peers (for the flood benchmark's trace). */
  received = 0

  constructor(options: ChatOptions) {
    this.self = options.self
    this.width = options.width
    this.now = options.now ?? Date.now
    // A member's leaving told from before this start is told with its time.
    this.describing = {
      ...(options.bootstrap ? { bootstrap: options.bootstrap } : {}),
      startedAt: this.now(),
      clockSlackMs: options.clockSlackMs ?? 0,
    }
    this.awayAfterMs = options.awayAfterMs ?? DEFAULT_AWAY_AFTER_MS
    this.secure = options.secure ?? true
    this.lastActive = this.now()
    this.panel = new MemberPanel(this.labels, this.width)
    this.inputRow = new InputRow(this.width)
    const layout = new EntryLayout(this.width, options.time ?? clockTime)
    this.list = new MessageList<Entry>((entry, cols) => layout.rows(entry, cols), options.cap ?? DEFAULT_CAP)
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
    this.panel.set(members)
  }

  /** Prints the member list in the message pane (the answer to /peers). */
  listMembers(): void {
    for (const line of this.panel.list()) this.note(line)
  }

  get panelOpen(): boolean {
    return this.panel.open
  }

  /** Lines from an earlier run (`--history N`), shown above everything else; a line sent in parts as one. */
  showHistory(lines: readonly HistoryLine[]): void {
    if (lines.length === 0) return
    this.note(`the last ${lines.length} message(s) from history:`)
    for (const [first, ...rest] of lines) {
      const own = first.direction === 'out'
      // Under the name it was sent with, told apart from a namesake as a live message is.
      const from = first.from
      const label = own ? from.name : this.labels.label(from)
      const action = parseAction(first.body) !== undefined
      const entry = (ts: number, body: string): MessageEntry => {
        const id = this.nextId++
        return { id, kind: 'message', ts, from, label, body, own, mention: false }
      }
      let shown = entry(first.ts, first.body)
      for (const part of rest) {
        if (shown.body.length < JOINED_MAX) {
          shown.body += part.body
          continue
        }
        // Past the bound, as live: the rest in entries of their own, an action's still shown as one.
        this.list.add(shown, false)
        shown = entry(
          part.ts,
          action ? actionPart(actionPartText(part.body, !part.more), !part.more) : part.body,
        )
      }
      this.list.add(shown, false)
    }
  }

  /**
   * Received messages, from the launcher's MessageDisplay: live ones, or a catch-up (already in time
   * order) that gets a rule above it.
   */
  showMessages(messages: readonly ShownMessage[], catchUp?: number): Effect[] {
    this.changes++
    // A catch-up takes at most half the pane's entries: a longer one would push out, by the cap, what was
    // shown above it (the lines typed while joining) though it is older than all of it.
    let skip = 0
    if (catchUp !== undefined) {
      const most = Math.max(1, Math.floor(this.list.cap / 2))
      skip = Math.max(0, messages.length - most)
      // Shown again: the last run received them and ended before marking them as shown (a kill), not while away.
      const some = `${countText(catchUp)} message${catchUp === 1 ? '' : 's'}`
      const newest = skip > 0 ? `, the newest ${countText(messages.length - skip)} shown` : ''
      const text = ` ${some} ${catchUpWhat(catchUp, catchUpKinds(messages))}${newest} `
      this.list.add({ id: this.nextId++, kind: 'rule', ts: this.now(), text }, false)
    }
    const effects: Effect[] = []
    for (let i = skip; i < messages.length; i++) {
      const m = messages[i] as ShownMessage
      // A part that goes on with an action and is not joined to it shows as an action of its own.
      const continues = m.continues === true
      const body =
        continues && m.action !== undefined && !this.joins(m.from, continues)
          ? actionPart(m.action, !m.more)
          : m.body
      for (const effect of this.incoming(m.from, body, m.ts, m.more, continues))
        if (!effects.some((e) => e.type === effect.type)) effects.push(effect)
    }
    return effects
  }

  /**
   * A node event; a `connected` one comes with the `route` its link took, which the lines then name.
   * With `say` given, the event's status line goes to it instead of the pane (a digest that may hold it).
   */
  nodeEvent(event: NodeEvent, route?: LinkRoute, say?: (line: StatusLine) => void): Effect[] {
    this.changes++
    this.status.apply(event, route)
    this.labels.observe(event)
    this.panel.observe(event, route)
    if (event.type === 'message') return this.incoming(event.from, event.body, event.ts, event.more)
    // Only a plain node made with `runs` sends these, which this frontend does not ask for.
    if (event.type === 'lines')
      return messagesOf(event).flatMap((m) => this.incoming(m.from, m.body, m.ts, m.more))
    const line = describeEvent(event, route, this.self.id, this.describing)
    if (line && say) say(line)
    else if (line) for (const text of [line.text, ...(line.more ?? [])]) this.note(text, line.level)
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
    if (!(event.type === 'key' && (event.name === 'tab' || event.name === 'S-tab'))) this.completion.reset()
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
    const panelWidth = this.panel.widthFor(cols)
    const paneCols = cols - panelWidth
    this.list.setSize(paneCols, paneHeight)
    const page = this.list.page()
    const messages = page.rows
    if (page.scrolled) {
      const text =
        page.newBelow > 0 ? ` ${countText(page.newBelow)} new below · PgDn ` : ' more below · PgDn '
      messages[messages.length - 1] = ruleRow(text, paneCols, { kind: 'marker' }, this.width)
    }
    const { row: input, cursor } = this.inputLine(cols)
    const self = { name: this.self.name, secure: this.secure }
    const status = statusRow(this.status.summary(), cols, self, this.width)
    if (panelWidth === 0) return { messages, status, input, cursor }
    return {
      messages,
      status,
      input,
      cursor,
      panel: { width: panelWidth, rows: this.panel.rows(this.self, panelWidth, paneHeight) },
    }
  }

  /** The input line alone, as `frame` lays it out: what a key usually changes. */
  inputLine(cols: number): { row: Row; cursor: number } {
    return this.inputRow.layout(this.input, cols)
  }

  // ---- keys that act on the whole screen --------------------------------------------------------

  private namedKey(name: string): Effect[] {
    switch (name) {
      case 'enter':
        return this.submit()
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
      case 'C-home':
      case 'M-<':
        // The oldest entry the pane keeps, in one key rather than a PgUp per page.
        this.list.scrollToTop()
        return []
      case 'tab':
      case 'S-tab':
        this.completion.step(
          this.input,
          [...this.senders.values(), ...this.status.peers()].map((peer) => this.labels.label(peer)),
          name === 'tab' ? 1 : -1,
        )
        return []
      case 'C-c':
        return [{ type: 'quit' }]
      case 'C-l':
        return [{ type: 'redraw' }]
      case 'C-z':
        return [{ type: 'suspend' }]
      case 'f2':
        return this.togglePanel()
      default:
        editInput(this.input, name)
        return []
    }
  }

  // ---- commands ---------------------------------------------------------------------------------

  private submit(): Effect[] {
    const line = this.input.submit()
    const what = parseSubmission(line)
    this.list.scrollToBottom()
    switch (what.type) {
      case 'empty':
        return []
      case 'message': {
        const parts = messageParts(what.body)
        return this.sendOwn(parts, parts.length > 1 ? partsGoOn(what.body, parts) : undefined)
      }
      case 'me':
        // Each part of a long action is an action of its own, so that every one is shown as one.
        return this.sendOwn(
          messageParts(what.action, MAX_BODY_LENGTH - ACTION_FRAMING).map((part) => actionBody(part)),
        )
      case 'help':
        this.help()
        return []
      case 'nick':
        this.self = { ...this.self, name: what.name }
        this.changes++
        this.note(renamedNote(this.self, this.panel.members))
        return [{ type: 'rename', name: what.name }]
      case 'connect':
        return [{ type: 'connect', address: what.address }]
      case 'disconnect':
        return [{ type: 'disconnect', address: what.address }]
      case 'peers':
        return [{ type: 'members', list: true }]
      case 'members':
        return this.togglePanel()
      case 'clear':
        this.list.clear()
        this.marker = undefined
        return []
      case 'quit':
        return [what.reason === undefined ? { type: 'quit' } : { type: 'quit', reason: what.reason }]
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
    return this.panel.toggle() ? [{ type: 'members', list: false }] : []
  }

  private help(): void {
    for (const line of helpLines(COMMANDS.map((c) => c.name))) this.note(line, 'hint')
    this.note(
      'Enter send · Tab complete · ↑/↓ history · PgUp/PgDn or wheel scroll · F2 members · Ctrl-C quit',
      'hint',
    )
    this.note(
      'S-↑/S-↓ scroll a row · C-Home/M-< oldest · C-End/M-> newest · C-l redraw · C-z suspend (fg: back)',
      'hint',
    )
    this.note(
      'C-a/C-e start/end · C-b/C-f M-b/M-f move · C-k/C-u/C-w/M-d kill · C-y yank · M-Enter newline',
      'hint',
    )
  }

  // ---- messages and the read marker -------------------------------------------------------------

  /** Shows our messages as the peers will see them, one entry per message, and asks to send them. */
  private sendOwn(bodies: readonly string[], goOn?: readonly boolean[]): Effect[] {
    for (const body of bodies) this.own(body)
    return [goOn?.includes(true) ? { type: 'send', bodies, goOn } : { type: 'send', bodies }]
  }

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

  private spoke(from: PeerInfo): void {
    // A flood from one sender touches nothing; a new one goes last, and the longest silent goes past the bound.
    const last = this.lastSender
    if (last !== undefined && last.id === from.id && last.name === from.name) return
    this.lastSender = from
    this.senders.delete(from.id)
    this.senders.set(from.id, from)
    if (this.senders.size > MAX_SENDERS) this.senders.delete(this.senders.keys().next().value!)
  }

  /**
   * Whether a message joins the entry its sender's last part left open (`openLine`): it goes on with that
   * line (`continues`: the next seq) and nothing was shown between them.
   */
  private joins(from: PeerInfo, continues: boolean): boolean {
    const open = this.openLine
    return (
      continues &&
      open !== undefined &&
      open.from.id === from.id &&
      this.list.last() === open &&
      open.body.length < JOINED_MAX
    )
  }

  /**
   * `more`: the line goes on in the sender's next message, which joins this entry (`openLine`) when it says
   * it `continues` it.
   */
  private incoming(from: PeerInfo, body: string, ts: number, more?: true, continues = false): Effect[] {
    this.received++
    const label = this.labels.label(from)
    this.spoke(from)
    const open = this.openLine
    const joins = this.joins(from, continues)
    this.openLine = undefined
    if (open && joins) {
      // Our name in this part, or across the bound with the part before, makes the line a mention.
      const seam = open.body.slice(-(this.self.name.length + 1)) + body
      const mention = !open.mention && isMention(seam, this.self.name)
      open.body += body
      if (mention) open.mention = true
      this.list.invalidate(open)
      if (more) this.openLine = open
      return mention ? [{ type: 'bell' }] : []
    }
    if (this.away() && !this.markedThisAway) this.placeMarker()
    const mention = isMention(body, this.self.name)
    const entry: MessageEntry = {
      id: this.nextId++,
      kind: 'message',
      ts,
      from,
      label,
      body,
      own: false,
      mention,
    }
    this.list.add(entry)
    if (more) this.openLine = entry
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
}
