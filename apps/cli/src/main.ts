import { fstatSync } from 'node:fs'
import * as readline from 'node:readline'
import { type ChatNode, MAX_BODY_LENGTH, type NodeEvent, type PeerInfo } from '@parley/core'
import {
  AloneNote,
  actionBody,
  actionPartText,
  BackpressureGrace,
  type BootstrapNode,
  type BuiltNode,
  bootstrapFlag,
  bootstrapList,
  catchUpWhat,
  clockSlackFrom,
  connectTo,
  countText,
  DropDigest,
  describeEvent,
  describeMembers,
  disconnectFrom,
  ExitCode,
  FatalError,
  FirstLink,
  type Flags,
  FlowSummary,
  givenUpEverywhere,
  helpLines,
  isFrameTooLarge,
  isMemberNews,
  isPlainSubmission,
  jsonLine,
  jsonMember,
  jsonRoute,
  LINE_COMMANDS,
  type LinkRoute,
  LinkRoutes,
  logFileOf,
  MessageDisplay,
  memberNewsDigest,
  newRoomCode,
  OutboxWatch,
  PausedInput,
  PeerLabels,
  PipedLines,
  packageVersion,
  parseAction,
  parseFlags,
  parseSubmission,
  type ReadableInput,
  RefusalWatch,
  type RunningService,
  recentHistory,
  refusedEverywhere,
  renamedNote,
  reportFailure,
  type ShownMessage,
  type StartedNode,
  type Submission,
  sendInParts,
  shortId,
  showIdentity,
  startBootstrapNode,
  startNode,
  startRelay,
  startupNotes,
  stopAsJob,
  stopNode,
  streamLines,
  targetLabel,
  trustFailures,
  usage,
  waitWhileProgressing,
} from '@parley/launcher'
import {
  encodeInvite,
  encodeKeyInvite,
  fingerprint as fingerprintOf,
  keyOfAddress,
} from '@parley/secure/keys'
import { isLoopbackHost, parseAddress } from '@parley/transport-tcp'
import {
  formatContinued,
  formatLines,
  formatMessage,
  formatStatus,
  jsonEvent,
  jsonHistory,
  jsonMessage,
  jsonRoomEmpty,
  jsonSent,
} from './output.js'
import { redrawInPlaceOnResize } from './prompt-resize.js'
import { TypedAhead } from './typed-ahead.js'

export interface Io {
  stdin: ReadableInput & { isTTY?: boolean }
  stdout: NodeJS.WritableStream & { isTTY?: boolean }
  stderr: NodeJS.WritableStream & { isTTY?: boolean }
  env: NodeJS.ProcessEnv
  /** Resolves when the user asks to quit (Ctrl-C, SIGTERM). */
  interrupted: Promise<void>
  /** Resolves with the error when stdout cannot be written any more (its reader closed it: EPIPE). */
  outputClosed?: Promise<NodeJS.ErrnoException>
}

export const SUMMARY = 'peer-to-peer chat for the terminal; each line you type is one message'

export function version(): string {
  return packageVersion(new URL('../package.json', import.meta.url))
}

/** Runs `parley` with its arguments; resolves with the process exit code. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const code = await command(argv, io)
  // Output that never reached its reader is no success, whatever else went well.
  const closed = outputError(io)
  if (code !== ExitCode.OK || !closed) return code
  io.stderr.write(`parley: ${outputClosedText(closed)} before all output was written\n`)
  return ExitCode.OUTPUT_CLOSED
}

async function command(argv: readonly string[], io: Io): Promise<number> {
  try {
    const flags = parseFlags(argv, io.env)
    if (flags.help) {
      io.stdout.write(`${usage('parley', SUMMARY)}\n`)
      return ExitCode.OK
    }
    if (flags.version) {
      io.stdout.write(`parley ${version()}\n`)
      return ExitCode.OK
    }
    switch (flags.command) {
      case 'id':
        return await printIdentity(flags, io)
      case 'invite':
        return await printInvite(flags, io)
      case 'room':
        return printRoom(flags, io)
      case 'bootstrap':
        return await serve(await startBootstrapNode(flags), 'bootstrap', flags, io)
      case 'relay':
        return await serve(await startRelay(flags, io.env), 'relay', flags, io)
      case 'chat':
        return await chat(flags, io)
      default: {
        const _exhaustive: never = flags.command
        return _exhaustive
      }
    }
  } catch (error) {
    return fail(io, error)
  }
}

/** `parley id`: the fingerprint on the last line of stdout, stable across runs. */
async function printIdentity(flags: Flags, io: Io): Promise<number> {
  const { id, fingerprint, dataDir, created } = await showIdentity(flags, io.env)
  if (created) io.stderr.write(`parley: no identity in ${dataDir} yet: created a new one\n`)
  if (flags.json)
    io.stdout.write(`${JSON.stringify({ type: 'id', id, fingerprint: fingerprint.full, dataDir })}\n`)
  else io.stdout.write(`node id (public key): ${id}\ndata dir: ${dataDir}\n${fingerprint.full}\n`)
  return ExitCode.OK
}

/**
 * `parley invite`: one line holding the listen address and this node's key (none on a DHT node given no
 * --listen), then the key-only invite, `parley://FINGERPRINT`, for reaching this node over the DHT. With
 * --json, one object holding both (`join` and `key`).
 */
