/**
 * The hostile peers: what each link sends, frame by frame. Valid-looking frames (a real handshake, chained
 * and signed messages of several members, acks) mixed with every kind of wrong one: truncated, oversized,
 * split, merged, wrong types, bad signatures, huge maps, odd unicode names, replays and out-of-order
 * messages. Deterministic from the rng; it learns only which links the node closed.
 */
import type { MessageAuth, Msg } from '@parley/core'
import { createMessageAuth, type KeyPair } from '@parley/secure'
import { idOf, type Rng, seededKeyPair } from './random.js'

/** What the driver does next. Only `frame` actions count as frames. */
export type Action =
  | { readonly kind: 'open'; readonly slot: number; readonly key: string }
  | {
      readonly kind: 'frame'
      readonly slot: number
      readonly bytes: Uint8Array
      /** What kind of frame it is, for the report of a failure. */
      readonly label: string
      /** Delivered in this many pieces (1: in one chunk). */
      readonly pieces: number
    }
  | { readonly kind: 'close'; readonly slot: number; readonly how: 'end' | 'reset' }

/** A member whose messages the fuzzer makes: its own key, its chain, what it sent (for replays). */
class Member {
  readonly id: string
  readonly auth: MessageAuth
  seq = 0
  head: string | undefined
  readonly recent: Msg[] = []
  /** Made but held back, to be sent after later ones (out of order). */
  readonly held: Msg[] = []

  constructor(
    readonly keyPair: KeyPair,
    readonly name: string,
  ) {
    this.id = idOf(keyPair)
    this.auth = createMessageAuth(keyPair)
  }

  next(rng: Rng, body: string, name: string | undefined, ts: number): Msg {
    const msg: Msg = { type: 'msg', id: rng.hex(16), seq: ++this.seq, ts, from: this.id, body }
    if (name !== undefined) msg.name = name
    const prev = this.head ?? this.auth.genesis(this.id)
    msg.prev = prev
    this.head = this.auth.chain(prev, msg)
    // Signed as bursts are: now and then, and always on the last of a run.
    if (rng.chance(0.15)) msg.sig = this.auth.sign(this.head)
    this.recent.push(msg)
    if (this.recent.length > 16) this.recent.shift()
    return msg
  }
}

interface Slot {
  open: boolean
  member?: Member
  /** Frames queued for this link ahead of random ones (its handshake). */
  readonly queue: { bytes: Uint8Array; label: string }[]
}

export const SLOTS = 3
const IDENTITIES = 6
const ORIGINS = 6
const encoder = new TextEncoder()

/** Frames of the protocol's form: a uint32 big-endian length, then the bytes. */
export function frameOf(body: Uint8Array | string): Uint8Array {
  const bytes = typeof body === 'string' ? encoder.encode(body) : body
  const frame = new Uint8Array(4 + bytes.length)
  new DataView(frame.buffer).setUint32(0, bytes.length)
  frame.set(bytes, 4)
  return frame
}

const ODD_NAMES = [
  'bob',
  'b\u200bob',
  'ｂｏｂ',
  'BOB',
  'carol> ok\n<bob',
  '\u202eevil',
  'x\u2028y',
  'a\u0000b',
  '',
  'n'.repeat(65),
  '\ud800',
  '🙂🙂',
  'e\u0301',
  '$(touch /tmp/x)',
]

const PIECES = [
  'hi',
  'hello world ',
  'é',
  '中文',
  '🙂',
  '\u200b',
  '\u202e',
  '\u2028',
  '\u0001',
  '\ud800',
  '"',
  '\\',
  '\n',
]

export class HostilePeers {
  readonly victimId: string
  readonly members: Member[] = []
  readonly origins: Member[] = []
  private readonly slots: Slot[] = []
  private readonly texts: string[] = []
  private ts = 1_700_000_000_000

