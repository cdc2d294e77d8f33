/**
 * The recent history a node keeps in memory for its frontends, held so that the garbage collector does
 * not trace it entry by entry: ids and bodies as UTF-8 bytes in one buffer per half, numbers in typed
 * arrays, the sender as a reference to a `PeerInfo` that lives anyway. Kept as objects, every line of a
 * flood lived through thousands more and was copied out of V8's young generation into the old one: a
 * quarter of the time `parley --plain` took to pipe 100,000 lines.
 */
import type { HistoryEntry } from './journal.js'
import { lineId } from './msg-lines.js'
import type { PeerInfo } from './peer-machine.js'
import { platform } from './platform.js'
import { utf8Length } from './text-cut.js'

/** The bytes a half starts with; it doubles as lines need. */
const FIRST_BYTES = 64 * 1024
/** The entries a half has room for at first; it doubles as they come. */
const FIRST_ENTRIES = 256
/** The largest bound: a half's offsets are 32-bit, and a half may go one entry past its share. */
const MAX_BYTES = 2 ** 31
/** The bits of an entry's flags: sent by this node; its last line goes on in the sender's next message. */
const OUTGOING = 1
const MORE = 2

/**
 * The newest entries pushed, in order: the last `limit` of them, fewer when they are long. Two halves: once
 * the newer one holds `limit` lines, or the next would take it past `maxBytes / 2` bytes, the older one is
 * emptied and takes the next ones, so a push never moves what is held, and the whole stays within
 * `maxBytes` (an entry longer than half of it is held alone in its half). A run of lines (`pushLines`) is
 * held as one entry of the half and counts its lines. Text is held as UTF-8: a lone surrogate comes back
 * as U+FFFD, as it would from the wire.
 * @example
 * const history = new HistoryRing(10_000, 16 * 1024 * 1024)
 * history.push('in', 'a-1', 1, Date.now(), peer, 'hello')
 * history.entries() // [{ direction: 'in', id: 'a-1', seq: 1, ts: …, from: peer, body: 'hello' }]
 */
export class HistoryRing {
  private newer: Half
  private older: Half
  private readonly halfBytes: number

  constructor(
    private readonly limit: number,
    maxBytes: number,
  ) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer')
    if (!(maxBytes > 0 && maxBytes <= MAX_BYTES)) throw new RangeError(`maxBytes must be 1 to ${MAX_BYTES}`)
    this.halfBytes = maxBytes / 2
    this.newer = new Half(limit)
    this.older = new Half(limit)
  }

  /** Bytes of text held (ids and bodies), both halves. */
  get bytes(): number {
    return this.newer.used + this.older.used
  }

  /** Entries held: up to `limit`. */
  get length(): number {
    return Math.min(this.limit, this.newer.lines + this.older.lines)
  }

  /**
   * `more`: the line goes on in the sender's next message (`msg.more`). `at`: when a received message
   * arrived, by this node's clock (`HistoryEntry.at`).
   */
  push(
    direction: 'in' | 'out',
    id: string,
    seq: number,
    ts: number,
    from: PeerInfo,
    body: string,
    more?: true,
    at?: number,
  ): void {
    if (this.newer.lines === this.limit || this.overflows(id, body)) this.swap()
    this.newer.add(direction, id, undefined, seq, 1, ts, from, body, more, at)
  }

  /**
   * The lines one message carried (`msg.lines`): `body` holds `lines` lines cut by newlines, line `k` with
   * id `lineId(id, k)` and the message's seq. Held as one entry, split into lines when read.
   */
  pushMessageLines(
    direction: 'in' | 'out',
    id: string,
    seq: number,
    ts: number,
    from: PeerInfo,
    body: string,
    lines: number,
    more?: true,
    at?: number,
  ): void {
    if (lines > this.limit) {
      // Longer than the whole history: only its last lines are kept, one by one.
      const bodies = body.split('\n')
      const last = bodies.length - 1
      for (let k = bodies.length - this.limit; k < bodies.length; k++) {
        const goesOn = k === last ? more : undefined
        this.push(direction, lineId(id, k), seq, ts, from, bodies[k] as string, goesOn, at)
      }
      return
    }
    if (this.newer.lines + lines > this.limit || this.overflows(id, body)) this.swap()
    this.newer.add(direction, id, undefined, seq, lines, ts, from, body, more, at)
  }

  /**
   * `push` for each body, the id of body `i` being `${idPrefix}${firstSeq + i}`: what a run of lines from
   * one sender adds. The run is held as one entry, its bodies' text encoded at once, so it costs no work
   * per line; it is split into lines when read. Bodies must not hold a newline (lines never do). Only the
   * last `limit` are kept anyway.
   */
  pushLines(
    direction: 'in' | 'out',
    idPrefix: string,
    firstSeq: number,
    ts: number,
    from: PeerInfo,
    bodies: readonly string[],
  ): void {
    let i = Math.max(0, bodies.length - this.limit)
    while (i < bodies.length) {
      if (this.newer.lines === this.limit) this.swap()
      const end = Math.min(bodies.length, i + this.limit - this.newer.lines)
      const text = i === 0 && end === bodies.length ? bodies.join('\n') : bodies.slice(i, end).join('\n')
      // Near its bytes, a half takes the lines one by one, which counts them exactly.
      if (this.newer.used + text.length * 3 > this.halfBytes) {
        this.push(direction, `${idPrefix}${firstSeq + i}`, firstSeq + i, ts, from, bodies[i] as string)
        i++
        continue
      }
      this.newer.pushRun(direction, idPrefix, firstSeq + i, end - i, ts, from, text)
      i = end
    }
  }

  private swap(): void {
    const emptied = this.older
    emptied.clear()
    this.older = this.newer
    this.newer = emptied
  }

  /** Whether the newer half holds something and `id` and `body` would take it past its bytes. */
  private overflows(id: string, body: string): boolean {
    const { used, count } = this.newer
    // Three bytes per UTF-16 unit at most: only near the bound are the bytes counted.
    if (count === 0 || used + (id.length + body.length) * 3 <= this.halfBytes) return false
    return used + utf8Length(id) + utf8Length(body) > this.halfBytes
  }

  /** The entries held, oldest first, made afresh on each call. */
  entries(): HistoryEntry[] {
    const fromOlder = Math.min(this.older.lines, this.limit - this.newer.lines)
    const out: HistoryEntry[] = []
    if (fromOlder > 0) out.push(...this.older.all().slice(-fromOlder))
    out.push(...this.newer.all())
    return out
  }
}

