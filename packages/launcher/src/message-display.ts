/**
 * What both frontends do between a node's `message` events and the screen: catch-up (messages from while
 * this node was away) gathered, put in time order and announced by one marker line; live messages shown as
 * they come; and the display marks (DATA_DIR/shown) written as soon as what was shown has left the
 * process, so a restart never shows a message twice and never skips one. Frontends never see the marks.
 */
import { fstatSync, writeSync } from 'node:fs'
import { lineId, messagesOf, type NodeEvent, type PeerInfo } from '@parley/core'
import { actionPartText, parseAction } from './commands.js'
import { type CatchUpKinds, catchUpKinds } from './display.js'
import { endsInsideLine } from './display-marks.js'
import { TimePlacement } from './history-order.js'
import type { StartedNode } from './node-setup.js'
import { unrefTimeout } from './timers.js'

/** A received message as frontends show it. */
export interface ShownMessage {
  readonly id: string
  readonly seq: number
  readonly ts: number
  /** The sender, under the name the message was sent with. */
  readonly from: PeerInfo
  /** The body as sent (for an action, its raw CTCP form). */
  readonly body: string
  /**
   * The action text of a `/me` message (`* alice waves`), else undefined; for a later part of an action
   * sent in parts (`continues`), that part's text, without the closing \u0001.
   */
  readonly action?: string
  /** Part of a catch-up: sent while this node was away, shown behind a marker line. */
  readonly catchUp: boolean
  /** Shown again at start: journaled but not marked as shown when the last run ended (see core). */
  readonly replayed?: true
  /** Catch-up sent before this node's first run began (`StartedNode.firstRun`): it was never away. */
  readonly beforeJoining?: true
  /** Catch-up sent while this node ran: held up on the way (its sender, a relay or a link was down). */
  readonly heldUp?: true
  /** Its line goes on in the sender's next message (`msg.more`): a part of a line too long for one. */
  readonly more?: true
  /** Goes on with its sender's line left open by the part shown before it (one seq before, with `more`). */
  readonly continues?: true
}

/**
 * Live lines from one sender, that came together (a `lines` node event): line `i` has seq `firstSeq + i`,
 * or, when they are the lines of one message (`oneMessage`), seq `firstSeq`.
 */
export interface ShownRun {
  readonly from: PeerInfo
  readonly firstSeq: number
  /** Line `i`'s id is `${idPrefix}${firstSeq + i}`, or for `oneMessage`, `lineId(idPrefix, i)`. */
  readonly idPrefix: string
  readonly ts: number
  /** Each one line: none holds a newline. */
  readonly bodies: readonly string[]
  /** The lines of one message: one seq, hence one display mark, once they are all written. */
  readonly oneMessage?: true
  /** With `oneMessage`: its last line goes on in the sender's next message (`msg.more`). */
  readonly more?: true
}

/** Where a line-mode frontend writes (stdout): every call must have handed the text to the kernel on return. */
export interface LineTarget {
  readonly kind: 'lines'
  format(message: ShownMessage): string
  /**
   * A run's text at once, one line per body joined by newlines (no newline at the end): what `format`
   * would give for each, made in one go. Undefined when some line needs `format` (an action). Without
   * it, each line of a run is formatted alone.
   */
  formatRun?(run: ShownRun): string | undefined
  /**
   * The text of a part that goes on with its sender's line left open by the part before it (`more`), which
   * was written without its newline: the part's text only. With it, a line too long for one message is
   * written as one line, in writes as its parts come; without it (a terminal, JSON), each part is a line.
   */
  continued?(message: ShownMessage): string
  write(text: string): void
  /**
   * Called right before a catch-up of `count` messages is written (the marker line), with how many of them
   * are of each kind that was not sent while this node was away (`catchUpWhat` words them).
   */
  catchUp(count: number, kinds: CatchUpKinds): void
  /** True once a write failed (stdout's reader closed it): what was written is not marked from then on. */
  gone?(): boolean
}

/** A full-screen frontend: it draws what it is given in its next frame, then calls `drawn()`. */
export interface FrameTarget {
  readonly kind: 'frames'
  /** `catchUp` is the size of the catch-up these messages start, when they start one. */
  show(messages: readonly ShownMessage[], catchUp?: number): void
}