  constructor(
    private readonly rng: Rng,
    victimId: string,
    private readonly maxFrame: number,
  ) {
    this.victimId = victimId
    for (let i = 0; i < IDENTITIES; i++) this.members.push(new Member(seededKeyPair(rng), `peer${i}`))
    for (let i = 0; i < ORIGINS; i++) this.origins.push(new Member(seededKeyPair(rng), `origin${i}`))
    for (let i = 0; i < SLOTS; i++) this.slots.push({ open: false, queue: [] })
    for (let i = 0; i < 32; i++) {
      let text = ''
      while (text.length < 2 * 10_001) {
        const piece = rng.pick(PIECES)
        text += piece.repeat(1 + rng.int(64))
      }
      this.texts.push(text)
    }
  }

  /** The node closed the link in `slot`: the next action there opens another. */
  closed(slot: number): void {
    const s = this.slots[slot]!
    s.open = false
    s.queue.length = 0
  }

  next(): Action {
    const slot = this.rng.int(SLOTS)
    const s = this.slots[slot]!
    this.ts += 1 + this.rng.int(50)
    if (!s.open) return this.open(slot, s)
    const queued = s.queue.shift()
    if (queued) return { kind: 'frame', slot, ...queued, pieces: 1 }
    const roll = this.rng.next()
    if (roll < 0.01) {
      s.open = false
      return { kind: 'close', slot, how: this.rng.chance(0.5) ? 'end' : 'reset' }
    }
    return this.frame(slot, s, roll)
  }

  private open(slot: number, s: Slot): Action {
    // Mostly a member not linked already; sometimes the same one twice, which the node must resolve.
    const linked = new Set(this.slots.filter((other) => other.open).map((other) => other.member))
    const free = this.members.filter((m) => !linked.has(m))
    const member = this.rng.pick(free.length > 0 && this.rng.chance(0.9) ? free : this.members)
    s.open = true
    s.member = member
    s.queue.length = 0
    if (this.rng.chance(0.9)) {
      s.queue.push({ bytes: this.json(this.hello(member)), label: 'hello' })
      // The lower id decides which link is kept; the node answers with its own accept otherwise.
      if (member.id < this.victimId) s.queue.push({ bytes: this.json({ type: 'accept' }), label: 'accept' })
      s.queue.push({ bytes: this.json({ type: 'ack', upTo: 0, base: member.seq }), label: 'opening ack' })
    } else {
      s.queue.push({ bytes: this.json(this.mutate(this.hello(member))), label: 'mutated hello' })
    }
    return { kind: 'open', slot, key: member.id }
  }

  private hello(member: Member): Record<string, unknown> {
    const caps = ['room/1']
    if (this.rng.chance(0.1)) caps.push(`epoch:${this.rng.hex(8)}`)
    return { type: 'hello', v: '1.0', id: member.id, name: member.name, caps }
  }

  private frame(slot: number, s: Slot, roll: number): Action {
    const member = s.member!
    const r = this.rng
    const frame = (bytes: Uint8Array, label: string, pieces = 1): Action => ({
      kind: 'frame',
      slot,
      bytes,
      label,
      pieces,
    })
    // Frames that make the node close the link are rarer than the rest, so that links live long enough
    // for their members' messages, acks and replays to reach the room.
    if (roll < 0.42) return frame(this.json(this.ownMessage(member)), 'message')
    if (roll < 0.62) return frame(this.json(this.relayed()), 'relayed message')
    if (roll < 0.73) return frame(this.json(this.ack()), 'ack')
    if (roll < 0.78) return frame(this.json(this.control(member)), 'control')
    if (roll < 0.86) return frame(this.json(this.mutate(this.anyMessage(member))), 'mutated')
    if (roll < 0.89) {
      // Several frames in one chunk.
      const parts = Array.from({ length: 2 + r.int(6) }, () => this.json(this.ownMessage(member)))
      return frame(concat(parts), 'merged messages')
    }
    if (roll < 0.94) return frame(this.json(this.ownMessage(member)), 'split message', 2 + r.int(12))
    return frame(this.broken(s), 'malformed bytes')
  }