/**
 * Up to `capacity` lines, as entries: a line (its id then its body in `bytes`) or a run of lines (their
 * bodies in `bytes`, a newline between two; ids made from a prefix and the seq), and each one's fields
 * at its index.
 */
class Half {
  /** Entries held. */
  count = 0
  /** Lines held, each run counting its lines. */
  lines = 0
  /** Bytes of `bytes` in use. */
  used = 0
  private bytes: Uint8Array = new Uint8Array(FIRST_BYTES)
  /**
   * Room for this many entries now: it doubles as entries come, up to `capacity`, so a node that starts
   * does not fill arrays for 10,000 lines first, and runs of lines, an entry each, never need them.
   */
  private room: number
  /** Where each entry's id ends and its body starts, and where its body ends. */
  private idEnd: Uint32Array
  private end: Uint32Array
  private seq: Float64Array
  private ts: Float64Array
  /** When each entry arrived (`HistoryEntry.at`), NaN where it has no such time. */
  private at: Float64Array
  /** `OUTGOING`, and `MORE` when the entry's last line goes on in the sender's next message. */
  private outgoing: Uint8Array
  private readonly from: (PeerInfo | undefined)[] = []
  /** For a run: what its lines' ids start with (each ends with its seq). */
  private readonly idPrefix: (string | undefined)[] = []
  /** Lines in each entry: 1, or a run's. */
  private size: Uint32Array

  constructor(private readonly capacity: number) {
    this.room = Math.min(capacity, FIRST_ENTRIES)
    this.idEnd = new Uint32Array(this.room)
    this.end = new Uint32Array(this.room)
    this.seq = new Float64Array(this.room)
    this.ts = new Float64Array(this.room)
    this.at = new Float64Array(this.room)
    this.outgoing = new Uint8Array(this.room)
    this.size = new Uint32Array(this.room)
  }

  /** The index of a new entry, the arrays grown if they are full. */
  private next(): number {
    if (this.count === this.room) {
      this.room = Math.min(this.capacity, this.room * 2)
      this.idEnd = grown(this.idEnd, new Uint32Array(this.room))
      this.end = grown(this.end, new Uint32Array(this.room))
      this.seq = grown(this.seq, new Float64Array(this.room))
      this.ts = grown(this.ts, new Float64Array(this.room))
      this.at = grown(this.at, new Float64Array(this.room))
      this.outgoing = grown(this.outgoing, new Uint8Array(this.room))
      this.size = grown(this.size, new Uint32Array(this.room))
    }
    return this.count++
  }