/** Whether catch-up is shown: not by a one-shot send (unless --history), held while that is not known yet. */
export type CatchUpPolicy = 'show' | 'hide' | 'undecided'

export interface MessageDisplayOptions {
  readonly target: LineTarget | FrameTarget
  readonly catchUp?: () => CatchUpPolicy
  /** How long catch-up must be quiet before it is shown (ms, default 300), and its longest hold (default 3 s). */
  readonly quietMs?: number
  readonly maxHoldMs?: number
  /** How long catch-up waits for an undecided policy before it is shown (default 1 s). */
  readonly undecidedMs?: number
  /**
   * How far apart two clocks may be (ms): a message sent less than this before the node started is live,
   * not catch-up. Default `CATCH_UP_SLACK_MS`, or `PARLEY_CLOCK_SLACK_MS` from the environment.
   */
  readonly clockSlackMs?: number
  readonly now?: () => number
  readonly schedule?: (callback: () => void, ms: number) => { cancel(): void }
  /**
   * Line targets only: live messages that arrive together (one read of a link) are written together,
   * once `defer` runs the callback it is given (e.g. `queueMicrotask`). Without it each is written at once.
   * One write and one display mark per batch instead of per line is most of a fast receiver's cost.
   */
  readonly defer?: (callback: () => void) => void
}

/** A message sent more than this before the node started (or before its newest link opened) is catch-up. */
export const CATCH_UP_SLACK_MS = 2_000

/** The clock slack from `PARLEY_CLOCK_SLACK_MS` (whole ms, 0 or more), else the default. */
export function clockSlackFrom(env: Readonly<Record<string, string | undefined>>): number {
  const raw = env.PARLEY_CLOCK_SLACK_MS
  const value = Number(raw)
  return raw !== undefined && raw !== '' && Number.isInteger(value) && value >= 0 ? value : CATCH_UP_SLACK_MS
}
/** Linux writes up to PIPE_BUF (4096) bytes to a pipe atomically: a chunk is written whole or not at all. */
const LINE_CHUNK_BYTES = 4_000
/**
 * Catch-up held at most this many messages (lines) at once, and the lines of the one message that reaches
 * it; more are shown in further batches.
 */
const MAX_HELD = 20_000
/** The line the last run left open on this output (`leftInsideLine`): no message continues it. */
const LEFT_OPEN = { id: '', seq: Number.NaN } as const
/** Senders whose line a part left open are remembered up to this many, the longest open forgotten first. */
const MAX_OPEN_LINES = 1_024

/**
 * @example
 * const display = new MessageDisplay({ target: { kind: 'lines', format, write, catchUp } })
 * const started = await startNode(flags, (e) => display.push(e)); display.bind(started)
 */
export class MessageDisplay {
  private readonly target: LineTarget | FrameTarget
  private readonly policy: () => CatchUpPolicy
  private readonly quietMs: number
  private readonly maxHoldMs: number
  private readonly undecidedMs: number
  private readonly clockSlackMs: number
  private readonly now: () => number
  private readonly schedule: (callback: () => void, ms: number) => { cancel(): void }
  private readonly defer: ((callback: () => void) => void) | undefined
  /** Live messages and runs waiting for the deferred write (line targets with `defer`). */
  private live: (ShownMessage | ShownRun)[] = []
  /** Messages older than this are catch-up: the start, then each new link's opening. */
  private since: number
  /** In a node's first run (see `bind`), its start: catch-up older than this was sent before it joined. */
  private joined: number | undefined
  private readonly started: number
  private held: ShownMessage[] = []
  /** When each held message reached this node (this node's clock), where known. */
  private heldAt: (number | undefined)[] = []
  private heldSince = 0
  private timer: { cancel(): void } | undefined
  /** Shown (or handed to a frame) and not yet recorded. */
  private unmarked = new Map<string, number>()
  /** False when the mark could not be written; anything else when it was. */
  private markShown: ((shown: ReadonlyMap<string, number>, insideLine: boolean) => unknown) | undefined
  /** The last write left the output inside a line (its text did not end with a newline). */
  private insideLine = false
  /** Announces a write of lines before it is made; false when that failed (nothing may be written then). */
  private intendShown: ((shown: ReadonlyMap<string, number>, text: string) => unknown) | undefined
  private failure: () => unknown = () => undefined
  /** A mark could not be written (the data dir failed): nothing more is shown, or it would show twice. */
  private halted = false
  /** The most a write of lines holds, unless one line alone is longer (see `LINE_CHUNK_BYTES`). */
  private chunkBytes = LINE_CHUNK_BYTES
  private closed = false
  /**
   * The sender and seq of the part last written without its newline (`more`), whose line is open: its
   * next message continues it; anything else shown first ends it. Nothing is buffered for it.
   */
  private open: { readonly id: string; readonly seq: number } | undefined
  /**
   * Each sender's line left open by the last part shown (`more`), and whether it is an action: its next
   * part goes on with it (`continues`), whatever was shown between them.
   */
  private readonly openLines = new Map<string, { readonly seq: number; readonly action: boolean }>()

