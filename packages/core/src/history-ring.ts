/**
 * The recent history a node keeps in memory for its frontends, held so that the garbage collector does
 * not trace it entry by entry: ids and bodies as UTF-8 bytes in one buffer per half, numbers in typed
 * arrays, the sender as a reference to a `PeerInfo` that lives anyway. Kept as objects, every line of a
 * flood lived through thousands more and was copied out of V8's young generation into the old one: a
 * quarter of the time `parley --plain` took to pipe 100,000 lines.
 */
import type { HistoryEntry } from './journal.js'
import type { PeerInfo } from './peer-machine.js'
import { platform } from './platform.js'

/** The bytes a half starts with; it doubles as lines need. */
const FIRST_BYTES = 64 * 1024
/** The largest bound: a half's offsets are 32-bit, and a half may go one entry past its share. */
const MAX_BYTES = 2 ** 31

/**
 * The newest entries pushed, in order: the last `limit` of them, fewer when they are long. Two halves: once
 * the newer one holds `limit` entries, or the next entry would take it past `maxBytes / 2` bytes, the older
 * one is emptied and takes the next entries, so a push never moves what is held, and the whole stays
 * within `maxBytes` (an entry longer than half of it is held alone in its half). Text is held as UTF-8: a
 * lone surrogate comes back as U+FFFD, as it would from the wire.
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
    return Math.min(this.limit, this.newer.count + this.older.count)
  }

  push(direction: 'in' | 'out', id: string, seq: number, ts: number, from: PeerInfo, body: string): void {
    if (this.newer.count === this.limit || this.overflows(id, body)) this.swap()
    this.newer.push(direction, id, seq, ts, from, body)
  }

  /**
   * `push` for each body, the id of body `i` being `${idPrefix}${firstSeq + i}`: what a run of lines from
   * one sender adds, its text encoded in one go where it is ASCII. Only the last `limit` are kept anyway.
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
      if (this.newer.count === this.limit) this.swap()
      let end = Math.min(bodies.length, i + this.limit - this.newer.count)
      let units = 0
      for (let k = i; k < end; k++) units += (bodies[k] as string).length + 1
      // Near its bytes, a half takes the lines one by one, which counts them exactly.
      if (this.newer.used + units * 3 > this.halfBytes) end = i
      if (end === i || !this.newer.pushLines(direction, idPrefix, firstSeq, ts, from, bodies, i, end)) {
        end = Math.max(end, i + 1)
        for (; i < end; i++) {
          const body = bodies[i] as string
          this.push(direction, `${idPrefix}${firstSeq + i}`, firstSeq + i, ts, from, body)
        }
      }
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
    const fromOlder = Math.min(this.older.count, this.limit - this.newer.count)
    const out: HistoryEntry[] = []
    for (let i = this.older.count - fromOlder; i < this.older.count; i++) out.push(this.older.entry(i))
    for (let i = 0; i < this.newer.count; i++) out.push(this.newer.entry(i))
    return out
  }
}

/** Up to `capacity` entries: each one's id then body in `bytes`, and its fields at its index. */
class Half {
  count = 0
  /** Bytes of `bytes` in use. */
  used = 0
  private bytes: Uint8Array = new Uint8Array(FIRST_BYTES)
  /** Where each entry's id ends and its body starts, and where its body ends. */
  private readonly idEnd: Uint32Array
  private readonly end: Uint32Array
  private readonly seq: Float64Array
  private readonly ts: Float64Array
  private readonly outgoing: Uint8Array
  private readonly from: (PeerInfo | undefined)[]
  /** For an entry pushed in a run: its id is this and its seq, and its bytes hold the body alone. */
  private readonly idPrefix: (string | undefined)[]

  constructor(capacity: number) {
    this.idEnd = new Uint32Array(capacity)
    this.end = new Uint32Array(capacity)
    this.seq = new Float64Array(capacity)
    this.ts = new Float64Array(capacity)
    this.outgoing = new Uint8Array(capacity)
    this.from = new Array<PeerInfo | undefined>(capacity).fill(undefined)
    this.idPrefix = new Array<string | undefined>(capacity).fill(undefined)
  }

  push(direction: 'in' | 'out', id: string, seq: number, ts: number, from: PeerInfo, body: string): void {
    const i = this.count++
    this.write(id)
    this.idEnd[i] = this.used
    this.write(body)
    this.end[i] = this.used
    this.seq[i] = seq
    this.ts[i] = ts
    this.outgoing[i] = direction === 'out' ? 1 : 0
    this.from[i] = from
    this.idPrefix[i] = undefined
  }

  /**
   * Bodies `start` to `end` as entries, their text encoded at once, a newline between two: false, and
   * nothing pushed, when that text is not all ASCII (its offsets would not be its lengths).
   */
  pushLines(
    direction: 'in' | 'out',
    idPrefix: string,
    firstSeq: number,
    ts: number,
    from: PeerInfo,
    bodies: readonly string[],
    start: number,
    end: number,
  ): boolean {
    const text =
      start === 0 && end === bodies.length ? bodies.join('\n') : bodies.slice(start, end).join('\n')
    this.reserve(text.length * 3)
    const written = encoder.encodeInto(text, this.bytes.subarray(this.used)).written
    if (written !== text.length) return false
    let at = this.used
    const outgoing = direction === 'out' ? 1 : 0
    for (let k = start; k < end; k++) {
      const i = this.count++
      this.idEnd[i] = at
      at += (bodies[k] as string).length
      this.end[i] = at
      at++
      this.seq[i] = firstSeq + k
      this.ts[i] = ts
      this.outgoing[i] = outgoing
      this.from[i] = from
      this.idPrefix[i] = idPrefix
    }
    this.used += written
    return true
  }

  entry(i: number): HistoryEntry {
    const start = i === 0 ? 0 : (this.end[i - 1] as number)
    const idEnd = this.idEnd[i] as number
    const prefix = this.idPrefix[i]
    return {
      direction: this.outgoing[i] === 1 ? 'out' : 'in',
      id: prefix === undefined ? decode(this.bytes, start, idEnd) : `${prefix}${this.seq[i]}`,
      seq: this.seq[i] as number,
      ts: this.ts[i] as number,
      from: this.from[i] as PeerInfo,
      body: decode(this.bytes, idEnd, this.end[i] as number),
    }
  }

  /** Forgets every entry; the buffers stay for the next ones. */
  clear(): void {
    this.count = 0
    this.used = 0
    this.from.fill(undefined)
    this.idPrefix.fill(undefined)
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

/** The bytes `encodeInto` writes for `text`: a lone surrogate becomes U+FFFD, three bytes. */
function utf8Length(text: string): number {
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    if (unit < 0x80) bytes += 1
    else if (unit < 0x800) bytes += 2
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4
        i++
      } else bytes += 3
    } else bytes += 3
  }
  return bytes
}

function decode(bytes: Uint8Array, start: number, end: number): string {
  return start === end ? '' : decoder.decode(bytes.subarray(start, end))
}
