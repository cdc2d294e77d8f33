import { appendFileSync } from 'node:fs'
import { PerformanceObserver } from 'node:perf_hooks'
import { PassThrough } from 'node:stream'
import type { NodeEvent } from '@parley/core'
import {
  DropDigest,
  describeEvent,
  type Flags,
  FlowSummary,
  type LinkRoute,
  logFileOf,
  MessageDisplay,
  splitBody,
} from '@parley/launcher'
import blessed from 'blessed'
import { KeyDecoder, type KeyEvent } from '../input/key-decoder.js'
import { ChatModel, type Effect } from '../model/chat.js'
import type { NodeThread } from '../node-thread/node-thread.js'
import { type GraphemeWidth, graphemeWidth } from '../text/width.js'
import { probeWidths } from './probe.js'
import { type BlessedUnicode, StandIns, terminalWrites } from './stand-ins.js'
import { rowContent } from './styles.js'
import { ENTER_MODES, onRestore, RESTORE_MODES } from './terminal.js'

export interface TuiIo {
  readonly stdin: NodeJS.ReadStream
  readonly stdout: NodeJS.WriteStream
  /** Where the last words go once the screen is given back (undelivered messages). */
  readonly stderr: NodeJS.WritableStream
  readonly env: NodeJS.ProcessEnv
  /** Resolves when the process is asked to stop (SIGTERM, SIGHUP, SIGINT). */
  readonly interrupted: Promise<void>
}

/** At most this many frames a second: a flood of messages costs one layout per frame, not one per message. */
const FRAME_MS = 33
/**
 * While frames take long (a flood on a loaded machine), they are spaced to three times what one takes, so
 * drawing leaves the process free two thirds of the time for keys and the network; never more than this apart.
 */
const FRAME_COST_SHARE = 3
const SLOWEST_FRAME_MS = 200
/**
 * In a flood (a frame had more new messages than the pane has rows, so nothing could be read anyway), frames
 * come at most this often: each one leaves the process to keys and the network for longer.
 */
const FLOOD_FRAME_MS = 100
/** How long a lone ESC waits to become the start of a key sequence. */
const ESC_WAIT_MS = 30

interface Box {
  setContent(text: string, noClear?: boolean): void
  render(): void
  top: number | string
  left: number | string
  width: number | string
  height: number | string
  show(): void
  hide(): void
}

interface ProgramLike {
  _owrite(text: string): unknown
  write(text: string): unknown
  flush(): void
  cup(row: number, col: number): void
  showCursor(): void
  bell(): void
}

interface ScreenLike {
  readonly width: number
  readonly height: number
  render(): void
  draw(start: number, end: number): void
  realloc(): void
  destroy(): void
  on(event: string, listener: () => void): void
}

/**
 * The blessed side: one-purpose boxes (messages, the member panel, status, input) that receive only the
 * rows on screen, already laid out by the model and mapped to stand-ins. Renders are batched to one per frame.
 */
export class BlessedView {
  private readonly screen: ScreenLike
  private readonly program: ProgramLike
  private readonly messages: Box
  private readonly panel: Box
  private readonly statusBar: Box
  private readonly inputBar: Box
  private readonly standIns: StandIns
  private timer: NodeJS.Timeout | undefined
  private lastRender = 0
  /** What a full frame takes, smoothed over the last few (ms). */
  private frameCost = 0
  /** The last full frame had more new messages than the screen has rows. */
  private flooding = false
  private destroyed = false
  private readonly trace: string | undefined
  /** Messages received as of the last full frame (an input-line frame draws no new ones): for the trace, and to tell a flood. */
  private receivedShown = 0
  /** When the newest message reached the view (traced only), and its value as of the last full frame. */
  private arrivedAt = 0
  private arrivedShown = 0
  private gcObserver: PerformanceObserver | undefined
  private lastCursor = 0
  /** What each box was last given, while the boxes stay where they are. */
  private readonly contents = new Map<Box, string>()
  /** The screen size and panel width the boxes were last placed for. */
  private placed = { width: 0, height: 0, panelWidth: -1 }

