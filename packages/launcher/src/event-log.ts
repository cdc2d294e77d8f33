/**
 * The structured log: one JSON object per line for every connection event, refused ones included,
 * so an operator can see an attack. It rotates once to `FILE.1` when it grows past a limit.
 */
import { createWriteStream, renameSync, statSync, type WriteStream } from 'node:fs'
import type { NodeEvent } from '@parley/core'
import { isLinkRefusal, linkAdvice, openForAppend } from '@parley/store'
import { ExitCode, FatalError } from './exit-codes.js'

export const DEFAULT_LOG_LIMIT_BYTES = 10 * 1024 * 1024

export class EventLog {
  private stream: WriteStream | undefined
  private size: number

  constructor(
    readonly file: string,
    private readonly limitBytes = DEFAULT_LOG_LIMIT_BYTES,
  ) {
    this.size = sizeOf(file)
    try {
      this.stream = this.open()
    } catch (error) {
      // Appending through a planted link would write peers' names into any file of ours (a shell rc).
      if (isLinkRefusal(error)) throw new FatalError(ExitCode.DATA_DIR, linkAdvice(file), { cause: error })
      // Any other failure is as before: a log that cannot be written must never take the node down.
      this.stream = undefined
    }
  }

  /** Records the events worth keeping; chat messages are not logged (their bodies are private). */
  record(event: NodeEvent): void {
    const entry = logEntry(event)
    if (!entry || !this.stream) return
    const line = `${logLine({ ts: new Date().toISOString(), ...entry })}\n`
    if (this.size + line.length > this.limitBytes) this.rotate()
    this.size += Buffer.byteLength(line)
    this.stream?.write(line)
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.stream) this.stream.end(resolve)
      else resolve()
    })
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
      return {
        level: 'info',
        event: event.blocked ? 'peer-not-reading' : 'peer-reading',
        peerId: event.peer.id,
      }
    case 'member':
      return {
        level: event.sameNameAs || event.renamedFrom !== undefined ? 'warn' : 'info',
        event: 'member',
        via: event.via,
        peer: event.peer.name,
        peerId: event.peer.id,
        ...(event.sameNameAs ? { sameNameAs: event.sameNameAs } : {}),
        ...(event.renamedFrom !== undefined ? { renamedFrom: event.renamedFrom } : {}),
      }
    case 'journal-error':
      return { level: 'error', event: 'journal-error', reason: event.message }
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

/**
 * One JSON line that nothing a peer sends can break, turn around or hide in: JSON escapes the C0
 * controls; this also escapes C1 controls, line and paragraph separators, bidi and invisible characters,
 * and `$` and backquote, so a name like `$(touch /tmp/x)` stays inert even inside a shell's double quotes.
 * @example logLine({ peer: 'a\u2028b' }) // '{"peer":"a\\u2028b"}'
 */
export function logLine(entry: Record<string, unknown>): string {
  return JSON.stringify(entry).replace(
    /[\u007f-\u009f$`\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/gu,
    (c) => {
      let out = ''
      for (let i = 0; i < c.length; i++) out += `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`
      return out
    },
  )
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size
  } catch {
    return 0
  }
}