  constructor(options: MessageDisplayOptions) {
    this.target = options.target
    this.policy = options.catchUp ?? (() => 'show')
    this.quietMs = options.quietMs ?? 300
    this.maxHoldMs = options.maxHoldMs ?? 3_000
    this.undecidedMs = options.undecidedMs ?? 1_000
    this.clockSlackMs = options.clockSlackMs ?? clockSlackFrom(process.env)
    this.now = options.now ?? Date.now
    this.schedule = options.schedule ?? ((callback, ms) => ({ cancel: unrefTimeout(callback, ms) }))
    this.defer = this.target.kind === 'lines' ? options.defer : undefined
    this.since = this.now()
    this.started = this.since
  }

  /**
   * Connects the display marks of a started node; what was shown before is recorded now. A node that
   * keeps no marks (`keepsMarks: false`) has its lines written in as few writes as they come in. Once a
   * mark cannot be written (`markShown` returns false, or the node's data dir failed: `failure`),
   * nothing more is shown: the next start shows it, once.
   */
  bind(
    started: {
      readonly markShown: (shown: ReadonlyMap<string, number>, insideLine?: boolean) => unknown
    } & Partial<Pick<StartedNode, 'keepsMarks' | 'failure' | 'intendShown' | 'firstRun' | 'leftInsideLine'>>,
  ): void {
    this.markShown = (shown, insideLine) => started.markShown(shown, insideLine)
    // The last run was killed inside a line on this same pipe: what is written first ends it.
    if (started.leftInsideLine && this.target.kind === 'lines' && this.open === undefined) {
      this.open = LEFT_OPEN
      this.insideLine = true
    }
    if (started.firstRun) this.joined = this.started
    const intend = started.intendShown
    if (intend) this.intendShown = (shown, text) => intend(shown, text)
    if (started.failure) this.failure = started.failure
    if (started.keepsMarks === false) this.chunkBytes = Number.POSITIVE_INFINITY
    if (this.target.kind === 'lines') this.commit()
    this.flushHeld(false)
  }

  /** Feed every node event: messages are shown, a link opening starts a new catch-up window. */
  push(event: NodeEvent): void {
    if (this.closed) return
    // Whatever the frontend prints for this event comes after the messages that came before it.
    if (event.type !== 'message' && event.type !== 'lines') this.flushLive()
    // A peer that leaves is told after what it sent: a backlog it brought is not held past its leaving.
    if (event.type === 'disconnected') this.flushHeld(true)
    if (event.type === 'connected') {
      this.since = Math.max(this.since, this.now())
      return
    }
    if (event.type === 'lines') {
      this.pushRun(event)
      return
    }
    if (event.type !== 'message') return
    const catchUp = event.replayed === true || event.ts < this.since - this.clockSlackMs
    const action = parseAction(event.body)
    // Built without spreading optional fields: this runs for every line a receiver prints.
    const message: { -readonly [K in keyof ShownMessage]: ShownMessage[K] } = {
      id: event.id,
      seq: event.seq,
      ts: event.ts,
      from: event.from,
      body: event.body,
      catchUp,
    }
    if (action !== undefined) message.action = action
    if (event.replayed) message.replayed = true
    if (event.more) message.more = true
    if (catchUp && !event.replayed) {
      if (event.ts >= this.started - this.clockSlackMs) message.heldUp = true
      else if (this.joined !== undefined) message.beforeJoining = true
    }
    if (catchUp) {
      // A message the last run received reached this node then; any other, now.
      this.hold(message, event.replayed ? event.at : this.now())
      return
    }
    this.flushHeld(true)
    if (!this.defer) {
      this.show([message])
      return
    }
    this.goLive(message)
  }

