/**
 * The structured log: one JSON object per line for every connection event, refused ones included,
 * so an operator can see an attack. It rotates once to `FILE.1` when it grows past a limit.
 */
import {
  closeSync,
  createWriteStream,
  lstatSync,
  openSync,
  readSync,
  renameSync,
  statSync,
  type WriteStream,
} from 'node:fs'
import type { NodeEvent } from '@parley/core'
import { isLinkRefusal, linkAdvice, openForAppend } from '@parley/store'
import { ExitCode, FatalError } from './exit-codes.js'
import { jsonLine } from './json-line.js'
import { unrefTimeout } from './timers.js'

export const DEFAULT_LOG_LIMIT_BYTES = 10 * 1024 * 1024

/**
 * A link blocked for less than this is not logged: a piped file fills a link for a moment whenever the
 * sender runs ahead of a peer that reads fine (180 times in 100,000 lines on loopback). Logged, those
 * moments buried the lines an operator looks for. A peer that stops reading for longer adds two lines a
 * stall, so at most two a second per link.
 */
export const BLOCKED_GRACE_MS = 1_000

export interface EventLogOptions {
  /** The size at which the log moves to `FILE.1` (default 10 MiB). */
  readonly limitBytes?: number
  /** A link blocked this long is logged as `peer-not-reading` (default `BLOCKED_GRACE_MS`). */
  readonly graceMs?: number
  readonly now?: () => number
  /** Calls `callback` after `ms`; the returned function cancels it. */
  readonly schedule?: (callback: () => void, ms: number) => () => void
  /**
   * Told once, in one line, when the log cannot be opened: the node runs on without it, and the person
   * who asked for it should know. (A write that fails later drops log lines quietly, as it always did.)
   */
  readonly onProblem?: (message: string) => void
  /**
   * A file the user named (`--log-file`): refused (`FatalError`, exit 2) when it already holds something
   * other than a parley log, so that connection events are never appended to a file of theirs.
   */
  readonly refuseForeign?: boolean
}

/** A link found blocked: since when, whether that is logged yet, and how to cancel the check. */
interface Block {
  readonly since: number
  logged: boolean
  cancel: () => void
}

export class EventLog {
  private stream: WriteStream | undefined
  private size: number
  private readonly limitBytes: number
  private readonly graceMs: number
  private readonly now: () => number
  private readonly schedule: (callback: () => void, ms: number) => () => void
  /** Links blocked now, by peer id: one entry a link at most, gone when it reads again or closes. */
  private readonly blocked = new Map<string, Block>()
  private closed = false

  /** `options` as a number is `limitBytes` alone, as earlier releases took it. */
  constructor(
    readonly file: string,
    options: EventLogOptions | number = {},
  ) {
    if (typeof options === 'number') options = { limitBytes: options }
    this.limitBytes = options.limitBytes ?? DEFAULT_LOG_LIMIT_BYTES
    this.graceMs = options.graceMs ?? BLOCKED_GRACE_MS
    this.now = options.now ?? Date.now
    this.schedule = options.schedule ?? unrefTimeout
    this.onProblem = options.onProblem
    this.size = sizeOf(file)
    const foreign = options.refuseForeign ? foreignStart(file) : undefined
    if (foreign !== undefined)
      throw new FatalError(
        ExitCode.USAGE,
        `the log ${file} already holds something other than parley's log (it starts "${foreign}"): parley appends only to its own; give --log-file a new file, or an empty one`,
      )
    try {
      this.stream = this.open()
    } catch (error) {
      // Appending through a planted link would write peers' names into any file of ours (a shell rc).
      if (isLinkRefusal(error)) throw new FatalError(ExitCode.DATA_DIR, linkAdvice(file), { cause: error })
      // Any other failure is as before: a log that cannot be written must never take the node down.
      this.stream = undefined
      this.problem(error)
    }
  }

  private readonly onProblem: ((message: string) => void) | undefined
  private told = false

  /** Tells `onProblem` that the log could not be opened. */
  private problem(error: unknown): void {
    if (this.told) return
    this.told = true
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message
    const what = code === 'EISDIR' ? 'it is a directory' : code
    this.onProblem?.(`cannot write the log ${this.file} (${what}); parley runs without it`)
  }