async function printInvite(flags: Flags, io: Io): Promise<number> {
  const { id, dataDir, created } = await showIdentity(flags, io.env)
  if (created) io.stderr.write(`parley: no identity in ${dataDir} yet: created a new one\n`)
  let code: string | undefined
  if (flags.listen !== undefined) {
    if (parseAddress(flags.listen).port === 0) {
      // Port 0 is a fresh port on every run: an invite holding it can never be dialed.
      const fixed = flags.listen.replace(/:0+$/, ':4001')
      throw new FatalError(
        ExitCode.USAGE,
        `an invite needs the port your parley listens on, and ${flags.listen} picks another one every run; listen on a fixed port (parley --listen ${fixed}, and parley invite --listen ${fixed}), or give the port a running parley printed in its "listening on" line`,
      )
    }
    try {
      code = encodeInvite({ address: flags.listen, key: id })
    } catch (error) {
      throw new FatalError(
        ExitCode.USAGE,
        `${error instanceof Error ? error.message : String(error)} (see --help)`,
      )
    }
    if (!flags.json) io.stdout.write(`${code}\n`)
    const { host, port } = parseAddress(flags.listen)
    io.stderr.write(
      isLoopbackHost(host)
        ? `parley: on this machine only (the address is loopback) your peer runs: parley --join ${code}; for a peer on another machine, give the address it reaches you at: parley invite --listen ADDRESS:${port}\n`
        : `parley: on this network your peer runs: parley --join ${code}\n`,
    )
  }
  const byKey = encodeKeyInvite(id)
  if (flags.json)
    io.stdout.write(`${JSON.stringify({ type: 'invite', ...(code ? { join: code } : {}), key: byKey })}\n`)
  else io.stdout.write(`${byKey}\n`)
  // On a private DHT the peer must look there too, or it looks on the public one and never finds you.
  const on = bootstrapFlag(flags.dht?.bootstrap)
  io.stderr.write(
    `parley: ${reachOf(flags.dht?.bootstrap)}, while you run parley --dht${on}, your peer runs: parley${on} --peer ${byKey}\n`,
  )
  return ExitCode.OK
}

/** Where a peer finds this node over the DHT: anywhere on the public one; on a private one, where it reaches its bootstrap nodes. */
function reachOf(bootstrap: readonly BootstrapNode[] | undefined): string {
  if (bootstrap === undefined || bootstrap.length === 0) return 'from anywhere'
  if (bootstrap.every((node) => isLoopbackHost(node.host)))
    return 'on this machine only (the DHT you gave is on loopback)'
  return `wherever your peer reaches ${bootstrap.length === 1 ? '' : 'one of '}${bootstrapList(bootstrap)}`
}

/** `parley room`: a new room code on stdout's last line (with --json, as `{"type":"room","code":…}`). */
function printRoom(flags: Flags, io: Io): number {
  const code = newRoomCode()
  // On a private DHT (`parley room --bootstrap …`) everyone must meet there, not on the public one.
  const on = bootstrapFlag(flags.dht?.bootstrap)
  io.stderr.write(`parley: a new room; everyone who should join runs: parley${on} --room ${code}\n`)
  io.stdout.write(flags.json ? `${JSON.stringify({ type: 'room', code })}\n` : `${code}\n`)
  return ExitCode.OK
}

/**
 * `parley bootstrap` and `parley relay`: print where to reach it on stdout's last line (with --json, as
 * `{"type":"bootstrap","address":…}`), run until stopped.
 */
async function serve(
  service: RunningService,
  kind: 'bootstrap' | 'relay',
  flags: Flags,
  io: Io,
): Promise<number> {
  const use =
    kind === 'bootstrap'
      ? `bootstrap node running; nodes use it with --bootstrap ${service.address}`
      : `blind relay running; nodes use it with${bootstrapFlag(flags.dht?.bootstrap)} --relay ${service.address}`
  io.stderr.write(`parley: ${use} (Ctrl-C stops it)\n`)
  io.stdout.write(
    flags.json ? `${JSON.stringify({ type: kind, address: service.address })}\n` : `${service.address}\n`,
  )
  await io.interrupted
  await service.close()
  return ExitCode.OK
}

/** Why stdout cannot be written, once a write failed (its reader closed it, or the device failed). */
function outputError(io: Io): NodeJS.ErrnoException | undefined {
  return (io.stdout as { errored?: NodeJS.ErrnoException | null }).errored ?? undefined
}

/** A pipe's reader that left gives EPIPE; a socket's (a parent's stdio pair, a service's socket) ECONNRESET. */
function outputClosedText(error: NodeJS.ErrnoException): string {
  return error.code === 'EPIPE' || error.code === 'ECONNRESET'
    ? `stdout was closed (${error.code})`
    : `stdout cannot be written (${error.code ?? error.message})`
}

/** How this run reads its input: see "Receivers and one-shot sends" in the README. */
type InputMode =
  /** A person at a terminal. */
  | 'chat'
  /** Lines from a pipe or file that has ended: catch-up is not shown unless --history asks. */
  | 'one-shot'
  /** Nothing to send (--recv-only, or stdin ended before any line): receive until signalled. */
  | 'receive'
  /** Stdin is not a terminal and has not ended yet (`tail -f | parley` stays here). */
  | 'undecided'

/**
 * Whether stdin is a regular file with something in it (`parley < file`): it ends, however long the outbox
 * takes to let it be read, so the run is a one-shot send from the start. A pipe may be `tail -f`.
 */
function stdinIsFile(stdin: Io['stdin']): boolean {
  const fd = (stdin as { fd?: unknown }).fd
  if (typeof fd !== 'number') return false
  try {
    // BigInt stats: Node 20's realpathSync reads the shared array that a plain stat fills, and a pipe's
    // mode left there (S_IFIFO) made it stop resolving symbolic links early, so a package reached
    // through pnpm's links failed to load its dependencies.
    const stat = fstatSync(fd, { bigint: true })
    return stat.isFile() && stat.size > 0n
  } catch {
    return false
  }
}