  /** A run of live lines is shown as one text (`formatRun`); anything else about it, line by line. */
  private pushRun(event: Extract<NodeEvent, { type: 'lines' }>): void {
    const target = this.target
    if (target.kind === 'frames' || !target.formatRun || event.ts < this.since - this.clockSlackMs) {
      for (const message of messagesOf(event)) this.push(message)
      return
    }
    this.flushHeld(true)
    const { from, firstSeq, idPrefix, ts, bodies, oneMessage, more } = event
    const run: ShownRun = oneMessage
      ? { from, firstSeq, idPrefix, ts, bodies, oneMessage, ...(more ? { more } : {}) }
      : { from, firstSeq, idPrefix, ts, bodies }
    if (!this.defer) this.show([run])
    else this.goLive(run)
  }

  private goLive(item: ShownMessage | ShownRun): void {
    this.live.push(item)
    if (this.live.length === 1) this.defer?.(() => this.flushLive())
  }

  /** Writes the live messages that wait for the deferred write, now. */
  flushLive(): void {
    if (this.live.length === 0) return
    const live = this.live
    this.live = []
    this.show(live)
  }

  /** A frame showing everything handed to `show` is on the screen: record it. */
  drawn(): void {
    this.commit()
  }

  /** Shows held catch-up now (as at the end of a session), unless it is hidden; a line left open is ended. */
  close(): void {
    this.flushLive()
    this.flushHeld(true)
    this.endOpenLine()
    this.timer?.cancel()
    this.timer = undefined
    this.closed = true
  }

  /**
   * Ends the line a part left open (its sender's next part never came): with a newline, nothing else. It
   * is no line of its own, and marks nothing.
   */
  endOpenLine(): void {
    if (this.open === undefined || this.target.kind !== 'lines') return
    this.open = undefined
    if (this.halted) return
    this.target.write('\n')
    this.insideLine = false
    // The marks said the output was left inside a line: no more.
    if (!this.target.gone?.()) this.markShown?.(new Map(), false)
  }

  private hold(message: ShownMessage, at: number | undefined): void {
    // Past the cap, what is held is shown before the next message, never between the lines of one: they
    // share one seq, hence one mark, which must not claim lines still held (a kill would lose them).
    const last = this.held.at(-1)
    if (this.held.length >= MAX_HELD && last && !isSameMessage(message, last)) this.flushHeld(true)
    if (this.held.length === 0) this.heldSince = this.now()
    this.held.push(message)
    this.heldAt.push(at)
    this.timer?.cancel()
    const wait = Math.min(this.quietMs, Math.max(0, this.heldSince + this.maxHoldMs - this.now()))
    this.timer = this.schedule(() => {
      this.timer = undefined
      this.flushHeld(false)
    }, wait)
  }

  /**
   * `force`: a live message or the end is here, so catch-up cannot wait for the policy any longer. Nor
   * does it wait past `undecidedMs`: input that has said nothing by then is not a one-shot send.
   */
  private flushHeld(force: boolean): void {
    if (this.held.length === 0) return
    // Lines written before their marks can be would all show again after a kill: wait for `bind`.
    if (this.target.kind === 'lines' && !this.markShown && !this.closed) return
    let policy = this.policy()
    if (policy === 'undecided' && (force || this.now() - this.heldSince >= this.undecidedMs)) policy = 'show'
    if (policy === 'undecided') {
      this.timer = this.schedule(() => {
        this.timer = undefined
        this.flushHeld(false)
      }, this.quietMs)
      return
    }
    this.timer?.cancel()
    this.timer = undefined
    const held = this.held
    const heldAt = this.heldAt
    this.held = []
    this.heldAt = []
    // Live messages that came before this catch-up was let out go first, as they would have unbatched.
    this.flushLive()
    // Not shown is not marked: the next run that shows catch-up shows these.
    if (policy === 'hide') return
    this.show(inTimeOrder(held, heldAt), held.length)
  }

