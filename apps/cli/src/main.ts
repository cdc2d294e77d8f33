import * as readline from 'node:readline'
import { AddressError, type ChatNode, type HistoryEntry, type NodeEvent } from '@parley/core'
import {
  DropDigest,
  describeEvent,
  describeMembers,
  ExitCode,
  FatalError,
  type Flags,
  jsonMember,
  logFileOf,
  PeerLabels,
  packageVersion,
  parseAddress,
  parseFlags,
  reportFailure,
  type StartedNode,
  showIdentity,
  splitBody,
  startNode,
  startupNotes,
  usage,
} from '@parley/launcher'
import { encodeInvite } from '@parley/secure'
import { OutboxWatch } from './outbox-watch.js'
import { formatMessage, formatStatus, jsonEvent, jsonHistory, jsonSent } from './output.js'

export interface Io {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean }
  stdout: NodeJS.WritableStream & { isTTY?: boolean }
  stderr: NodeJS.WritableStream
  env: NodeJS.ProcessEnv
  /** Resolves when the user asks to quit (Ctrl-C, SIGTERM). */
  interrupted: Promise<void>
}

export const SUMMARY = 'peer-to-peer chat for the terminal; each line you type is one message'

export function version(): string {
  return packageVersion(new URL('../package.json', import.meta.url))
}

/** Runs `parley` with its arguments; resolves with the process exit code. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
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
  const { id, fingerprint, dataDir } = await showIdentity(flags, io.env)
  if (flags.json)
    io.stdout.write(`${JSON.stringify({ type: 'id', id, fingerprint: fingerprint.full, dataDir })}\n`)
  else io.stdout.write(`node id (public key): ${id}\ndata dir: ${dataDir}\n${fingerprint.full}\n`)
  return ExitCode.OK
}

/** `parley invite`: one line holding the listen address and this node's key. */
async function printInvite(flags: Flags, io: Io): Promise<number> {
  const { id } = await showIdentity(flags, io.env)
  let code: string
  try {
    code = encodeInvite({ address: flags.listen, key: id })
  } catch (error) {
    throw new FatalError(
      ExitCode.USAGE,
      `${error instanceof Error ? error.message : String(error)} (see --help)`,
    )
  }
  io.stdout.write(`${code}\n`)
  io.stderr.write(`parley: give this to your peer; they run: parley --join ${code}\n`)
  return ExitCode.OK
}

async function chat(flags: Flags, io: Io): Promise<number> {
  const interactive = Boolean(io.stdin.isTTY && io.stdout.isTTY) && !flags.json
  const withTime = Boolean(io.stdout.isTTY)
  const rl = readline.createInterface({
    input: io.stdin,
    ...(interactive ? { output: io.stdout, terminal: true, prompt: '> ' } : { terminal: false }),
  })
  rl.pause()
  // Incoming lines are printed above the prompt, then the prompt and the half-typed line are redrawn.
  const print = (stream: NodeJS.WritableStream, text: string) => {
    if (!interactive) {
      stream.write(`${text}\n`)
      return
    }
    readline.clearLine(io.stdout, 0)
    readline.cursorTo(io.stdout, 0)
    stream.write(`${text}\n`)
    rl.prompt(true)
  }
  const json = (value: Record<string, unknown>) => io.stdout.write(`${JSON.stringify(value)}\n`)
  const labels = new PeerLabels()
  // Received messages are written a batch at a time, each write followed by its display mark.
  // Lines shown again while the node starts (journaled but unmarked last time) are marked once it is up.
  const earlyMarks = new Map<string, number>()
  let markShown: StartedNode['markShown'] = (marks) => {
    for (const [peer, seq] of marks) earlyMarks.set(peer, Math.max(earlyMarks.get(peer) ?? 0, seq))
  }
  const display = new LineBatch(
    (text) => print(io.stdout, text),
    (marks) => markShown(marks),
  )
  // Under attack every dropped connection would be a line: a few per window, then one summary.
  const logFile = logFileOf(flags, io.env)
  const drops = new DropDigest(
    (line) => print(io.stderr, formatStatus(line)),
    logFile ? { log: logFile } : {},
  )
  const onEvent = (event: NodeEvent) => {
    labels.observe(event)
    if (flags.json) {
      if (event.type === 'message') {
        display.add(JSON.stringify(jsonEvent(event)), event.from.id, event.seq)
        return
      }
      json(jsonEvent(event))
      if (event.type === 'link-error') drops.push(describeEvent(event)!)
      return
    }
    if (event.type === 'message') {
      display.add(
        formatMessage(labels.label(event.from), event.body, event.ts, withTime),
        event.from.id,
        event.seq,
      )
      return
    }
    const status = describeEvent(event)
    if (status && event.type === 'link-error') drops.push(status)
    else if (status) print(io.stderr, formatStatus(status))
  }

  let started: StartedNode
  try {
    started = await startNode(flags, onEvent, {}, io.env)
    markShown = started.markShown
    if (earlyMarks.size > 0) markShown(earlyMarks)
  } catch (error) {
    rl.close()
    throw error
  }
  const { node } = started
  const note = (text: string) => print(io.stderr, `parley: ${text}`)
  if (!started.secure) {
    note('PLAIN MODE: nothing is encrypted or authenticated; anyone on the path can read and forge messages')
  } else if (!flags.json) {
    note(`you are ${flags.name} [${started.fingerprint?.short}] (full fingerprint: parley id)`)
    for (const text of startupNotes(started)) note(text)
  }
  showHistory(node, flags, json, (text) => print(io.stdout, text), note, labels, withTime)

  let sent = 0
  // Backpressure to stdin: while the outbox is this full, stop reading input instead of growing memory.
  let inputPaused = false
  const outbox = new OutboxWatch()
  node.on((event) => {
    if (event.type === 'delivered' && inputPaused && outbox.drained(node.pending)) {
      inputPaused = false
      rl.resume()
    }
  })
  const command = (line: string): boolean => {
    if (line === '/peers') {
      const members = node.members()
      if (flags.json) json({ type: 'peers', members: members.map(jsonMember) })
      else for (const text of describeMembers(members, labels)) note(text)
      return true
    }
    const connect = /^\/connect(?:\s+(\S*))?\s*$/.exec(line)
    if (!connect) return false
    try {
      const target = parseAddress(connect[1] ?? '')
      node.connect(target)
      note(`dialing ${target} (keeps retrying until it answers)`)
    } catch (error) {
      if (!(error instanceof AddressError)) throw error
      note(`/connect needs HOST:PORT, as in /connect 127.0.0.1:4002 (${error.message})`)
    }
    return true
  }
  rl.on('line', (raw) => {
    if (command(raw)) {
      if (interactive) rl.prompt()
      return
    }
    // `//text` sends `/text`, so a line that looks like a command can still be said.
    const line = raw.startsWith('//') ? raw.slice(1) : raw
    for (const body of splitBody(line)) {
      const message = node.send(body)
      outbox.sent(body)
      sent++
      // "sent" means accepted: durable in the outbox, so it survives a crash from here on.
      if (flags.json) void message.durable.then(() => json(jsonSent(message, body)))
    }
    if (!inputPaused && outbox.full(node.pending)) {
      inputPaused = true
      rl.pause()
    }
    if (interactive) rl.prompt()
  })
  if (interactive) rl.prompt()

  const inputEnded = new Promise<'eof'>((resolve) => rl.once('close', () => resolve('eof')))
  rl.resume()
  const reason = await Promise.race([inputEnded, io.interrupted.then(() => 'interrupt' as const)])
  rl.close()
  const code = reason === 'eof' ? await drain(node, started, flags, sent, note, io) : ExitCode.OK
  await node.close(reason === 'interrupt' ? 'quit' : 'input ended')
  return code
}