  private ownMessage(member: Member): Msg {
    return this.vary(member, member.next(this.rng, this.body(), this.name(member), this.ts))
  }

  private relayed(): Msg {
    const r = this.rng
    if (r.chance(0.05)) {
      // A member nobody can vouch for: a random id.
      return { type: 'msg', id: r.hex(8), seq: 1 + r.int(5), ts: this.ts, from: r.hex(64), body: this.body() }
    }
    const origin = r.pick(this.origins)
    return this.vary(origin, origin.next(r, this.body(), this.name(origin), this.ts))
  }

  /** Replays, out-of-order runs, tampering after signing, a broken chain, odd hop counts. */
  private vary(member: Member, msg: Msg): Msg {
    const r = this.rng
    const roll = r.next()
    if (roll < 0.05) {
      member.held.push(msg)
      return member.next(r, this.body(), this.name(member), this.ts)
    }
    if (roll < 0.1 && member.held.length > 0) return member.held.shift()!
    if (roll < 0.14) return r.pick(member.recent)
    if (roll < 0.17) return { ...msg, body: `${msg.body}!` }
    if (roll < 0.19) return { ...msg, prev: r.hex(43) }
    if (roll < 0.2) return { ...msg, sig: r.hex(86) }
    if (roll < 0.22) return { ...msg, hops: r.int(256) }
    return msg
  }

  private ack(): Record<string, unknown> {
    const r = this.rng
    const ack: Record<string, unknown> = { type: 'ack', upTo: this.number() }
    if (r.chance(0.3)) ack.base = this.number()
    if (r.chance(0.4)) ack.have = this.watermarks()
    if (r.chance(0.3)) ack.bases = this.watermarks()
    if (r.chance(0.1)) ack.more = true
    return ack
  }

  private watermarks(): Record<string, unknown> {
    const r = this.rng
    const roll = r.next()
    const size =
      roll < 0.5 ? r.int(2) : roll < 0.8 ? 1 + r.int(5) : roll < 0.95 ? r.int(40) : r.pick([256, 257, 400])
    const map: Record<string, unknown> = {}
    for (let i = 0; i < size; i++) {
      const key = r.chance(0.02)
        ? 'not-an-id'
        : r.pick([
            () => r.pick(this.origins).id,
            () => r.pick(this.members).id,
            () => this.victimId,
            () => r.hex(64),
            () => r.hex(16),
          ])()
      map[key] = this.number()
    }
    return map
  }

  private control(member: Member): Record<string, unknown> {
    const r = this.rng
    switch (r.int(8)) {
      case 0:
        return { type: 'ping', n: this.number() }
      case 1:
        return { type: 'pong', n: this.number() }
      case 2:
        return { type: 'throttle', retryMs: r.pick([0, 1, 500, 3_600_000, 3_600_001, -5]) }
      case 3:
        return { type: 'accept' }
      case 4:
        return this.hello(member)
      case 5:
        return { type: 'bye', reason: this.text(r.int(300)) }
      case 6:
        return { type: 'future-kind', data: this.text(20) }
      default:
        return {
          type: 'hello',
          v: r.pick(['2.0', '1.9', '0.1', 'x']),
          id: member.id,
          name: member.name,
          caps: [],
        }
    }
  }

  private anyMessage(member: Member): Record<string, unknown> {
    switch (this.rng.int(4)) {
      case 0:
        return this.hello(member)
      case 1:
        return this.ack()
      case 2:
        return { ...this.ownMessage(member) }
      default:
        return { ...this.relayed() }
    }
  }

  /** One to three changes that break the schema: a field dropped or of the wrong type, or an extra one. */
  private mutate(message: Record<string, unknown>): unknown {
    const r = this.rng
    if (r.chance(0.1)) return this.oddValue()
    const out: Record<string, unknown> = { ...message }
    for (let n = 1 + r.int(3); n > 0; n--) {
      const keys = Object.keys(out)
      const key =
        keys.length > 0 && r.chance(0.8) ? r.pick(keys) : r.pick(['extra', '__proto__', 'constructor', 'x'])
      if (r.chance(0.25)) delete out[key]
      // Defined, not assigned: "__proto__" becomes a key of the JSON rather than the prototype.
      else
        Object.defineProperty(out, key, {
          value: this.oddValue(),
          enumerable: true,
          writable: true,
          configurable: true,
        })
    }
    return out
  }