  private show(items: readonly (ShownMessage | ShownRun)[], catchUp?: number): void {
    if (this.failure() !== undefined) this.halt()
    if (this.halted) return
    const target = this.target
    if (target.kind === 'frames') {
      // Runs reach a frame target as messages (see `pushRun`).
      const messages = (items as readonly ShownMessage[]).map((m) => this.partOf(m))
      target.show(messages, catchUp)
      for (const m of messages) this.note(m)
      return
    }
    if (catchUp !== undefined) target.catchUp(catchUp, catchUpKinds(items as readonly ShownMessage[]))
    // Each piece is a message's text with its newline, but for a part whose line goes on (`lineOf`).
    let chunk: string[] = []
    let bytes = 0
    for (let i = 0; i < items.length; i++) {
      const m = items[i] as ShownMessage | ShownRun
      if ('bodies' in m) {
        if (chunk.length > 0) {
          this.writeLines(target, chunk.join(''))
          if (this.halted) return
          chunk = []
          bytes = 0
        }
        // A run that starts or ends an open line is shown line by line, which knows how.
        const text =
          this.open === undefined && !m.more && !this.openLines.has(m.from.id)
            ? target.formatRun?.(m)
            : undefined
        if (text !== undefined) this.writeRun(target, m, text)
        else this.show(runMessages(m))
        if (this.halted) return
        continue
      }
      // The lines of one message (`msg.lines`) share its seq, hence its mark: they go into one write, so a
      // mark never claims a line that was not written.
      let end = i + 1
      while (end < items.length && isSameMessage(items[end] as ShownMessage | ShownRun, m)) end++
      let texts: string[] | string = this.lineOf(target, m)
      let size = Buffer.byteLength(texts)
      if (end > i + 1) {
        texts = [texts]
        for (let j = i + 1; j < end; j++) {
          const text = this.lineOf(target, items[j] as ShownMessage)
          texts.push(text)
          size += Buffer.byteLength(text)
        }
      }
      if (bytes + size > this.chunkBytes && chunk.length > 0) {
        this.writeLines(target, chunk.join(''))
        if (this.halted) return
        chunk = []
        bytes = 0
      }
      if (typeof texts === 'string') chunk.push(texts)
      else for (const text of texts) chunk.push(text)
      bytes += size
      this.note(items[end - 1] as ShownMessage)
      i = end - 1
    }
    if (chunk.length > 0) this.writeLines(target, chunk.join(''))
  }

  /**
   * `message` as written: formatted, then its newline. A part whose line goes on (`more`) is written
   * without it, when the target can continue a line (`continued`), and its sender's next message continues
   * that line; anything else ends the open line first, so no line holds two senders' text.
   */
  private lineOf(target: LineTarget, shown: ShownMessage): string {
    const message = this.partOf(shown)
    const open = this.open
    const continues =
      open !== undefined && open.id === message.from.id && message.seq === open.seq + 1 && target.continued
    const text = continues
      ? (target.continued as (message: ShownMessage) => string)(message)
      : `${open === undefined ? '' : '\n'}${target.format(message)}`
    if (message.more && target.continued) {
      this.open = { id: message.from.id, seq: message.seq }
      return text
    }
    this.open = undefined
    return `${text}\n`
  }

  /**
   * `message` as a part of its sender's line: one that goes on with the line the part before it left open
   * says so (`continues`), and is an action's text when that line is an action's (its own body has no
   * `/me` framing), never one of its own.
   */
  private partOf(message: ShownMessage): ShownMessage {
    const lines = this.openLines
    if (lines.size === 0 && !message.more) return message
    const id = message.from.id
    const line = lines.get(id)
    lines.delete(id)
    let part = message
    if (line !== undefined && message.seq === line.seq + 1) {
      const { action: _, ...rest } = message
      part = line.action
        ? { ...rest, continues: true, action: actionPartText(message.body, !message.more) }
        : { ...rest, continues: true }
    }
    if (message.more) {
      lines.set(id, { seq: message.seq, action: part.action !== undefined })
      if (lines.size > MAX_OPEN_LINES) lines.delete(lines.keys().next().value as string)
    }
    return part
  }

