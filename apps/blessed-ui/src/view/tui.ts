import type { NodeEvent } from '@parley/core'
import {
  clockSlackFrom,
  countText,
  DropDigest,
  describeEvent,
  ExitCode,
  type Flags,
  FlowSummary,
  isMemberNews,
  type LinkRoute,
  logFileOf,
  MessageDisplay,
  memberNewsDigest,
  RefusalWatch,
  stopAsJob,
} from '@parley/launcher'
import { KeyDecoder, type KeyEvent } from '../input/key-decoder.js'
import { ChatModel, type Effect } from '../model/chat.js'
import type { NodeThread } from '../node-thread/node-thread.js'
import { EMOJI_SAMPLES, graphemeWidth, rulesFromProbe } from '../text/width.js'
import { BlessedView } from './blessed-view.js'
import { type PreparedTerminal, prepareTerminal } from './prepare.js'
import { onRestore } from './terminal.js'

/** How long a lone ESC waits to become the start of a key sequence. */
const ESC_WAIT_MS = 30
/** After the first frame, the emoji width tables are compiled (30-50 ms) while the user reads the screen. */
const WARM_WIDTHS_MS = 200

export interface TuiIo {
  readonly stdin: NodeJS.ReadStream
  readonly stdout: NodeJS.WriteStream
  /** Where the last words go once the screen is given back (undelivered messages). */
  readonly stderr: NodeJS.WritableStream
  readonly env: NodeJS.ProcessEnv
  /** Resolves when the process is asked to stop (SIGTERM, SIGHUP, SIGINT). */
  readonly interrupted: Promise<void>
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
  terminal: PreparedTerminal = prepareTerminal(io),
): Promise<number> {
  const { stdin, stdout } = io
  const { info } = node
  const probe = await terminal.probe
  stdin.setRawMode(true)
  const removeRawRestore = onRestore(() => {
    if (stdin.isTTY) stdin.setRawMode(false)
  })
  const width = graphemeWidth(rulesFromProbe(probe.widths))
  const model = new ChatModel({
    self: { id: info.id, name: info.name },
    width,
    secure: info.secure,
    clockSlackMs: clockSlackFrom(process.env),
    ...(flags.dht?.bootstrap ? { bootstrap: flags.dht.bootstrap } : {}),
  })
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
  display.bind({ markShown: (shown) => node.markShown(shown), firstRun: info.firstRun === true })
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
  // What peers are told this node left with: `/quit REASON`, else "quit".
  let quitReason = 'quit'
  const requestQuit = (reason?: string) => {
    if (reason !== undefined && quitRequests === 0) quitReason = reason
    quitRequests++
    if (quitRequests === 1) quitNow()
    else secondQuit()
  }

  const perform = (effects: readonly Effect[]) => {
    for (const effect of effects) {
      switch (effect.type) {
        case 'send':
          void node.send(effect.bodies, effect.goOn).then((line) => {
            if (line) model.note(line.text, line.level)
            model.setUndelivered(node.pending)
            view.schedule()
          }, ignoreFailure)
          break
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
        case 'disconnect':
          void node.disconnect(effect.address).then((line) => {
            if (line) model.note(line.text, line.level)
            model.setUndelivered(node.pending)
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
          requestQuit(effect.reason)
          break
        case 'bell':
          view.bell()
          break
        case 'redraw':
          view.redraw()
          break
        case 'suspend':
          suspend()
          break
        default: {
          const _exhaustive: never = effect
          return _exhaustive
        }
      }
    }
  }

  /**
   * Ctrl-Z: the terminal given back, then the process stopped as a shell's job is; `fg` continues it and the
   * screen is taken again and drawn whole. The node stops with it: a stop longer than the peers'
   * keepalive costs the links, redialed on return, and nothing sent is lost.
   */
  const suspend = () => {
    if (!stdin.isTTY) return
    const resume = view.suspend()
    stdin.setRawMode(false)
    const stopping = stopAsJob((stopped) => {
      stdin.setRawMode(true)
      resume()
      if (!stopped) {
        model.note(
          'Ctrl-Z: parley-tui was not suspended, as the shell that started it does no job control; quit with Ctrl-C or /quit',
          'hint',
        )
        view.renderNow()
      }
    })
    if (!stopping) {
      stdin.setRawMode(true)
      resume()
    }
  }

  let subscribed = true
  // Under attack every dropped connection would be a line: a few per window, then one summary.
  const logFile = logFileOf(flags)
  const drops = new DropDigest(
    (line) => {
      for (const text of [line.text, ...(line.more ?? [])]) model.note(text, line.level)
      view.schedule()
    },
    logFile ? { log: logFile } : {},
  )
  // A peer's reconnections, renames and made-up members: a few lines per window, then one summary.
  const news = memberNewsDigest((line) => {
    for (const text of [line.text, ...(line.more ?? [])]) model.note(text, line.level)
    view.schedule()
  })
  // Throttling and a peer not reading: one summary line every few seconds at most.
  const flow = new FlowSummary(
    (line) => {
      model.note(line.text, line.level)
      view.schedule()
    },
    { pending: () => node.pending },
  )
  const refusals = new RefusalWatch()
  performLater = perform
  subscribe((event, route) => {
    if (!subscribed) return
    if (event.type === 'link-error') {
      const drop = describeEvent(event)
      if (drop) drops.push(drop)
      return
    }
    display.push(event)
    // A peer that refused this node and now takes its messages: told once (its redials were silent).
    const back = refusals.observe(event)
    if (back) {
      model.note(back.text, back.level)
      view.schedule()
    }
    if (event.type === 'message') return
    flow.observe(event)
    if (FlowSummary.handles(event)) {
      flow.push(event)
      return
    }
    const effects = model.nodeEvent(
      event,
      route,
      isMemberNews(event) ? (line) => news.push(line, event.type) : undefined,
    )
    if (event.type === 'delivered' || event.type === 'settled') model.setUndelivered(node.pending)
    // The member panel follows joins and leaves as they happen.
    if (
      event.type === 'connected' ||
      event.type === 'disconnected' ||
      event.type === 'member' ||
      event.type === 'member-left' ||
      event.type === 'member-lost'
    )
      model.setMembers(node.members())
    perform(effects)
    view.schedule()
  })

  // Keys are drawn at once, never left for the next frame: only the input line when that is all they
  // changed (typing during a flood), the whole screen when they changed more (Enter, scrolling, F2).
  const onKeyEvents = (keys: readonly KeyEvent[]) => {
    if (keys.length === 0) return
    const revision = model.revision
    // While quitting, what is typed is not sent: only Ctrl-C (leave now), a redraw and scrolling are taken.
    for (const key of keys) if (!quitting || takenWhileQuitting(key)) perform(model.key(key))
    if (model.revision === revision) view.renderInput()
    else view.renderNow()
  }
  let quitting = false
  const decoder = new KeyDecoder()
  let escTimer: NodeJS.Timeout | undefined
  const onKeys = (chunk: string) => {
    view.traceInput()
    if (escTimer) clearTimeout(escTimer)
    onKeyEvents(decoder.push(chunk))
    if (decoder.hasPending) escTimer = setTimeout(() => onKeyEvents(decoder.flush()), ESC_WAIT_MS)
  }
  stdin.on('data', onKeys)
  stdin.resume()
  if (probe.leftover) onKeys(probe.leftover)
  view.renderNow()
  // The emoji width tables are compiled once the first frame is up, not when the first emoji arrives in
  // the middle of a conversation (or of a flood).
  const warmWidths = setTimeout(() => width(EMOJI_SAMPLES.emoji), WARM_WIDTHS_MS)
  warmWidths.unref()

  // A failed node thread rejects `node.failed`: the error ends the TUI like any fatal one.
  await Promise.race([quitRequested, io.interrupted, node.failed])
  quitting = true
  if (node.pending > 0 && flags.waitMs > 0) {
    model.note(waitingNote(node.pending, flags.waitMs, info.dataDir))
    view.renderNow()
    await node.drain(flags.waitMs, secondQuitRequested)
  }
  const left = node.pending
  stdin.removeListener('data', onKeys)
  if (escTimer) clearTimeout(escTimer)
  clearTimeout(warmWidths)
  subscribed = false
  flow.close()
  display.close()
  await Promise.race([node.close(quitReason), node.failed])
  removeViewRestore()
  view.destroy()
  removeRawRestore()
  if (stdin.isTTY) stdin.setRawMode(false)
  stdin.pause()
  // After the screen is gone, so it stays on the terminal, as the line-mode CLI says it.
  if (left > 0) io.stderr.write(`parley-tui: ${undeliveredNote(left, info.dataDir)}\n`)
  // Lost with --plain, as the line-mode CLI says by its exit code too; kept in an outbox, nothing is lost.
  return left > 0 && !info.dataDir ? ExitCode.UNDELIVERED : ExitCode.OK
}

/** Keys that still act while the TUI waits to quit: leaving now, a redraw, and reading back. */
const QUITTING_KEYS: ReadonlySet<string> = new Set([
  'C-c',
  'C-l',
  'pageup',
  'pagedown',
  'S-up',
  'S-down',
  'C-end',
  'M->',
  'C-home',
  'M-<',
])

function takenWhileQuitting(key: KeyEvent): boolean {
  return key.type === 'wheel' || (key.type === 'key' && QUITTING_KEYS.has(key.name))
}

/** What the TUI waits for as it quits; with --plain (no data dir), what it waits for is held in memory only. */
function waitingNote(pending: number, waitMs: number, dataDir: string | undefined): string {
  const limit = `up to ${waitMs / 1000}s without progress; what you type now is not sent`
  if (dataDir)
    return `waiting for ${countText(pending)} message(s) to be acknowledged, ${limit} (Ctrl-C again to leave now; they stay safe in the outbox)`
  return `waiting for a peer to take ${countText(pending)} message(s), ${limit} (Ctrl-C again to leave now; --plain keeps no outbox, so they are lost)`
}

/** What became of messages no peer acknowledged before the TUI closed. */
function undeliveredNote(left: number, dataDir: string | undefined): string {
  if (dataDir)
    return `${countText(left)} message(s) not acknowledged yet are safe in the outbox (${dataDir}); they are sent when parley next runs with this --data-dir`
  return `${countText(left)} message(s) were not delivered: no peer took them, and --plain keeps no outbox, so they are lost`
}

/** A request's answer lost to a failed node thread: that failure ends the TUI through `node.failed`. */
function ignoreFailure(): void {}