async function chat(flags: Flags, io: Io): Promise<number> {
  // On a terminal, a prompt keeps what arrives above the half-typed line. It is drawn on stdout, or on
  // stderr with --json, so that stdout carries JSON lines and nothing else, even on a terminal.
  const promptOut = flags.json ? io.stderr : io.stdout
  const interactive = !flags.recvOnly && Boolean(io.stdin.isTTY && io.stdout.isTTY && promptOut.isTTY)
  const withTime = Boolean(io.stdout.isTTY)
  let mode: InputMode = flags.recvOnly
    ? 'receive'
    : io.stdin.isTTY
      ? 'chat'
      : stdinIsFile(io.stdin)
        ? 'one-shot'
        : 'undecided'
  // A terminal is read a line at a time (readline, with editing); a pipe a read at a time.
  const rl =
    flags.recvOnly || !io.stdin.isTTY
      ? undefined
      : readline.createInterface({
          input: io.stdin,
          ...(interactive ? { output: promptOut, terminal: true, prompt: '> ' } : { terminal: false }),
        })
  if (rl && interactive) redrawInPlaceOnResize(rl, promptOut)
  // Readline puts the terminal in raw mode, where Ctrl-C and Ctrl-Z are keys, read by nobody while the input
  // is paused during the start (a DHT join takes seconds): the terminal's own modes are given back until the
  // prompt is first drawn, so they are the signals they stand for meanwhile (a quit; a stop as a job).
  const tty = io.stdin as Io['stdin'] & { setRawMode?(mode: boolean): unknown }
  if (rl && interactive) tty.setRawMode?.(false)
  // On a terminal in raw mode, Ctrl-C reaches readline as a key, which would end the input as Ctrl-D
  // does: it is the signal it stands for, and leaves as SIGINT does (bye, exit 0; twice: at once).
  rl?.on('SIGINT', () => process.kill(process.pid, 'SIGINT'))
  // A paste is text: the terminal marks it (bracketed paste), and a line it ends is a message even when
  // it starts with `/`, so a pasted log holding `/quit` quits nothing. The mode is turned off at exit.
  let pasting = false
  if (rl && interactive) {
    io.stdin.on('keypress', (_text: string | undefined, key: { name?: string } | undefined) => {
      if (key?.name === 'paste-start') pasting = true
      else if (key?.name === 'paste-end') pasting = false
    })
    promptOut.write(BRACKETED_PASTE_ON)
    process.once('exit', () => promptOut.write(BRACKETED_PASTE_OFF))
  }
  const piped = flags.recvOnly || io.stdin.isTTY ? undefined : new PipedLines(io.stdin)
  const input = rl ?? piped
  input?.pause()
  // Incoming lines are printed above the prompt, then the prompt and the half-typed line are redrawn. The
  // prompt is first drawn once typed lines have somewhere to go: drawing it resumes readline, and a line
  // typed during the start would be read with no listener yet, and lost.
  let promptShown = false
  const print = (stream: NodeJS.WritableStream, text: string) => {
    if (!promptShown) {
      stream.write(`${text}\n`)
      return
    }
    clearPrompt(rl, promptOut)
    stream.write(`${text}\n`)
    rl?.prompt(true)
  }
  // Once stdout is closed, events have nowhere to go: they are not even made.
  let outputGone: NodeJS.ErrnoException | undefined
  const json = (value: Record<string, unknown>) => {
    if (!outputGone) print(io.stdout, jsonLine(value))
  }
  // This node once started: a peer under a name like ours is told apart from us.
  let self: (() => PeerInfo) | undefined
  const labels = new PeerLabels(() => self?.())
  const routes = new LinkRoutes()
  // A member's leaving told from before this start is told with its time (describeEvent).
  const startedAt = Date.now()
  const clockSlackMs = clockSlackFrom(io.env)
  // With --plain a typed line is held in memory only: the note says it is lost if parley exits first.
  const alone = new AloneNote({ durable: !flags.plain })
  const note = (text: string) => print(io.stderr, `parley: ${text}`)
  // Ctrl-Z reaches readline as a key in raw mode. Left to readline, the input stayed paused after `fg`
  // (nothing typed was read again), and raw mode stayed off where the stop was dropped. Stopped as a
  // shell's job here, the terminal's modes taken back and the prompt with its half-typed line drawn again.
  if (rl && interactive) {
    rl.on('SIGTSTP', () => {
      promptOut.write(BRACKETED_PASTE_OFF)
      tty.setRawMode?.(false)
      const stopping = stopAsJob((stopped) => {
        tty.setRawMode?.(true)
        promptOut.write(BRACKETED_PASTE_ON)
        if (stopped) rl.prompt(true)
        else note('Ctrl-Z: parley was not suspended, as the shell that started it does no job control')
      })
      if (!stopping) {
        tty.setRawMode?.(true)
        promptOut.write(BRACKETED_PASTE_ON)
      }
    })
  }
  const formatShown = (m: ShownMessage) =>
    flags.json
      ? jsonLine(jsonMessage(m))
      : formatMessage(labels.label(m.from), m.body, m.ts, withTime, m.action)
  const lines = streamLines(io.stdout, formatShown, (count, kinds) => {
    const { replayed } = kinds
    if (flags.json) json({ type: 'catch-up', count, ...(replayed > 0 ? { replayed } : {}) })
    else note(`${countText(count)} message(s) ${catchUpWhat(count, kinds)}:`)
  })
  const display = new MessageDisplay({
    target: {
      ...lines,
      // Text shows a run of lines from one sender as one text; scripts get an object per message.
      ...(flags.json
        ? {}
        : { formatRun: (run) => formatLines(labels.label(run.from), run.bodies, run.ts, withTime) }),
      // A line sent in parts is written as one line to a pipe or a file, part by part as they come; on a
      // terminal, where status lines and the prompt share the screen, each part is a line of its own.
      ...(flags.json || withTime
        ? {}
        : {
            continued: (m: ShownMessage) => formatContinued(labels.label(m.from), m.action ?? m.body),
          }),
      // Received lines go above the prompt and the half-typed line, which are then redrawn.
      write: (text) => {
        if (promptShown) clearPrompt(rl, promptOut)
        lines.write(text)
        if (promptShown) rl?.prompt(true)
      },
    },
    catchUp: () => {
      if (mode === 'undecided') return 'undecided'
      return mode === 'one-shot' && flags.history === 0 ? 'hide' : 'show'
    },
    // The messages one read of a link delivered go out in one write (and one display mark).
    defer: queueMicrotask,
  })
  // Under attack every dropped connection would be a line: a few per window, then one summary.
  const logFile = logFileOf(flags, io.env)
  const drops = new DropDigest(
    (line) => print(io.stderr, formatStatus(line)),
    logFile ? { log: logFile } : {},
  )
  const backpressure = new BackpressureGrace((event) => json(jsonEvent(event)))
  // So are a peer's reconnections, renames and made-up members, which would each be a line.
  const news = memberNewsDigest((line) => print(io.stderr, formatStatus(line)))
  let pending = () => 0
  const flow = new FlowSummary((line) => print(io.stderr, formatStatus(line)), { pending: () => pending() })
  // Once this node is closing, its own links going down are not news.
  let closing = false
  const linked = new FirstLink()
  // A file as stdin (`parley --peer KEY < file`) is a one-shot send from the start: it ends once its lines
  // are delivered. (A pipe may be `tail -f`, or end at once and leave a receiver.)
  const pipedSender =
    mode === 'one-shot' &&
    (flags.peers.length > 0 || flags.joins.length > 0 || (flags.dht?.rooms.length ?? 0) > 0)
  const refusals = new RefusalWatch()
  const onEvent = (event: NodeEvent, route?: LinkRoute) => {
    const message = event.type === 'message' || event.type === 'lines'
    // Messages waiting for their write go out first, under the labels they came with: a rename in the
    // same read must not relabel the lines sent before it.
    if (!message) display.push(event)
    linked.observe(event)
    labels.observe(event)
    flow.observe(event)
    routes.observe(event, route)
    alone.observe(event)
    if (message) {
      display.push(event)
      if (!flags.json) {
        const back = refusals.observe(event)
        if (back) print(io.stderr, formatStatus(back))
      }
      return
    }
    if (flags.json) {
      // A peer's reading stalls are told once they last, as the log tells them (see BackpressureGrace).
      backpressure.push(event)
      if (event.type === 'backpressure') return
      // Scripts get every event, the node's own closing included; a connection says how it was made, and
      // the node's listening who it is (a bot tells its own words from others' by that id).
      if (event.type === 'listening' && self && !flags.plain) {
        const { id, name } = self()
        json({ ...jsonEvent(event), id, fingerprint: fingerprintOf(id).full, name })
      } else json(route ? { ...jsonEvent(event), link: jsonRoute(route) } : jsonEvent(event))
      const drop = event.type === 'link-error' ? describeEvent(event) : undefined
      if (drop) drops.push(drop)
      return
    }
    // A peer that refused this node and now takes its messages: told once (its redials were silent).
    const back = refusals.observe(event)
    if (back) print(io.stderr, formatStatus(back))
    // One per line sent, and never a line of text: the cheapest way out for a piped file.
    if (event.type === 'delivered' || event.type === 'settled') return
    if (closing && event.type !== 'journal-error') return
    if (FlowSummary.handles(event)) {
      flow.push(event)
      return
    }
    // A one-shot send to peers it dials is not there for others to reach: no invitation.
    const key = event.type === 'listening' && pipedSender ? keyOfAddress(event.address) : undefined
    if (key !== undefined) {
      note(`listening on the DHT under your key [${fingerprintOf(key).short}]`)
      return
    }
    const status = describeEvent(event, route, self?.().id, {
      bootstrap: flags.dht?.bootstrap,
      startedAt,
      clockSlackMs,
    })
    if (status && event.type === 'link-error') drops.push(status)
    else if (status && isMemberNews(event)) news.push(status, event.type)
    else if (status) print(io.stderr, formatStatus(status))
  }

  let started: StartedNode
  let typedAhead: TypedAhead | undefined
  try {
    // Runs: lines as they come in reads and go out in writes; scripts get an event per message.
    // Stdout's descriptor: when it is a file, a write a kill parts from its mark is found there, not shown again.
    const fd = (io.stdout as { fd?: unknown }).fd
    const lineOutput = typeof fd === 'number' ? { lineOutput: fd } : {}
    // What arrives before the start is over (a DHT join takes seconds) is told with this node known, and
    // marked as shown like anything later.
    const onBuilt = (built: BuiltNode) => {
      self = () => ({ id: built.node.id, name: built.node.name })
      display.bind(built)
    }
    // Ctrl-C or SIGTERM during the start (a DHT join waits seconds for bootstrap nodes that may never
    // answer) stops it at once, as a quit: exit 0, the outbox kept.
    const starting = new AbortController()
    void io.interrupted.then(() => starting.abort())
    // Ctrl-D on the terminal meanwhile ends the input, as it does at the prompt: what was typed before it
    // is sent once the start is over, and then parley leaves; with nothing typed, there is nothing to
    // start for, and the start stops at once, as Ctrl-C stops it.
    if (rl && interactive)
      typedAhead = new TypedAhead(io.stdin, (typed) => {
        if (!typed) return starting.abort()
        const lines = typedAhead?.lines() ?? 0
        // The terminal echoed a line left unfinished, and its cursor stays after it.
        if (typedAhead?.midLine()) io.stderr.write('\n')
        note(
          `input ended while starting: the ${countText(lines)} line(s) typed are sent once it is done, then parley leaves (Ctrl-C stops now, without them)`,
        )
      })
    started = await startNode(
      flags,
      onEvent,
      {
        runs: !flags.json,
        ...lineOutput,
        onBuilt,
        signal: starting.signal,
        onProgress: (text) => note(text),
      },
      io.env,
    )
  } catch (error) {
    typedAhead?.release()
    input?.close()
    throw error
  }
  const { node } = started
  pending = () => node.pending
  if (!started.secure) {
    note('PLAIN MODE: nothing is encrypted or authenticated; anyone on the path can read and forge messages')
  } else if (!flags.json) {
    note(`you are ${flags.name} [${started.fingerprint?.short}] (full fingerprint: parley id)`)
    for (const text of startupNotes(started)) note(text)
  }
  // Text mode said these among the notes; scripts get them as events (an empty room once, then nothing
  // while waiting; a repaired journal or a stale lock taken over, as a notice).
  if (flags.json) {
    for (const text of startupNotes(started, { rooms: false })) json({ type: 'notice', text })
    for (const room of started.emptyRooms) json(jsonRoomEmpty(room))
  }
  // The terminal still echoes what is typed: say at once that it goes nowhere.
  if (flags.recvOnly && io.stdin.isTTY)
    note('receive only (--recv-only): typed lines are not sent; Ctrl-C quits')
  showHistory(node, flags, json, (text) => print(io.stdout, text), note, labels, withTime)

  let sent = 0
  /** Lines of piped input taken, commands and empty lines included: the rest of the input starts after them. */
  let linesTaken = 0
  /** A piped /quit was taken: nothing read after it is sent. */
  let quitTaken = false
  /** Piped lines came after the /quit that stopped the input: they were not sent, and a script must know. */
  let afterQuit = false
  // Backpressure to stdin: while the outbox is this full, stop reading input instead of growing memory.
  let inputPaused = false
  const outbox = new OutboxWatch()
  // Paused that long with no acknowledgement, piped input is given up: a peer that never comes must not
  // keep a script waiting for good.
  let inputStalled: () => void = () => undefined
  const stalled = new Promise<'stalled'>((resolve) => {
    inputStalled = () => resolve('stalled')
  })
  // Only where an outbox on disk keeps what was read: a plain node would lose it, so it waits as before.
  const pausedInput =
    piped && started.dataDir ? new PausedInput(flags.waitMs, () => inputStalled()) : undefined
  node.on((event) => {
    if (event.type === 'delivered' || event.type === 'settled') pausedInput?.progress()
    // Every peer dialed refused on its key, nobody else connected: input paused at a full outbox is given up.
    if (event.type === 'peer-state' || event.type === 'connected' || event.type === 'disconnected')
      pausedInput?.hopeless(refusedEverywhere(node))
    // The outbox drains as peers acknowledge, and also when a peer that dialed us leaves or a dialed
    // address answers: `settled` says so when no acknowledgement does.
    if (
      (event.type === 'delivered' || event.type === 'settled' || event.type === 'disconnected') &&
      inputPaused &&
      outbox.drained(node.pending)
    ) {
      inputPaused = false
      pausedInput?.resume()
      input?.resume()
    }
  })
  let quitAsked: (reason?: string) => void = () => undefined
  // What peers are told this node left with: `/quit REASON`, else "quit".
  let quitReason = 'quit'
  const quit = new Promise<'quit'>((resolve) => {
    quitAsked = (reason) => {
      if (reason !== undefined) quitReason = reason
      resolve('quit')
    }
  })
  const sentPart = (part: string, message: ReturnType<ChatNode['send']>) => {
    outbox.sent(part)
    sent++
    // "sent" means accepted: durable in the outbox, so it survives a crash from here on.
    if (flags.json) void message.durable.then(() => json(jsonSent(message, part)))
  }
  /** `goesOn`: the body is the front of a longer line (a piped line's part), which the next message continues. */
  const send = (body: string, goesOn = false) => {
    sendInParts((part, more) => node.send(part, { more }), body, sentPart, goesOn)
  }
  // A line typed at the prompt with nobody to take it: said once each time this node is alone.
  const typed = (body: string) => {
    send(body)
    const text = interactive && !flags.json ? alone.sent(node.pending) : undefined
    if (text) note(text)
  }
  const perform = (what: Submission) => {
    switch (what.type) {
      case 'empty':
        return
      case 'message':
        typed(what.body)
        return
      case 'me':
        typed(actionBody(what.action))
        return
      case 'help':
        for (const text of helpLines(LINE_COMMANDS)) note(text)
        return
      case 'nick':
        node.rename(what.name)
        note(renamedNote(node.self, node.members()))
        return
      case 'peers': {
        const members = node.members()
        if (flags.json) json({ type: 'peers', members: members.map((m) => jsonMember(m, routes)) })
        else for (const text of describeMembers(members, labels, routes)) note(text)
        return
      }
      case 'connect': {
        const status = connectTo(node, what.address, { dht: flags.dht !== undefined, plain: flags.plain })
        if (status) note(status.text)
        return
      }
      case 'disconnect':
        note(disconnectFrom(node, what.address).text)
        return
      case 'quit':
        quitAsked(what.reason)
        return
      case 'invalid':
        note(what.hint)
        return
      case 'members':
      case 'clear':
        return
      default: {
        const _exhaustive: never = what
        return _exhaustive
      }
    }
  }
  const pauseIfFull = () => {
    if (!inputPaused && outbox.full(node.pending)) {
      inputPaused = true
      input?.pause()
      pausedInput?.pause()
    }
  }
  rl?.on('line', (raw) => {
    if (stoppedByFailure()) return
    // Within a paste, `/` starts no command: the line goes as it is (`//` is how it would be typed).
    perform(parseSubmission(pasting && raw.startsWith('/') ? `/${raw}` : raw, { commands: LINE_COMMANDS }))
    pauseIfFull()
    if (interactive) rl.prompt()
  })
  /** Lines that are messages as they are (`chars` characters in all), handed to the node at once. */
  const sendRun = (bodies: string[], chars: number) => {
    if (bodies.length === 0) return
    if (flags.json) {
      // Scripts get a `sent` event per message.
      for (const body of bodies) send(body)
      return
    }
    try {
      node.sendLines(bodies)
    } catch (error) {
      // A line fits no frame alone, and nothing of the run was sent: each line goes alone, in parts.
      if (!isFrameTooLarge(error)) throw error
      for (const body of bodies) send(body)
      return
    }
    outbox.sentRun(bodies.length, chars)
    sent += bodies.length
  }
  piped?.once('not-utf8', (line) =>
    note(
      `stdin is not UTF-8 (line ${countText(line)} is the first with bytes that are not): they are sent as U+FFFD (\uFFFD); convert the input first, e.g. iconv -f LATIN1 -t UTF-8 FILE | parley …`,
    ),
  )
  // The data dir failed under the node, which is stopping (runProgram ends the run with its line, exit 5):
  // no more input is taken, and the user is told from which line to send again.
  let failureTold = false
  const stoppedByFailure = (): boolean => {
    if (!started.failure()) return false
    if (!failureTold) {
      failureTold = true
      piped?.close()
      // No prompt is drawn again for input that is no longer read.
      if (rl && promptShown) clearPrompt(rl, promptOut)
      promptShown = false
      rl?.close()
      if (piped)
        note(
          `stopped reading stdin after line ${countText(linesTaken)}: the data dir failed; the lines after it were not taken (for a file: tail -n +${linesTaken + 1} FILE), and the last ones taken may not have been saved: check what the peer shows before sending them again`,
        )
    }
    return true
  }
  piped?.on('lines', (lines) => {
    if (stoppedByFailure()) return
    let start = 0
    let chars = 0
    linesTaken += lines.length
    for (let i = 0; i < lines.length; i++) {
      const raw = lines[i] as string
      if (isPlainSubmission(raw) && raw.length <= MAX_BODY_LENGTH) {
        chars += raw.length
        continue
      }
      sendRun(lines.slice(start, i), chars)
      const what = parseSubmission(raw, { commands: LINE_COMMANDS, lenient: true })
      // A piped line that is empty is still a line: the file arrives whole.
      if (what.type === 'empty') send(raw)
      else perform(what)
      if (what.type === 'quit') {
        // Nothing after /quit is sent, wherever the read that brought it ended.
        quitTaken = true
        input?.pause()
        afterQuit = i < lines.length - 1
        linesTaken -= lines.length - i - 1
        return
      }
      start = i + 1
      chars = 0
    }
    sendRun(start === 0 ? lines : lines.slice(start), chars)
    pauseIfFull()
  })
  // The front of a line too long for one message, cut off as it is read: sent as its first parts would be.
  piped?.on('part', (text) => {
    if (quitTaken || stoppedByFailure()) return
    send(text, true)
    pauseIfFull()
  })
  // What was typed during the start goes to the line editor from here on, as if typed now.
  const ahead = typedAhead?.release()
  if (rl && interactive) {
    tty.setRawMode?.(true)
    promptShown = true
    rl.prompt()
  }

  const inputEnded = new Promise<'eof'>((resolve) => {
    input?.once('close', () => {
      // Piped input that ends after sending, or after commands alone (`echo /peers | parley …`), is a
      // one-shot run: the catch-up it got is not shown.
      if (mode === 'undecided' && (sent > 0 || linesTaken > 0 || started.restoredPending > 0))
        mode = 'one-shot'
      resolve('eof')
    })
  })
  // Piped input to peers this node dials is read once a link is up (or a dial failed): read during the
  // handshake, it only filled the outbox, and held the handshake up. So is a room's, once its lookup found
  // members: `echo /peers | parley --room CODE` answered before they were linked.
  const dialsRoom = (flags.dht?.rooms.length ?? 0) > started.emptyRooms.length
  const dials = flags.peers.length > 0 || flags.joins.length > 0 || dialsRoom
  let inputClosed = false
  input?.once('close', () => {
    inputClosed = true
  })
  if (ahead && rl) {
    if (ahead.text.length > 0) io.stdin.emit('data', ahead.text)
    if (ahead.ended) {
      // The input ended during the start (Ctrl-D): a line left unfinished before it is sent too, as the
      // terminal's line mode gives it, and the input ends here, as Ctrl-D at the prompt ends it.
      if (rl.line.trim() !== '') io.stdin.emit('data', Buffer.from('\r'))
      rl.close()
    }
  }
  if (io.stdin.isTTY || !dials) input?.resume()
  else
    void linked.wait().then(() => {
      if (!inputClosed) input?.resume()
    })
  const interrupted = io.interrupted.then(() => 'interrupt' as const)
  // A closed stdout stops the run as a signal would: what was taken is kept, the note says so, exit 11.
  const outputClosed = (io.outputClosed ?? new Promise<never>(() => undefined)).then((error) => {
    outputGone = error
    return 'output-closed' as const
  })
  let reason = await Promise.race([inputEnded, interrupted, quit, stalled, outputClosed])
  if (
    reason === 'eof' &&
    sent === 0 &&
    linesTaken === 0 &&
    // A file as stdin is one-shot from the start, but one already read to its end gave nothing either.
    ((mode as InputMode) === 'undecided' || (mode as InputMode) === 'one-shot') &&
    started.restoredPending === 0
  ) {
    // Input ended before any line, and nothing waits from an earlier run: this is a receiver
    // (`< /dev/null`, a service); it runs until signalled. With an outbox to deliver, it is a sender; with
    // lines of commands only (`echo /peers | parley …`), it ran them and is done.
    mode = 'receive'
    note('no input to send: receiving until stopped (Ctrl-C or SIGTERM)')
    reason = await Promise.race([interrupted, quit, outputClosed])
  }
  // Lines read with the /quit and after it were not sent. (Lines a later read would have brought are not
  // known of: the pipe may be `tail -f`, which says neither.)
  if (reason === 'quit' && afterQuit) {
    if (flags.json) json({ type: 'input-stopped', why: 'quit', linesRead: linesTaken, pending: node.pending })
    note(`/quit on line ${countText(linesTaken)}: the lines after it were not sent`)
  }
  // Paused at a full outbox, piped input that was read to its end does not say so until it is resumed:
  // asked now, it ends (its last line taken), so nothing is reported left that was not there.
  let waitedAtEnd = false
  if (
    (reason === 'stalled' || reason === 'interrupt' || reason === 'output-closed') &&
    !inputClosed &&
    piped !== undefined &&
    (await piped.endedWhole())
  ) {
    if (reason === 'stalled') {
      reason = 'eof'
      waitedAtEnd = true
      if (!refusedEverywhere(node))
        note(
          `input ended; no acknowledgement came for ${flags.waitMs / 1000}s (--wait) while ${countText(node.pending)} message(s) waited`,
        )
    }
  }
  // Stopped before its piped input ended: what was not read yet is not sent, and a script must know.
  const stopped = reason === 'interrupt' || reason === 'output-closed'
  const inputLeft = stopped && piped !== undefined && !inputClosed && (linesTaken > 0 || inputPaused)
  pausedInput?.close()
  if (rl) closeInput(rl, interactive, promptOut)
  else piped?.close()
  promptShown = false
  const resumeAt = `send it from line ${countText(linesTaken + 1)} on in a later run (for a file: tail -n +${linesTaken + 1} FILE)`
  if (reason === 'stalled') {
    const refused = refusedEverywhere(node)
    if (flags.json)
      json({
        type: 'input-stopped',
        why: refused ? 'refused' : 'stalled',
        linesRead: linesTaken,
        pending: node.pending,
      })
    const why = refused
      ? `the outbox is full (${countText(node.pending)} message(s)) and every peer dialed refused on its key`
      : `the outbox stayed full (${countText(node.pending)} message(s)) with no acknowledgement for ${flags.waitMs / 1000}s (--wait)`
    note(
      `stopped reading stdin after line ${countText(linesTaken)}: ${why}; the rest of the input was not taken: ${resumeAt}`,
    )
  } else if (inputLeft) {
    if (flags.json)
      json({ type: 'input-stopped', why: 'interrupted', linesRead: linesTaken, pending: node.pending })
    // Without a data dir nothing keeps what was taken either: the next line says how much of it went.
    const rest = started.dataDir ? `: ${resumeAt}` : ''
    const why = outputGone ? `${outputClosedText(outputGone)}: ` : ''
    note(
      `${why}stopped before the end of stdin, after line ${countText(linesTaken)}; the rest was not taken${rest}`,
    )
  } else if (outputGone) {
    note(`${outputClosedText(outputGone)}: stopped`)
  }
  let code =
    reason === 'eof' || reason === 'stalled' || node.pending > 0
      ? await drain(node, started, flags, sent, note, io, reason, waitedAtEnd)
      : reason === 'output-closed'
        ? ExitCode.OUTPUT_CLOSED
        : ExitCode.OK
  if (code === ExitCode.OK && reason === 'eof' && sent > 0) {
    // Plain peers acknowledge nothing: each is asked to close after reading what was written, and one
    // that read none of it (an encrypted parley node, which says so) makes the run fail.
    // Up to --wait (not at all with --wait 0); a signal ends the wait, with what was heard by then.
    const lost = await Promise.race([
      node.finishSending(flags.waitMs),
      io.interrupted.then(() => node.finishSending(0)),
    ])
    if (lost > 0) {
      note(
        `${countText(lost)} of ${countText(sent)} line(s) were not delivered: no peer read them (see above)`,
      )
      code = ExitCode.UNDELIVERED
    }
  }
  // Catch-up that came while waiting is shown (or, for a one-shot send, dropped) now.
  display.close()
  closing = true
  flow.close()
  backpressure.close()
  await stopNode(started, reason === 'eof' ? 'input ended' : reason === 'quit' ? quitReason : 'quit')
  return code
}