/**
 * Input ended: wait for acknowledgements. With a durable outbox, what is still unacknowledged is safe
 * on disk and goes out next time, so that is a success too; in plain mode nothing can wait.
 */
async function drain(
  node: ChatNode,
  started: StartedNode,
  flags: Flags,
  sent: number,
  note: (text: string) => void,
  io: Io,
): Promise<number> {
  if (node.pending === 0) return ExitCode.OK
  note(`input ended; waiting up to ${flags.waitMs / 1000}s for ${node.pending} message(s) to be acknowledged`)
  const left = await Promise.race([node.whenDelivered(flags.waitMs), io.interrupted.then(() => node.pending)])
  if (left === 0) {
    note(`all ${sent} message(s) delivered`)
    return ExitCode.OK
  }
  if (started.dataDir) {
    note(
      `${left} message(s) not acknowledged yet are safe in the outbox (${started.dataDir}); they are sent when parley next runs with this --data-dir`,
    )
    return ExitCode.OK
  }
  note(`${left} of ${sent} message(s) were not delivered: no peer acknowledged them (is the peer running?)`)
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
  const entries: readonly HistoryEntry[] = node.history.slice(-flags.history)
  for (const entry of entries) {
    if (flags.json) json(jsonHistory(entry))
    else
      out(
        formatMessage(
          entry.direction === 'out' ? `${labels.label(entry.from)} (you)` : labels.label(entry.from),
          entry.body,
          entry.ts,
          withTime,
        ),
      )
  }
  if (!flags.json) note(`--- ${entries.length} message(s) of history above; new session starts here ---`)
}

function fail(io: Io, error: unknown): number {
  return reportFailure('parley', error, io.stderr, io.env)
}

/**
 * Received lines collected during one turn of the event loop and written in as few calls as possible,
 * each call at most one pipe buffer (so the kernel takes it whole or not at all) and followed at once
 * by the display mark of the lines it carried: a kill -9 can then cost at most the span between two
 * system calls, never a half-written batch shown twice.
 */
class LineBatch {
  private lines: { text: string; from: string; seq: number }[] = []

  constructor(
    private readonly write: (text: string) => void,
    private readonly mark: (marks: ReadonlyMap<string, number>) => void,
  ) {}

  add(text: string, from: string, seq: number): void {
    this.lines.push({ text, from, seq })
    if (this.lines.length === 1) queueMicrotask(() => this.flush())
  }

  flush(): void {
    const lines = this.lines
    this.lines = []
    let chunk: string[] = []
    let bytes = 0
    let marks = new Map<string, number>()
    const send = () => {
      if (chunk.length === 0) return
      this.write(chunk.join('\n'))
      this.mark(marks)
      chunk = []
      bytes = 0
      marks = new Map()
    }
    for (const line of lines) {
      const size = Buffer.byteLength(line.text) + 1
      if (bytes + size > PIPE_CHUNK) send()
      chunk.push(line.text)
      bytes += size
      marks.set(line.from, Math.max(marks.get(line.from) ?? 0, line.seq))
    }
    send()
  }
}

/** Linux writes up to PIPE_BUF (4096) bytes to a pipe atomically. */
const PIPE_CHUNK = 4000