  private oddValue(): unknown {
    const r = this.rng
    switch (r.int(r.chance(0.1) ? 14 : 10)) {
      case 0:
        return null
      case 1:
        return r.chance(0.5)
      case 2:
        return -1
      case 3:
        return 1.5
      case 4:
        return Number.MAX_SAFE_INTEGER + 2
      case 5:
        return 1e308
      case 6:
        return this.text(r.int(100))
      case 7:
        return []
      case 8:
        return { nested: { deeper: [1, 'two', null] } }
      case 9:
        return r.hex(64)
      // The costly ones, less often.
      case 10: {
        const big: Record<string, number> = {}
        for (let i = 0; i < 2000; i++) big[`k${i}`] = i
        return big
      }
      case 11: {
        // Deep nesting: the parser must refuse or take it without overflowing the stack.
        let deep: unknown = 0
        for (let i = 0; i < 200 + r.int(3000); i++) deep = [deep]
        return deep
      }
      case 12:
        return 'x'.repeat(10_001)
      default:
        return this.number()
    }
  }

  private number(): unknown {
    const r = this.rng
    if (r.chance(0.9)) return r.pick([0, 1, 2, 7, r.int(100), r.int(1_000_000), Number.MAX_SAFE_INTEGER])
    return r.pick([-1, 0.5, '3', null, Number.MAX_SAFE_INTEGER + 1])
  }

  /** Bytes that are not a well-formed frame, or a frame of what is not a message. */
  private broken(s: Slot): Uint8Array {
    const r = this.rng
    switch (r.int(10)) {
      case 0:
        return frameOf(r.bytes(r.int(200)))
      case 1:
        return frameOf(Uint8Array.of(0xff, 0xfe, 0x7b, 0x7d))
      case 2:
        return frameOf('')
      case 3: {
        // A length far past the limit: refused before any body is buffered.
        const header = new Uint8Array(4)
        new DataView(header.buffer).setUint32(0, this.maxFrame + 1 + r.int(0x7fffffff - this.maxFrame))
        return header
      }
      case 4:
        return frameOf(`{"type":"msg","body":"${'a'.repeat(r.int(100))}`)
      case 5:
        return encoder.encode('hello there, is this an irc server?\r\n')
      case 6: {
        // The first part of a frame; the rest comes next on this link, or never.
        const whole = this.json(this.ownMessage(s.member!))
        const cut = 1 + r.int(whole.length - 1)
        if (r.chance(0.7)) s.queue.unshift({ bytes: whole.slice(cut), label: 'rest of a truncated frame' })
        return whole.slice(0, cut)
      }
      case 7:
        // Exactly at the frame limit, of junk.
        return frameOf('x'.repeat(this.maxFrame))
      case 8:
        return frameOf(JSON.stringify(this.text(500)))
      default:
        return r.bytes(1 + r.int(64))
    }
  }

  private json(value: unknown): Uint8Array {
    return frameOf(JSON.stringify(value))
  }

  private name(member: Member): string | undefined {
    const r = this.rng
    if (r.chance(0.9)) return member.name
    return r.chance(0.2) ? undefined : r.pick(ODD_NAMES)
  }

  private body(): string {
    const r = this.rng
    const roll = r.next()
    const length =
      roll < 0.8 ? r.int(80) : roll < 0.97 ? 80 + r.int(500) : roll < 0.995 ? 500 + r.int(9501) : 10_001
    return this.text(length)
  }

  /** Text cut from one of the pool's texts at a random place: cheap, and still every kind of character. */
  private text(length: number): string {
    const source = this.rng.pick(this.texts)
    const start = this.rng.int(source.length - length + 1)
    return source.slice(start, start + length)
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}