/** What a run says when every peer it dialed failed on a key: one it proved, or this node's, which it refused. */
function untrustedNote(failures: readonly { target: string; refusedUs: boolean }[]): string {
  const proved = failures.filter((f) => !f.refusedUs).map((f) => f.target)
  const refusing = failures.filter((f) => f.refusedUs).map((f) => f.target)
  const notes: string[] = []
  if (proved.length > 0)
    notes.push(
      `${proved.join(', ')} proved a key other than the one trusted for it (see above): the next run is refused the same way unless the peer's key or your pin changes`,
    )
  if (refusing.length > 0)
    notes.push(
      `${refusing.join(', ')} refused this node's key (see above): the next run is refused the same way until the peer's owner allows it (\`parley id\` prints it)`,
    )
  return notes.join('; ')
}

/** Asks the terminal to mark what is pasted (`ESC[200~` … `ESC[201~`), and to stop doing so. */
const BRACKETED_PASTE_ON = '\x1b[?2004h'
const BRACKETED_PASTE_OFF = '\x1b[?2004l'

/** Ends the input; on a terminal, also clears the prompt so the shell's prompt starts on a clean line. */
function closeInput(rl: readline.Interface, interactive: boolean, out: NodeJS.WritableStream): void {
  if (interactive) clearPrompt(rl, out)
  rl.close()
}