  /** `lines` lines from seq `firstSeq` on, `text` their bodies with a newline between two, as one entry. */
  pushRun(
    direction: 'in' | 'out',
    idPrefix: string,
    firstSeq: number,
    lines: number,
    ts: number,
    from: PeerInfo,
    text: string,
  ): void {
    this.add(direction, '', idPrefix, firstSeq, lines, ts, from, text)
  }

  /**
   * An entry: `id` then `text` in the bytes (a run has no id of its own, but `idPrefix`). An entry with an
   * id and more than one line is the lines of one message (`text` cut by newlines, one seq, ids from `id`).
   */
  add(
    direction: 'in' | 'out',
    id: string,
    idPrefix: string | undefined,
    seq: number,
    lines: number,
    ts: number,
    from: PeerInfo,
    text: string,
    more?: true,
    at?: number,
  ): void {
    const i = this.next()
    this.write(id)
    this.idEnd[i] = this.used
    this.write(text)
    this.end[i] = this.used
    this.seq[i] = seq
    this.ts[i] = ts
    this.at[i] = at ?? Number.NaN
    this.outgoing[i] = (direction === 'out' ? OUTGOING : 0) | (more ? MORE : 0)
    this.from[i] = from
    this.idPrefix[i] = idPrefix
    this.size[i] = lines
    this.lines += lines
  }

  /** Every line held, oldest first. */
  all(): HistoryEntry[] {
    const out: HistoryEntry[] = []
    for (let i = 0; i < this.count; i++) {
      const prefix = this.idPrefix[i]
      if (prefix === undefined && this.size[i] === 1) {
        out.push(this.entry(i))
        continue
      }
      if (prefix === undefined) {
        const { direction, id, seq, ts, at, from, body, more } = this.entry(i)
        const bodies = body.split('\n')
        const last = bodies.length - 1
        for (let k = 0; k < bodies.length; k++) {
          const line: HistoryEntry = {
            direction,
            id: lineId(id, k),
            seq,
            ts,
            ...(at === undefined ? {} : { at }),
            from,
            body: bodies[k] as string,
          }
          out.push(more && k === last ? { ...line, more } : line)
        }
        continue
      }
      const direction = (this.outgoing[i] as number) & OUTGOING ? 'out' : 'in'
      const first = this.seq[i] as number
      const ts = this.ts[i] as number
      const from = this.from[i] as PeerInfo
      // UTF-8 never holds a newline byte inside a character, and no body holds one: a run splits cleanly.
      const bodies = decode(this.bytes, this.idEnd[i] as number, this.end[i] as number).split('\n')
      for (const [k, body] of bodies.entries()) {
        out.push({ direction, id: `${prefix}${first + k}`, seq: first + k, ts, from, body })
      }
    }
    return out
  }

  /** A single line's entry. */
  private entry(i: number): HistoryEntry {
    const start = i === 0 ? 0 : (this.end[i - 1] as number)
    const idEnd = this.idEnd[i] as number
    const flags = this.outgoing[i] as number
    const at = this.at[i] as number
    const entry: HistoryEntry = {
      direction: flags & OUTGOING ? 'out' : 'in',
      id: decode(this.bytes, start, idEnd),
      seq: this.seq[i] as number,
      ts: this.ts[i] as number,
      ...(Number.isNaN(at) ? {} : { at }),
      from: this.from[i] as PeerInfo,
      body: decode(this.bytes, idEnd, this.end[i] as number),
    }
    return flags & MORE ? { ...entry, more: true } : entry
  }

  /** Forgets every entry; the buffers stay for the next ones. */
  clear(): void {
    this.count = 0
    this.lines = 0
    this.used = 0
    this.from.length = 0
    this.idPrefix.length = 0
  }

  private write(text: string): void {
    // UTF-8 takes at most three bytes per UTF-16 unit.
    this.reserve(text.length * 3)
    this.used += encoder.encodeInto(text, this.bytes.subarray(this.used)).written
  }

  /** Room for `most` more bytes. */
  private reserve(most: number): void {
    if (this.used + most > this.bytes.length) {
      let size = this.bytes.length * 2
      while (this.used + most > size) size *= 2
      const grown = new Uint8Array(size)
      grown.set(this.bytes.subarray(0, this.used))
      this.bytes = grown
    }
  }
}

const encoder = new platform.TextEncoder()
const decoder = new platform.TextDecoder('utf-8')

/** `to` (larger) holding what `from` holds. */
function grown<T extends Uint8Array | Uint32Array | Float64Array>(from: T, to: T): T {
  to.set(from)
  return to
}

function decode(bytes: Uint8Array, start: number, end: number): string {
  return start === end ? '' : decoder.decode(bytes.subarray(start, end))
}
