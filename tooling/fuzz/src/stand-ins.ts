/**
 * The surroundings of the node under fuzz, standing in for what a real run would have: a clock that moves
 * only when the run says so, links held in memory that carry the key a secure transport would have
 * proven, and a journal that counts bytes instead of writing them. They make a run deterministic and
 * fast; the node inside them is the real runtime.
 */
import {
  type Clock,
  type Journal,
  type JournalRecord,
  journalOrigin,
  type Link,
  type LinkHandlers,
  TransportError,
} from '@parley/core'

/** A clock that moves only when the run says so, firing due timers in order. */
export class FuzzClock implements Clock {
  private current = 0
  private nextHandle = 1
  private readonly timers = new Map<number, { at: number; callback: () => void }>()
  private deferred: (() => void)[] = []

  now(): number {
    return this.current
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const handle = this.nextHandle++
    this.timers.set(handle, { at: this.current + Math.max(0, ms), callback })
    return handle
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number)
  }

  defer(callback: () => void): void {
    this.deferred.push(callback)
  }

  advance(ms: number): void {
    const target = this.current + ms
    for (let rounds = 0; rounds < 10_000; rounds++) {
      const deferred = this.deferred
      this.deferred = []
      for (const callback of deferred) callback()
      let due: [number, { at: number; callback: () => void }] | undefined
      for (const entry of this.timers)
        if (entry[1].at <= target && (!due || entry[1].at < due[1].at)) due = entry
      if (!due) break
      this.timers.delete(due[0])
      this.current = Math.max(this.current, due[1].at)
      due[1].callback()
    }
    this.current = target
  }
}

/**
 * The node's end of a hostile link, held in memory. Like a socket it holds data while paused, tells of a
 * drained buffer, and reports its close on the next turn; like a secure link it carries the key the
 * remote end proved.
 */
export class FuzzLink implements Link {
  readonly direction = 'inbound'
  readonly localAddress = 'fuzz:0'
  readonly source: string
  private handlers: LinkHandlers | undefined
  private paused = false
  private readonly held: Uint8Array[] = []
  private blocked = false
  private closeDue: 'clean' | 'reset' | undefined
  private closed = false
  closedByNode = false

  constructor(
    readonly remoteAddress: string,
    readonly remoteKey: string,
    private readonly gone: (slot: number) => void,
    private readonly slot: number,
  ) {
    this.source = remoteAddress
  }

  attach(handlers: LinkHandlers): void {
    this.handlers = handlers
  }

  /** What the node writes: taken and dropped; now and then the buffer is said to be full until the next turn. */
  write(_chunk: Uint8Array): boolean {
    if (this.closed || this.closedByNode) return false
    if (this.blocked) return false
    this.blocked = (this.remoteAddress.charCodeAt(this.remoteAddress.length - 1) + _chunk.length) % 97 === 0
    return !this.blocked
  }

  pause(): void {
    this.paused = true
  }

  resume(): void {
    this.paused = false
  }

  end(): void {
    this.nodeClosed('clean')
  }

  destroy(): void {
    this.nodeClosed('reset')
  }

  /** Bytes from the hostile peer, in `pieces` chunks. */
  deliver(bytes: Uint8Array, pieces: number): void {
    if (this.closed) return
    const size = Math.max(1, Math.ceil(bytes.length / pieces))
    for (let at = 0; at < bytes.length; at += size) this.receive(bytes.subarray(at, at + size))
  }

  /** The hostile peer hangs up. */
  remoteClose(how: 'end' | 'reset'): void {
    if (this.closed) return
    this.closed = true
    this.held.length = 0
    this.handlers?.close(
      how === 'reset' ? new TransportError('RESET', 'connection reset by peer') : undefined,
    )
  }

  /** On each turn: held data goes in once resumed, a full buffer drains, a close is reported. */
  serve(): void {
    if (this.closed) return
    while (!this.paused && this.held.length > 0 && !this.closedByNode) this.handlers?.data(this.held.shift()!)
    if (this.blocked) {
      this.blocked = false
      this.handlers?.drain()
    }
    if (this.closeDue) {
      const how = this.closeDue
      this.closed = true
      this.handlers?.close(how === 'reset' ? new TransportError('RESET', 'connection reset') : undefined)
    }
  }

  private receive(chunk: Uint8Array): void {
    if (this.paused || this.held.length > 0 || !this.handlers) {
      this.held.push(chunk.slice())
      return
    }
    this.handlers.data(chunk)
  }

  private nodeClosed(how: 'clean' | 'reset'): void {
    if (this.closedByNode) return
    this.closedByNode = true
    this.closeDue = how
    this.held.length = 0
    if (this.slot >= 0) this.gone(this.slot)
  }
}

/** A journal that keeps nothing but counts what each member would make it hold, as the store does. */
export class CountingJournal implements Journal {
  private bytes = new Map<string, number>()
  private counted = 0
  readonly usage = {
    bytesOf: (origin: string) => this.bytes.get(origin) ?? 0,
    total: 0,
  }

  append(records: readonly JournalRecord[]): Promise<void> {
    for (const record of records) {
      const origin = journalOrigin(record)
      if (origin === undefined) continue
      const size = JSON.stringify(record).length + 1
      this.bytes.set(origin, (this.bytes.get(origin) ?? 0) + size)
      this.counted += size
    }
    this.usage.total = this.counted
    return Promise.resolve()
  }

  /** What a compaction does to the counts: most of what was held is let go. */
  compact(): void {
    this.bytes = new Map()
    this.counted = 0
    this.usage.total = 0
  }
}
