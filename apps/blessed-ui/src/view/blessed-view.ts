import { appendFileSync } from 'node:fs'
import { PerformanceObserver } from 'node:perf_hooks'
import { PassThrough } from 'node:stream'
import blessed from 'blessed'
import type { ChatModel } from '../model/chat.js'
import type { GraphemeWidth } from '../text/width.js'
import { type BlessedUnicode, StandIns, terminalWrites } from './stand-ins.js'
import { rowContent } from './styles.js'
import { ENTER_MODES, RESTORE_MODES } from './terminal.js'

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
  enter(): void
  leave(): void
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
  /** The terminal is given back for a while (Ctrl-Z): nothing is drawn. */
  private suspended = false
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
      if (this.trace) {
        const [cols, rows] = this.stdout.getWindowSize()
        appendFileSync(
          this.trace,
          `${Date.now()} resize ${this.screen.width}x${this.screen.height} ${cols}x${rows}\n`,
        )
      }
      this.contents.clear()
      this.renderNow()
    })
    stdout.write(ENTER_MODES)
  }

  /** Asks for a frame: every change within one frame interval is drawn by a single render. */
  schedule(): void {
    if (this.destroyed || this.suspended || this.timer) return
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
    if (this.destroyed || this.suspended) return
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
    if (this.destroyed || this.suspended) return
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

  /**
   * Gives the terminal back as it was before parley-tui (normal screen, cursor shown, modes off) and draws
   * nothing until the returned function is called, which takes the screen again and draws it whole.
   */
  suspend(): () => void {
    if (this.destroyed || this.suspended) return () => undefined
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.screen.leave()
    this.stdout.write(RESTORE_MODES)
    this.suspended = true
    return () => {
      if (!this.suspended || this.destroyed) return
      this.suspended = false
      this.stdout.write(ENTER_MODES)
      this.screen.enter()
      this.refreshSize()
      this.redraw()
    }
  }

  /**
   * Reads the terminal's size again, and tells blessed when it changed: a window resized while the process
   * was stopped (Ctrl-Z) sent its SIGWINCH to the shell in the foreground then, never to this process, and
   * `getWindowSize()` only gives back the size Node.js last read.
   */
  private refreshSize(): void {
    // What Node.js runs on SIGWINCH: the size read from the terminal, and `resize` (which blessed follows)
    // when it changed. Where it is missing, the signal itself, which runs it a moment later.
    const tty = this.stdout as NodeJS.WriteStream & { _refreshSize?: () => void }
    if (typeof tty._refreshSize === 'function') tty._refreshSize()
    else if (process.platform !== 'win32') process.kill(process.pid, 'SIGWINCH')
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