/**
 * Clears the prompt and the half-typed line on every row it wraps over, leaving the cursor where the
 * prompt began: what is printed next takes its place, and `rl.prompt(true)` draws it again below.
 */
function clearPrompt(rl: readline.Interface | undefined, out: NodeJS.WritableStream): void {
  const rows = rl?.getCursorPos().rows ?? 0
  if (rows > 0) readline.moveCursor(out, 0, -rows)
  readline.cursorTo(out, 0)
  readline.clearScreenDown(out)
  // Readline redraws from the row it last left the cursor on: that row is now the prompt's first.
  if (rl) (rl as unknown as { prevRows: number }).prevRows = 0
}

/**
 * Input ended (or the user quit): wait for acknowledgements while they keep coming. Exit 0 only when
 * everything was delivered. What is still unacknowledged is safe in the durable outbox and goes out on the
 * next run (exit 7, or 10 when stalled input was given up, 11 when stdout was closed); in plain mode
 * nothing keeps it (exit 4).
 */
async function drain(
  node: ChatNode,
  started: StartedNode,
  flags: Flags,
  sent: number,
  note: (text: string) => void,
  io: Io,
  reason: 'eof' | 'interrupt' | 'quit' | 'stalled' | 'output-closed',
  waited = false,
): Promise<number> {
  if (node.pending === 0) {
    if (reason === 'stalled') return ExitCode.INPUT_LEFT
    if (reason === 'output-closed') return ExitCode.OUTPUT_CLOSED
    // Said whether the acknowledgements came before the end of input or during the wait: a script
    // reading stderr gets the same line either way.
    const total = sent + started.restoredPending
    if (total > 0) note(`all ${countText(total)} message(s) delivered`)
    return ExitCode.OK
  }
  let left = node.pending
  // Given up on stalled input, it already waited that long without an acknowledgement; stopped, it
  // does not wait at all.
  const stopped = reason === 'interrupt' || reason === 'output-closed'
  // Every peer dialed refused on its key, and nobody else is connected: nothing can come of a wait.
  if (!stopped && reason !== 'stalled' && !waited && flags.waitMs > 0 && !refusedEverywhere(node)) {
    const what = reason === 'quit' ? '/quit' : 'input ended'
    const counted = `${countText(node.pending)} message(s)`
    const limit = `(gives up after ${flags.waitMs / 1000}s without progress)`
    // Every dial was given up on otherwise: only a peer that links to this node can take them now. Plain
    // peers acknowledge nothing: a plain node waits for a link to take what it holds in memory.
    note(
      flags.plain
        ? `${what}; waiting for a peer to take ${counted}, held in memory only ${limit}`
        : givenUpEverywhere(node)
          ? `${what}; this node gave up on every peer it dials (see above): waiting for a peer that links to it to acknowledge ${counted} ${limit}`
          : `${what}; waiting for ${counted} to be acknowledged ${limit}`,
    )
    // A reader that left stops the wait too: nobody reads the `delivered` events it waits to print.
    const stop = io.outputClosed ? Promise.race([io.interrupted, io.outputClosed]) : io.interrupted
    left = await waitWhileProgressing(node, flags.waitMs, stop)
  }
  if (left === 0) {
    // What an earlier run left in the outbox went out too.
    note(`all ${countText(sent + started.restoredPending)} message(s) delivered`)
    return ExitCode.OK
  }
  if (started.failure()) {
    // The data dir failed under the node: what the failed write held is not in the outbox. The run ends
    // with the failure's own line and exit 5 (runProgram), whatever is returned here.
    note(
      `${countText(left)} message(s) not acknowledged yet; those taken before the data dir failed are in the outbox, the last ones taken may not be: check what the peer shows before sending them again`,
    )
    return ExitCode.DATA_DIR
  }
  // A TCP dial still in its setup (a connection taken, and no handshake finished: a service other than
  // parley, a paused node) has said nothing yet when --wait ends before its handshake timeout: without
  // this line the run would end without a word about that peer.
  if (!stopped && node.sessionsSnapshot().every((session) => !session.connected))
    for (const { target, state } of node.peerStates())
      if (
        keyOfAddress(target) === undefined &&
        (state.status === 'handshaking' || (state.status === 'connecting' && state.dialing))
      )
        note(
          `no link to ${targetLabel(target)}: its connection was still being set up when the wait ended (is parley listening there, and not paused?)`,
        )
  // Every peer dialed proved a key other than the one trusted for it: the next run meets the same.
  const untrusted = trustFailures(node)
  if (reason === 'stalled' && started.dataDir) {
    note(
      `${countText(left)} message(s) not acknowledged yet are safe in the outbox (${started.dataDir}); they are sent when parley next runs with this --data-dir`,
    )
    if (untrusted.length === 0) return ExitCode.INPUT_LEFT
    note(untrustedNote(untrusted))
    return ExitCode.TRUST
  }
  if (started.dataDir) {
    note(
      `${countText(left)} message(s) not acknowledged yet are safe in the outbox (${started.dataDir}); they are sent when parley next runs with this --data-dir`,
    )
    if (reason === 'interrupt') return ExitCode.OK
    if (reason === 'output-closed') return ExitCode.OUTPUT_CLOSED
    if (untrusted.length > 0) {
      note(untrustedNote(untrusted))
      return ExitCode.TRUST
    }
    const missing = started.missingKeys()
    if (missing.length === 0) return ExitCode.QUEUED
    const keys = missing.map((key) => `[${shortId(key)}]`).join(', ')
    // In text, the dial's own line ("cannot reach key …") gave the hint already; scripts read it here.
    note(
      flags.json
        ? `no node announces ${keys} on the DHT: is it running with --dht, and on the same --bootstrap?`
        : `no node announces ${keys} on the DHT (see above)`,
    )
    return ExitCode.PEER_NOT_FOUND
  }
  // Plain mode: no link took them, and nothing but this process held them.
  note(
    `${countText(left)} of ${countText(sent)} message(s) were not delivered: no peer took them, and --plain keeps no outbox, so they are lost (is the peer running?)`,
  )
  return ExitCode.UNDELIVERED
}