  constructor(
    private readonly model: ChatModel,
    width: GraphemeWidth,
    private readonly stdout: NodeJS.WriteStream,
    env: NodeJS.ProcessEnv,
    /** Called once a full frame, with every message received so far, has been written to the terminal. */
    private readonly drawn: () => void,
  ) {
    this.trace = env.PARLEY_TUI_TRACE || undefined
    if (this.trace) {
      const trace = this.trace
      appendFileSync(trace, `${Date.now()} start ${process.pid} ${process.hrtime.bigint() / 1000n}\n`)
      // Garbage collection pauses the event loop like any task: the benchmark reports them beside key echo.
      this.gcObserver = new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) {
          const kind = (entry as { detail?: { kind?: number } }).detail?.kind ?? 0
          appendFileSync(trace, `${Date.now()} gc ${entry.duration.toFixed(1)} ${kind}\n`)
        }
      })
      this.gcObserver.observe({ entryTypes: ['gc'] })
    }
    const unicode = (blessed as unknown as { unicode: BlessedUnicode }).unicode
    this.standIns = new StandIns(width, unicode)
    // blessed never reads the keyboard: the KeyDecoder does, so pastes, focus and wheel events are ours.
    const program = blessed.program({
      input: new PassThrough(),
      output: stdout,
      buffer: true,
      zero: true,
      tput: true,
      forceUnicode: true,
    } as never) as unknown as ProgramLike
    program._owrite = program.write = (text: string) => this.write(text)
    this.program = program
    this.screen = blessed.screen({
      program,
      fullUnicode: true,
      forceUnicode: true,
      autoPadding: false,
      warnings: false,
      smartCSR: false,
      title: 'parley',
    } as never) as unknown as ScreenLike
    // Box-drawing characters go out as UTF-8, not through the VT100 alternate character set.
    ;(this.screen as unknown as { tput: { brokenACS: boolean } }).tput.brokenACS = true
    const box = (top: number | string, height: number | string) =>
      blessed.box({
        parent: this.screen,
        top,
        left: 0,
        width: '100%',
        height,
        tags: false,
        wrap: false,
      } as never) as unknown as Box
    this.messages = box(0, '100%-2')
    this.panel = box(0, '100%-2')
    this.panel.hide()
    this.statusBar = box('100%-2', 1)
    this.inputBar = box('100%-1', 1)
    this.screen.on('resize', () => {
      this.contents.clear()
      this.renderNow()
    })
    stdout.write(ENTER_MODES)
  }

  /** Asks for a frame: every change within one frame interval is drawn by a single render. */
  schedule(): void {
    if (this.destroyed || this.timer) return
    const least = this.flooding ? FLOOD_FRAME_MS : FRAME_MS
    const interval = Math.min(SLOWEST_FRAME_MS, Math.max(least, FRAME_COST_SHARE * this.frameCost))
    const wait = Math.max(0, interval - (Date.now() - this.lastRender))
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.renderNow()
    }, wait)
  }

  /** Draws the whole screen now; a scheduled frame is no longer needed. */
  renderNow(): void {
    if (this.destroyed) return
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    const started = performance.now()
    this.lastRender = Date.now()
    const generation = this.standIns.generation
    this.fill()
    if (this.standIns.generation !== generation) {
      // The stand-in pools ran out mid-frame: every cell must be drawn again with the new mapping.
      this.screen.realloc()
      this.contents.clear()
      this.fill()
    }
    this.flooding = this.model.received - this.receivedShown > this.screen.height
    this.receivedShown = this.model.received
    this.arrivedShown = this.arrivedAt
    this.draw('full', started)
    this.frameCost = 0.7 * this.frameCost + 0.3 * (performance.now() - started)
    this.drawn()
  }

  /**
   * Draws the input line now and nothing else, so a key is echoed at once without laying out the messages
   * that a flood brought since the last frame; those keep their scheduled frame.
   */
  renderInput(): void {
    if (this.destroyed) return
    const started = performance.now()
    const generation = this.standIns.generation
    const { row: input, cursor } = this.model.inputLine(this.screen.width)
    this.setContent(
      this.inputBar,
      rowContent(input, (text) => this.standIns.encode(text)),
    )
    if (this.standIns.generation !== generation) {
      // New stand-ins for the typed text changed the mapping: the rest of the screen must be drawn with it.
      this.redraw()
      return
    }
    this.lastCursor = cursor
    // Only the input row changed: lay out that box and write out that row, not the whole screen.
    this.inputBar.render()
    const row = this.screen.height - 1
    this.screen.draw(row, row)
    this.place('input', started)
  }

  redraw(): void {
    this.screen.realloc()
    this.contents.clear()
    this.renderNow()
  }

  /** Notes in the trace file (PARLEY_TUI_TRACE) when input arrived, for the flood benchmark. */
  traceInput(): void {
    if (this.trace) appendFileSync(this.trace, `${Date.now()} input\n`)
  }

  /** Messages were handed to the model: the trace gives each frame the arrival time of its newest one. */
  traceArrival(): void {
    if (this.trace) this.arrivedAt = Date.now()
  }

  bell(): void {
    this.program.bell()
  }

  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    if (this.timer) clearTimeout(this.timer)
    this.gcObserver?.disconnect()
    this.screen.destroy()
    this.stdout.write(RESTORE_MODES)
  }

  /**
   * Writes out what changed on the blessed screen and puts the cursor in the input line. The trace line is
   * `<ms> render <full|input> <messages received> <newest one's arrival ms> <ms the frame took> <input JSON>`.
   */
  private draw(kind: 'full' | 'input', started: number): void {
    this.screen.render()
    this.place(kind, started)
  }

  /** Puts the cursor in the input line and sends what was drawn to the terminal. */
  private place(kind: 'full' | 'input', started: number): void {
    this.program.cup(this.screen.height - 1, this.lastCursor)
    this.program.showCursor()
    this.program.flush()
    if (this.trace) {
      const took = (performance.now() - started).toFixed(1)
      appendFileSync(
        this.trace,
        `${Date.now()} render ${kind} ${this.receivedShown} ${this.arrivedShown} ${took} ${JSON.stringify(this.model.input.text)}\n`,
      )
    }
  }

  private fill(): void {
    const frame = this.model.frame(this.screen.width, this.screen.height)
    const encode = (text: string) => this.standIns.encode(text)
    this.placeBoxes(frame.panel?.width ?? 0)
    if (frame.panel) {
      this.setContent(this.panel, frame.panel.rows.map((row) => rowContent(row, encode)).join('\n'))
      this.panel.show()
    } else {
      this.panel.hide()
    }
    this.setContent(this.messages, frame.messages.map((row) => rowContent(row, encode)).join('\n'))
    this.setContent(this.statusBar, rowContent(frame.status, encode))
    this.setContent(this.inputBar, rowContent(frame.input, encode))
    this.lastCursor = frame.cursor
  }

  /**
   * Puts the boxes in place for this screen size, in cells: blessed parses a position such as '100%-2' again
   * each time it reads it, several times a box in every frame.
   */
  private placeBoxes(panelWidth: number): void {
    const { width, height } = this.screen
    if (width === this.placed.width && height === this.placed.height && panelWidth === this.placed.panelWidth)
      return
    this.placed = { width, height, panelWidth }
    // The boxes move: what they covered before must be cleared, so their content is set again.
    this.contents.clear()
    const pane = Math.max(1, height - 2)
    this.messages.width = Math.max(1, width - panelWidth)
    this.messages.height = pane
    this.panel.left = Math.max(0, width - panelWidth)
    this.panel.width = Math.max(1, panelWidth)
    this.panel.height = pane
    this.statusBar.top = Math.max(0, height - 2)
    this.statusBar.width = width
    this.inputBar.top = Math.max(0, height - 1)
    this.inputBar.width = width
  }

  /**
   * Gives a box new content, and none when it has it already (blessed would parse it again). A box that
   * stays in place is not cleared first: it covers every cell of its area when it renders.
   */
  private setContent(box: Box, content: string): void {
    const last = this.contents.get(box)
    if (last === content) return
    box.setContent(content, last !== undefined)
    this.contents.set(box, content)
  }

  private write(text: string): boolean {
    if (!text) return true
    for (const piece of terminalWrites(text, this.standIns)) this.stdout.write(piece)
    return true
  }
}

