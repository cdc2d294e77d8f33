/**
 * The structured log: one JSON object per line for every connection event, refused ones included,
 * so an operator can see an attack. It rotates once to `FILE.1` when it grows past a limit.
 */
import { createWriteStream, renameSync, statSync, type WriteStream } from 'node:fs'
import type { NodeEvent } from '@parley/core'

export const DEFAULT_LOG_LIMIT_BYTES = 10 * 1024 * 1024

export class EventLog {
  private stream: WriteStream
  private size: number

  constructor(
    readonly file: string,
    private readonly limitBytes = DEFAULT_LOG_LIMIT_BYTES,
  ) {
    this.size = sizeOf(file)
    this.stream = this.open()
  }

  /** Records the events worth keeping; chat messages are not logged (their bodies are private). */
  record(event: NodeEvent): void {
    const entry = logEntry(event)
    if (!entry) return
    const line = `${JSON.stringify({ ts: new Date().toISOString(), ...entry })}\n`
    if (this.size + line.length > this.limitBytes) this.rotate()
    this.size += Buffer.byteLength(line)
    this.stream.write(line)
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(resolve))
  }

  private open(): WriteStream {
    const stream = createWriteStream(this.file, { flags: 'a', mode: 0o600 })
    // A log that cannot be written must never take the node down.
    stream.on('error', () => undefined)
    return stream
  }

  private rotate(): void {
    this.stream.end()
    try {
      renameSync(this.file, `${this.file}.1`)
    } catch {
      // Keep appending to the same file if it cannot be moved aside.
    }
    this.size = 0
    this.stream = this.open()
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
        level: event.sameNameAs ? 'warn' : 'info',
        event: 'member',
        via: event.via,
        peer: event.peer.name,
        peerId: event.peer.id,
        ...(event.sameNameAs ? { sameNameAs: event.sameNameAs } : {}),
      }
    case 'journal-error':
      return { level: 'error', event: 'journal-error', reason: event.message }
    case 'closed':
      return { level: 'info', event: 'closed' }
    case 'message':
    case 'delivered':
      return undefined
    default: {
      const _exhaustive: never = event
      return _exhaustive
    }
  }
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size
  } catch {
    return 0
  }
}