function showHistory(
  node: ChatNode,
  flags: Flags,
  json: (value: Record<string, unknown>) => void,
  out: (text: string) => void,
  note: (text: string) => void,
  labels: PeerLabels,
  withTime: boolean,
): void {
  if (flags.history === 0) return
  // A line sent in parts (`more`) is shown as that one line, as it was live, and counts once.
  const lines = recentHistory(node.history, flags.history)
  for (const line of lines) {
    const [first, ...rest] = line
    const action = parseAction(first.body)
    // A later part of an action is that action's text: its body, less the closing \u0001 of the last.
    const texts = rest.map((part) =>
      action === undefined ? part.body : actionPartText(part.body, !part.more),
    )
    if (flags.json) {
      json(jsonHistory(first))
      for (const [i, part] of rest.entries())
        json(jsonHistory(part, action === undefined ? {} : { action: texts[i] as string }))
      continue
    }
    const name = first.direction === 'out' ? `${labels.label(first.from)} (you)` : labels.label(first.from)
    out(
      formatMessage(name, first.body, first.ts, withTime, action) +
        texts.map((t) => formatContinued(name, t)).join(''),
    )
  }
  if (!flags.json) note(`--- ${lines.length} message(s) of history above; new session starts here ---`)
}

function fail(io: Io, error: unknown): number {
  return reportFailure('parley', error, io.stderr, io.env)
}