/**
 * Runs the full-screen chat on a started node until /quit, Ctrl-C or a signal; resolves with the exit code.
 * `subscribe` hands node events (including those from before the screen existed) to the screen. The node
 * runs on a thread of its own (`NodeThread`): this thread reads keys and draws, and a flood's decoding never
 * stands between a key and its echo.
 */
export async function runTui(
  node: NodeThread,
  flags: Flags,
  io: TuiIo,
  subscribe: (handler: (event: NodeEvent, route?: LinkRoute) => void) => void,
): Promise<number> {
  const { stdin, stdout } = io
  const { info } = node
  stdin.setRawMode(true)
  stdin.setEncoding('utf8')
  stdin.resume()
  const removeRawRestore = onRestore(() => {
    if (stdin.isTTY) stdin.setRawMode(false)
  })
  const probe = await probeWidths(stdin, stdout)
  const width = graphemeWidth(probe.widths)
  const model = new ChatModel({ self: { id: info.id, name: info.name }, width, secure: info.secure })
  if (!info.secure) {
    model.note(
      'PLAIN MODE: nothing is encrypted or authenticated; anyone on the path can read and forge messages',
      'warn',
    )
  } else if (info.fingerprint) {
    model.note(`you are ${info.name} [${info.fingerprint.short}] (full fingerprint: parley id)`)
  }
  for (const text of info.notes) model.note(text)
  model.showHistory(info.history)
  model.setUndelivered(node.pending)

  // Messages reach the model through the launcher's display, which orders catch-up and records what a
  // drawn frame has shown.
  let scheduleFrame: () => void = () => undefined
  let performLater: (effects: readonly Effect[]) => void = () => undefined
  const display = new MessageDisplay({
    target: {
      kind: 'frames',
      show: (messages, catchUp) => {
        performLater(model.showMessages(messages, catchUp))
        scheduleFrame()
      },
    },
  })
  display.bind({ markShown: (shown) => node.markShown(shown) })
  const view = new BlessedView(model, width, stdout, io.env, () => display.drawn())
  scheduleFrame = () => {
    view.traceArrival()
    view.schedule()
  }
  const removeViewRestore = onRestore(() => view.destroy())

  let quitRequests = 0
  let quitNow: () => void = () => undefined
  const quitRequested = new Promise<void>((resolve) => {
    quitNow = resolve
  })
  let secondQuit: () => void = () => undefined
  const secondQuitRequested = new Promise<void>((resolve) => {
    secondQuit = resolve
  })
  const requestQuit = () => {
    quitRequests++
    if (quitRequests === 1) quitNow()
    else secondQuit()
  }

  const perform = (effects: readonly Effect[]) => {
    for (const effect of effects) {
      switch (effect.type) {
        case 'send': {
          let bodies: string[]
          try {
            bodies = splitBody(effect.body)
          } catch (error) {
            model.note(`not sent: ${error instanceof Error ? error.message : String(error)}`, 'warn')
            break
          }
          void node.send(bodies).then((line) => {
            if (line) model.note(line.text, line.level)
            model.setUndelivered(node.pending)
            view.schedule()
          }, ignoreFailure)
          break
        }
        case 'rename':
          node.rename(effect.name)
          break
        case 'connect':
          void node
            .connect(effect.address, { dht: flags.dht !== undefined, plain: flags.plain })
            .then((line) => {
              if (line) model.note(line.text, line.level)
              view.schedule()
            }, ignoreFailure)
          break
        case 'members':
          model.setMembers(node.members())
          // The list as of now, not as of the last connection: a relayed member may have been seen since.
          void node.refreshMembers().then((members) => {
            model.setMembers(members)
            if (effect.list) model.listMembers()
            view.schedule()
          }, ignoreFailure)
          break
        case 'quit':
          requestQuit()
          break
        case 'bell':
          view.bell()
          break
        case 'redraw':
          view.redraw()
          break
        default: {
          const _exhaustive: never = effect
          return _exhaustive
        }
      }
    }
  }

  let subscribed = true
  // Under attack every dropped connection would be a line: a few per window, then one summary.
  const logFile = logFileOf(flags)
  const drops = new DropDigest(
    (line) => {
      model.note(line.text, line.level)
      view.schedule()
    },
    logFile ? { log: logFile } : {},
  )
  // Throttling and a peer not reading: one summary line every few seconds at most.
  const flow = new FlowSummary(
    (line) => {
      model.note(line.text, line.level)
      view.schedule()
    },
    { pending: () => node.pending },
  )
  performLater = perform
  subscribe((event, route) => {
    if (!subscribed) return
    if (event.type === 'link-error') {
      const drop = describeEvent(event)
      if (drop) drops.push(drop)
      return
    }
    display.push(event)
    if (event.type === 'message') return
    if (FlowSummary.handles(event)) {
      flow.push(event)
      return
    }
    const effects = model.nodeEvent(event, route)
    if (event.type === 'delivered') model.setUndelivered(node.pending)
    // The member panel follows joins and leaves as they happen.
    if (event.type === 'connected' || event.type === 'disconnected' || event.type === 'member')
      model.setMembers(node.members())
    perform(effects)
    view.schedule()
  })

  // Keys are drawn at once, never left for the next frame: only the input line when that is all they
  // changed (typing during a flood), the whole screen when they changed more (Enter, scrolling, F2).
  const onKeyEvents = (keys: readonly KeyEvent[]) => {
    if (keys.length === 0) return
    const revision = model.revision
    for (const key of keys) perform(model.key(key))
    if (model.revision === revision) view.renderInput()
    else view.renderNow()
  }
  const decoder = new KeyDecoder()
  let escTimer: NodeJS.Timeout | undefined
  const onKeys = (chunk: string) => {
    view.traceInput()
    if (escTimer) clearTimeout(escTimer)
    onKeyEvents(decoder.push(chunk))
    if (decoder.hasPending) escTimer = setTimeout(() => onKeyEvents(decoder.flush()), ESC_WAIT_MS)
  }
  stdin.on('data', onKeys)
  if (probe.leftover) onKeys(probe.leftover)
  view.renderNow()

  // A failed node thread rejects `node.failed`: the error ends the TUI like any fatal one.
  await Promise.race([quitRequested, io.interrupted, node.failed])
  if (node.pending > 0 && flags.waitMs > 0) {
    model.note(
      `waiting for ${node.pending} message(s) to be acknowledged, up to ${flags.waitMs / 1000}s without progress (Ctrl-C again to leave now; they stay safe in the outbox)`,
    )
    view.renderNow()
    await node.drain(flags.waitMs, secondQuitRequested)
  }
  const left = node.pending
  stdin.removeListener('data', onKeys)
  if (escTimer) clearTimeout(escTimer)
  subscribed = false
  flow.close()
  display.close()
  await Promise.race([node.close('quit'), node.failed])
  removeViewRestore()
  view.destroy()
  removeRawRestore()
  if (stdin.isTTY) stdin.setRawMode(false)
  stdin.pause()
  // After the screen is gone, so it stays on the terminal, as the line-mode CLI says it.
  if (left > 0) io.stderr.write(`parley-tui: ${undeliveredNote(left, info.dataDir)}\n`)
  return 0
}

/** What became of messages no peer acknowledged before the TUI closed. */
function undeliveredNote(left: number, dataDir: string | undefined): string {
  if (dataDir)
    return `${left} message(s) not acknowledged yet are safe in the outbox (${dataDir}); they are sent when parley next runs with this --data-dir`
  return `${left} message(s) were not delivered: no peer acknowledged them (plain mode keeps nothing)`
}

/** A request's answer lost to a failed node thread: that failure ends the TUI through `node.failed`. */
function ignoreFailure(): void {}