  /**
   * Writes lines whose marks wait in `unmarked`, announced first when the node asks for it (a file as
   * output: a kill between the write and its mark then shows nothing again), then records them as shown.
   */
  private writeLines(target: LineTarget, text: string): void {
    if (this.intendShown && this.unmarked.size > 0 && this.intendShown(this.unmarked, text) === false) {
      this.halt()
      return
    }
    target.write(text)
    this.insideLine = !text.endsWith('\n')
    this.commit()
  }

  /**
   * Writes a run's text (a line per body) in pieces of whole lines, each at most `chunkBytes` unless one
   * line alone is longer, and records each piece as shown once it is written, as `show` does.
   */
  private writeRun(target: LineTarget, run: ShownRun, text: string): void {
    const all = `${text}\n`
    // The lines of one message share one mark: written at once, like a long line (they are a few KB).
    if (this.chunkBytes === Number.POSITIVE_INFINITY || run.oneMessage) {
      this.noteSeq(run.from.id, run.oneMessage ? run.firstSeq : run.firstSeq + run.bodies.length - 1)
      this.writeLines(target, all)
      return
    }
    let start = 0
    let seq = run.firstSeq - 1
    let budget = LINE_CHUNK_BYTES
    while (start < all.length) {
      let end = start
      let lines = 0
      // Whole lines while they fit in the budget, counted in UTF-16 units: one at least.
      do {
        const next = all.indexOf('\n', end) + 1
        if (lines > 0 && next - start > budget) break
        end = next
        lines++
      } while (end < all.length)
      const piece = all.slice(start, end)
      const size = Buffer.byteLength(piece)
      // A unit of text outside ASCII takes more than a byte: cut again with a budget cut to match.
      if (size > LINE_CHUNK_BYTES && lines > 1) {
        budget = Math.max(1, Math.floor((budget * LINE_CHUNK_BYTES) / size) - 1)
        continue
      }
      seq += lines
      this.noteSeq(run.from.id, seq)
      this.writeLines(target, piece)
      if (this.halted) return
      start = end
      budget = LINE_CHUNK_BYTES
    }
  }

  private note(message: ShownMessage): void {
    this.noteSeq(message.from.id, message.seq)
  }

  private noteSeq(id: string, seq: number): void {
    this.unmarked.set(id, Math.max(this.unmarked.get(id) ?? 0, seq))
  }

  private commit(): void {
    if (!this.markShown || this.unmarked.size === 0) return
    // Text the output refused reached nobody: unmarked, it is shown again by the next run.
    if (this.target.kind === 'lines' && this.target.gone?.()) {
      this.unmarked.clear()
      return
    }
    const marks = this.unmarked
    this.unmarked = new Map()
    if (this.markShown(marks, this.insideLine) === false) this.halt()
  }

  /** Shows nothing more: what is held or waits is left for the next start, which shows it. */
  private halt(): void {
    this.halted = true
    this.held = []
    this.heldAt = []
    this.live = []
    this.unmarked.clear()
    this.timer?.cancel()
    this.timer = undefined
  }
}

/**
 * Catch-up in time order across senders, as the history has it (`TimePlacement`): each sender's messages
 * in its own order (seq; one filled into a gap late goes back in its place), a line placed by the time its
 * sender gave but no later than it arrived (`heldAt`), nor before the sender's line before it. One stable
 * sort: comparing two senders' times message by message orders nothing consistently once one dates its
 * lines back and forth, and showed another member's lines out of their order.
 */