  /**
   * Records the events worth keeping; chat messages are not logged (their bodies are private). A link
   * that stops taking our writes is logged once it has stayed blocked `graceMs`, and then again when it
   * reads, with how long it was blocked.
   */
  record(event: NodeEvent): void {
    if (this.closed) return
    if (event.type === 'backpressure') {
      this.backpressure(event.peer.id, event.blocked)
      return
    }
    if (event.type === 'connected' || event.type === 'disconnected') this.unblock(event.peer.id)
    this.write(logEntry(event))
  }

  /** Links found blocked and not reading again yet (for tests: it never holds more than the open links). */
  get blockedLinks(): number {
    return this.blocked.size
  }

  close(): Promise<void> {
    this.closed = true
    for (const id of [...this.blocked.keys()]) this.unblock(id)
    return new Promise((resolve) => {
      if (this.stream) this.stream.end(resolve)
      else resolve()
    })
  }

  private backpressure(peerId: string, isBlocked: boolean): void {
    if (!isBlocked) {
      const block = this.unblock(peerId)
      if (block?.logged)
        this.write({ level: 'info', event: 'peer-reading', peerId, blockedMs: this.blockedMs(block) })
      return
    }
    if (this.blocked.has(peerId)) return
    const block: Block = { since: this.now(), logged: false, cancel: () => {} }
    block.cancel = this.schedule(() => {
      if (this.blocked.get(peerId) !== block) return
      block.logged = true
      this.write({ level: 'info', event: 'peer-not-reading', peerId, blockedMs: this.blockedMs(block) })
    }, this.graceMs)
    this.blocked.set(peerId, block)
  }

  /**
   * How long the link has been blocked: at least the grace once logged, since timers and the wall clock
   * (which `now` reads, and which may step) do not keep exactly the same time.
   */
  private blockedMs(block: Block): number {
    return Math.max(this.graceMs, this.now() - block.since)
  }

  /**
   * Forgets a link's block (it reads again, or it opened or closed) and returns it. A logged block that
   * ends with its link has no `peer-reading`: the `disconnected` line closes it, or the `connected` line of
   * the link that replaced it.
   */
  private unblock(peerId: string): Block | undefined {
    const block = this.blocked.get(peerId)
    if (!block) return undefined
    this.blocked.delete(peerId)
    block.cancel()
    return block
  }

  private write(entry: Record<string, unknown> | undefined): void {
    if (!entry || !this.stream) return
    const line = `${jsonLine({ ts: new Date(this.now()).toISOString(), ...entry })}\n`
    const bytes = Buffer.byteLength(line)
    if (this.size + bytes > this.limitBytes) this.rotate()
    this.size += bytes
    this.stream?.write(line)
  }

  private open(): WriteStream {
    const stream = createWriteStream(this.file, { fd: openForAppend(this.file, 0o600) })
    // A log that cannot be written must never take the node down.
    stream.on('error', () => undefined)
    return stream
  }

  private rotate(): void {
    this.stream?.end()
    try {
      renameSync(this.file, `${this.file}.1`)
    } catch {
      // Keep appending to the same file if it cannot be moved aside.
    }
    this.size = 0
    try {
      this.stream = this.open()
    } catch {
      // Cannot reopen (a link appeared, the disk went away): drop log lines rather than the node.
      this.stream = undefined
    }
  }
}

function logEntry(event: NodeEvent): Record<string, unknown> | undefined {
  switch (event.type) {
    case 'listening':
      return { level: 'info', event: 'listening', address: event.address }
    case 'connected':
      return {
        level: event.sameNameAs ? 'warn' : 'info',
        event: 'connected',
        peer: event.peer.name,
        peerId: event.peer.id,
        address: event.address,
        direction: event.direction,
        ...(event.sameNameAs ? { sameNameAs: event.sameNameAs } : {}),
        ...(event.replaced ? { replaced: event.replaced } : {}),
      }
    case 'disconnected':
      return {
        level: 'info',
        event: 'disconnected',
        peer: event.peer.name,
        peerId: event.peer.id,
        reason: event.reason,
      }
    case 'link-error':
      return {
        level: 'warn',
        event: 'refused',
        address: event.address,
        code: event.code,
        reason: event.message,
      }
    case 'dial-error':
      return {
        level: 'info',
        event: 'dial-failed',
        target: event.target,
        code: event.code,
        reason: event.message,
      }
    case 'peer-state':
      return event.state.status === 'failed'
        ? {
            level: 'warn',
            event: 'gave-up',
            target: event.target,
            code: event.state.error.code,
            reason: event.state.error.message,
          }
        : undefined
    case 'throttled':
      return { level: 'info', event: 'throttled-by-peer', peer: event.peer.name, peerId: event.peer.id }
    case 'backpressure':
      // Logged by `EventLog.record` once a link stays blocked.
      return undefined
    case 'member':
      return {
        level: event.sameNameAs || event.renamedFrom !== undefined ? 'warn' : 'info',
        event: 'member',
        via: event.via,
        peer: event.peer.name,
        peerId: event.peer.id,
        ...(event.sameNameAs ? { sameNameAs: event.sameNameAs } : {}),
        ...(event.renamedFrom !== undefined ? { renamedFrom: event.renamedFrom } : {}),
        ...(event.lastSent !== undefined ? { lastSent: event.lastSent } : {}),
        ...(event.hereAt !== undefined ? { hereAt: event.hereAt } : {}),
      }
    case 'member-left':
      return {
        level: 'info',
        event: 'member-left',
        peer: event.peer.name,
        peerId: event.peer.id,
        ...(event.at !== undefined ? { at: event.at } : {}),
        ...(event.reason !== undefined ? { reason: event.reason } : {}),
      }
    case 'member-lost':
      return {
        level: 'info',
        event: 'member-lost',
        peer: event.peer.name,
        peerId: event.peer.id,
        by: event.by.name,
        byId: event.by.id,
        at: event.at,
      }
    case 'journal-error':
      return { level: 'error', event: 'journal-error', reason: event.message }
    case 'forked':
      return {
        level: 'error',
        event: 'forked',
        peer: event.peer.name,
        peerId: event.peer.id,
        upTo: event.upTo,
        newest: event.newest,
        pending: event.pending,
      }
    case 'same-key':
      return {
        level: 'warn',
        event: 'same-key',
        peer: event.peer.name,
        peerId: event.peer.id,
        addresses: event.addresses.map((a) => a.listen ?? a.address),
      }
    case 'key-in-use':
      return { level: 'warn', event: 'key-in-use', peer: event.peer.name, peerId: event.peer.id }
    case 'journal-compacted':
      return {
        level: 'info',
        event: 'journal-compacted',
        records: event.records,
        keptRecords: event.keptRecords,
        bytes: event.bytes,
        keptBytes: event.keptBytes,
      }
    case 'journal-compaction-failed':
      return { level: 'warn', event: 'journal-compaction-failed', reason: event.message }
    case 'closed':
      return { level: 'info', event: 'closed' }
    case 'message':
    case 'lines':
    case 'delivered':
    case 'settled':
      return undefined
    default: {
      const _exhaustive: never = event
      return _exhaustive
    }
  }
}

/** @deprecated The same as `jsonLine`, under the name it had when only the log used it. */
export const logLine = jsonLine

/**
 * The start of `file`, when it is a regular file that holds something and its first line is not a line of
 * parley's log (a JSON object, `{"ts":` first, as `jsonLine` writes it): `--log-file notes.txt`, or a
 * system file for a node run as root, must not get connection events appended to it.
 */
const LOG_START = '{"ts":"'

function foreignStart(file: string): string | undefined {
  let fd: number | undefined
  try {
    // Not followed through a link (the open refuses one later, with its own advice), and never blocking
    // on a FIFO.
    const info = lstatSync(file, { bigint: true })
    if (!info.isFile() || info.size === 0n) return undefined
    fd = openSync(file, 'r')
    const head = Buffer.alloc(64)
    const text = head.toString('utf8', 0, readSync(fd, head, 0, head.length, 0))
    // A log line, or the start of one a crash cut short, or zeros a power loss left: parley's own.
    if (text.startsWith(LOG_START) || LOG_START.startsWith(text.split('\n')[0]!) || text.startsWith('\0'))
      return undefined
    const first = text.split('\n')[0]!.slice(0, 24)
    return `${first.replace(/[^\x20-\x7e]/g, '?')}${first.length < text.split('\n')[0]!.length ? '…' : ''}`
  } catch {
    // Not there, or not readable: the open says what is wrong, as before.
    return undefined
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

function sizeOf(file: string): number {
  try {
    // BigInt stats: a plain stat of a FIFO given as the log would leave its mode where Node 20's
    // realpathSync reads it, and later module loads through links would fail.
    return Number(statSync(file, { bigint: true }).size)
  } catch {
    return 0
  }
}