function inTimeOrder(held: readonly ShownMessage[], heldAt: readonly (number | undefined)[]): ShownMessage[] {
  const bySender = new Map<string, number[]>()
  for (let i = 0; i < held.length; i++) {
    const id = (held[i] as ShownMessage).from.id
    const own = bySender.get(id)
    if (own) own.push(i)
    else bySender.set(id, [i])
  }
  // Each sender's messages, in its order, take the places its messages came in.
  const placed = new Array<number>(held.length)
  for (const own of bySender.values()) {
    const bySeq = [...own].sort(
      (a, b) => (held[a] as ShownMessage).seq - (held[b] as ShownMessage).seq || a - b,
    )
    own.forEach((slot, k) => {
      placed[slot] = bySeq[k] as number
    })
  }
  const placement = new TimePlacement()
  const keys = placed.map((i) => {
    const m = held[i] as ShownMessage
    return placement.place(m.from.id, m.ts, heldAt[i])
  })
  const order = placed.map((_, slot) => slot)
  order.sort((a, b) => (keys[a] as number) - (keys[b] as number) || a - b)
  return order.map((slot) => held[placed[slot] as number] as ShownMessage)
}

/** `item` is another line of `message`'s (the same sender and seq: lines carried in one `msg`). */
function isSameMessage(item: ShownMessage | ShownRun, message: ShownMessage): boolean {
  return !('bodies' in item) && item.seq === message.seq && item.from.id === message.from.id
}

/** A live run as the messages it holds, for a target that formats them one by one. */
function runMessages(run: ShownRun): ShownMessage[] {
  const last = run.bodies.length - 1
  return run.bodies.map((body, i) => {
    const message: { -readonly [K in keyof ShownMessage]: ShownMessage[K] } = {
      id: run.oneMessage ? lineId(run.idPrefix, i) : `${run.idPrefix}${run.firstSeq + i}`,
      seq: run.oneMessage ? run.firstSeq : run.firstSeq + i,
      ts: run.ts,
      from: run.from,
      body,
      catchUp: false,
    }
    const action = parseAction(body)
    if (action !== undefined) message.action = action
    if (run.more && i === last) message.more = true
    return message
  })
}

/**
 * A line target on a stream (stdout): the stream is switched to blocking writes, because on Linux Node
 * writes to a pipe asynchronously, and a line counted as shown could still sit in this process when it
 * dies. Blocking, every write is in the kernel when it returns, before its display mark is written.
 */
export function streamLines(
  stream: NodeJS.WritableStream,
  format: (message: ShownMessage) => string,
  catchUp: (count: number, kinds: CatchUpKinds) => void,
): LineTarget {
  ;(stream as unknown as { _handle?: { setBlocking?: (on: boolean) => void } })._handle?.setBlocking?.(true)
  // A blocking write that fails (EPIPE) sets `errored` before it returns, so before its mark is written.
  const gone = () => Boolean((stream as { errored?: Error | null }).errored)
  const file = regularFileOf(stream)
  if (file === undefined)
    return { kind: 'lines', format, write: (text) => void stream.write(text), catchUp, gone }
  // A line the last run left open (it was killed between two parts of a long line) is ended first: what
  // this run shows starts a line of its own, not the rest of that one under another prefix.
  if (endsInsideLine(file)) {
    try {
      writeAll(file, '\n')
    } catch {
      // Its first write fails the same way, and says so.
    }
  }
  // Node.js writes a regular file with one system call and counts it whole even when the kernel took
  // less (a full disk, a file size limit): the lines it lost would be marked as shown. Here a write goes
  // to its end, or fails the stream (`gone`), and what it held is shown again by the next run.
  // Node's stream on a file (SyncWriteStream) keeps `errored` unset when destroyed: the failure is kept here.
  let failed = false
  const write = (text: string) => {
    if (failed || gone()) return
    try {
      writeAll(file, text)
    } catch (error) {
      failed = true
      // The frontend hears of it as of any failed write of its stdout (an `error` event).
      ;(stream as unknown as { destroy(error: Error): void }).destroy(error as Error)
    }
  }
  return { kind: 'lines', format, write, catchUp, gone: () => failed || gone() }
}

/** The descriptor of a stream on a regular file (stdout redirected to one), else undefined. */
function regularFileOf(stream: NodeJS.WritableStream): number | undefined {
  const fd = (stream as { fd?: unknown }).fd
  if (typeof fd !== 'number') return undefined
  try {
    return fstatSync(fd).isFile() ? fd : undefined
  } catch {
    return undefined
  }
}

/** Writes all of `text`, however many system calls it takes; throws what the one that fails throws. */
function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text)
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done)
}
