import { createRequire } from 'node:module'
import type * as Zod from 'zod'
import { ProtocolError } from './errors.js'
import { MAX_NAME_LENGTH, peerNameProblem, shownName } from './names.js'

/** The protocol this build speaks. Peers with another major version are refused; minor versions interoperate. */
export const PROTOCOL_VERSION = '1.1'
export const PROTOCOL_MAJOR = 1

/**
 * Upper bound on a message body, in UTF-16 code units. JSON escapes a control character or a lone
 * surrogate as six bytes, so even the worst body (60,000 bytes) fits a default 64 KiB frame.
 */
export const MAX_BODY_LENGTH = 10_000

/**
 * The most lines one `msg` may carry (`lines`): every line but the last ends in a newline, so a body of
 * `MAX_BODY_LENGTH` holds at most this many.
 */
export const MAX_LINES_PER_MSG = MAX_BODY_LENGTH + 1

/** Hops a message may still travel when `hops` is absent: enough for any chain of relays up to 64 long. */
export const DEFAULT_HOPS = 64
/** A `have` or `bases` map lists at most this many origins per frame; a longer one is split over frames. */
export const MAX_ORIGINS_PER_ACK = 256

// The rules the zod schemas and the hand checks (`fastParse`) share.
const NODE_ID = /^[0-9a-f]{16,128}$/
const TOKEN = /^[0-9a-zA-Z_:.+/=-]{1,256}$/
const VERSION = /^\d{1,4}\.\d{1,4}$/
const BYE_CODE = /^[A-Z][A-Z0-9_]{0,39}$/
const MAX_ID_LENGTH = 64
const MAX_HOPS = 255
const MAX_CAPS = 32
const MAX_CAP_LENGTH = 32
const MAX_LISTEN_LENGTH = 300
const MAX_RETRY_MS = 3_600_000
/** The longest reason a `bye`, or a `gone` presence, carries (UTF-16 units). */
export const MAX_REASON_LENGTH = 200
/** The states a `here` frame says a member is in. */
export const HERE_STATES = ['here', 'gone'] as const
export type HereState = (typeof HERE_STATES)[number]

/**
 * The schema of record for every frame, in zod. It is built on first use, and zod is loaded then: the
 * frames a node meets every day are checked by hand (`fastParse`, which decides exactly as these schemas
 * do), so zod, whose loading took about 70 ms of every start-up, is loaded only to word why a frame was
 * refused, or for a frame the hand checks leave to it.
 */
function defineSchemas(z: typeof Zod.z) {
  const nodeId = z.string().regex(NODE_ID, 'a node id is 16-128 lowercase hex digits')
  const seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
  /** Chain hashes and signatures: opaque to core, made and checked by a MessageAuth. */
  const token = z.string().regex(TOKEN, 'a hash or signature is 1-256 token characters')

  const HelloSchema = z.object({
    type: z.literal('hello'),
    /** Protocol version as MAJOR.MINOR. */
    v: z.string().regex(VERSION),
    id: nodeId,
    /**
     * Refused with a control character (no release could send one, and the `bye` tells the peer why);
     * cleaned of bidi, zero-width and line-separator characters, which earlier releases allowed, so no
     * name from the network can start a line or hide. A relayed `msg` name is cleaned later, by the room.
     */
    name: z
      .string()
      .min(1)
      .max(MAX_NAME_LENGTH)
      .superRefine((name, ctx) => {
        const problem = peerNameProblem(name)
        if (problem) ctx.addIssue({ code: 'custom', message: `${problem}; pick another name (--name)` })
      })
      .transform((name) => shownName(name, name)),
    caps: z.array(z.string().max(MAX_CAP_LENGTH)).max(MAX_CAPS),
    /** The address this node listens on, so a peer can tell an inbound link from a peer it also dials. */
    listen: z.string().max(MAX_LISTEN_LENGTH).optional(),
  })

  /** Sent by the node with the lower id on the link it keeps; the other side waits for it before chatting. */
  const AcceptSchema = z.object({
    type: z.literal('accept'),
  })

  const MsgSchema = z
    .object({
      type: z.literal('msg'),
      id: z.string().min(1).max(MAX_ID_LENGTH),
      /** Position in the sender's own stream of messages, from 1. */
      seq: seq.min(1),
      /** Milliseconds since the epoch, at the sender. */
      ts: z.number().int().min(0),
      from: nodeId,
      body: z.string().max(MAX_BODY_LENGTH),
      /** The origin's display name, so members who are not directly connected can name it. */
      name: z.string().min(1).max(MAX_NAME_LENGTH).optional(),
      /** How many more links the message may cross; absent means DEFAULT_HOPS. Relays lower it by one. */
      hops: z.number().int().min(0).max(MAX_HOPS).optional(),
      /** The origin's chain hash of the message before this one (the genesis hash for its first). */
      prev: token.optional(),
      /** The origin's signature over this message's chain hash; present on the last message of each burst. */
      sig: token.optional(),
      /**
       * The body is this many lines, each a message of its own to whoever shows it (piped lines, sent
       * together): exactly `lines - 1` newlines. Absent, the body is one message, newlines and all.
       */
      lines: z.number().int().min(2).max(MAX_LINES_PER_MSG).optional(),
      /**
       * The body's last line goes on in this origin's next message: a line longer than `MAX_BODY_LENGTH`,
       * sent in parts. Absent, the body ends its line (earlier releases show each part as a line).
       */
      more: z.literal(true).optional(),
    })
    .refine((msg) => msg.lines === undefined || newlinesIn(msg.body) === msg.lines - 1, {
      message: 'a msg of n lines has n - 1 newlines in its body',
      path: ['lines'],
    })

  /** Origin id to seq: a watermark per member of the room. */
  const watermarks = z
    .record(nodeId, seq)
    .refine((map) => Object.keys(map).length <= MAX_ORIGINS_PER_ACK, 'too many origins in one ack')

  /** Cumulative: the receiver has every message of the link's peer up to and including `upTo`. */
  const AckSchema = z.object({
    type: z.literal('ack'),
    upTo: seq,
    /**
     * Sent once when a link opens: the sender will never send seqs up to `base` on this session (they were
     * settled before the receiver's current state began), so the receiver expects `base + 1` next.
     */
    base: seq.optional(),
    /** What the sender has shown of each other origin (not its own, not the receiver's): all on open, then changes. */
    have: watermarks.optional(),
    /** Sent on open: the sender can no longer send seqs up to `bases[origin]` of that origin (its window moved on). */
    bases: watermarks.optional(),
    /** More opening acks follow (a long `have` map is split); the receiver resumes on the last one. */
    more: z.literal(true).optional(),
    /**
     * On open: the id of the receiver's message `upTo` as the sender has it, so the receiver can tell that
     * its own stream went back (its data dir was restored from an older copy); earlier releases ignore it.
     */
    upToId: z.string().min(1).max(MAX_ID_LENGTH).optional(),
  })

  const PingSchema = z.object({ type: z.literal('ping'), n: seq })
  const PongSchema = z.object({ type: z.literal('pong'), n: seq })

  /** The receiver is rate-limiting this link: nothing is dropped, it reads again after `retryMs`. */
  const ThrottleSchema = z.object({
    type: z.literal('throttle'),
    retryMs: z.number().int().min(0).max(MAX_RETRY_MS),
  })

  const ByeSchema = z.object({
    type: z.literal('bye'),
    reason: z.string().max(MAX_REASON_LENGTH),
    /** The code of a refusal (`OVER_QUOTA`), so the other end can act on it; earlier releases ignore it. */
    code: z.string().regex(BYE_CODE).optional(),
  })

  /**
   * A member says it is in the room (`here`) or left it (`gone`), signed by its key (`sig`, over
   * `canonicalHere`); relayed with its known fields, only to neighbours whose hello announces the `here`
   * cap. Earlier releases ignore it.
   */
  const HereSchema = z.object({
    type: z.literal('here'),
    from: nodeId,
    /** Its name as it wrote it; cleaned where it is shown, as a relayed `msg` name is. */
    name: z.string().min(1).max(MAX_NAME_LENGTH),
    /** Milliseconds since the epoch, at the member: only a newer one replaces what is held. */
    ts: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    state: z.enum(HERE_STATES),
    sig: token.optional(),
    /**
     * Why it left (a `gone`), as its `bye` says, signed apart (`reasonSig`, over `canonicalHereReason`) so
     * that `sig` stays what earlier releases check: they drop both and relay the rest.
     */
    reason: z.string().max(MAX_REASON_LENGTH).optional(),
    reasonSig: token.optional(),
  })

  /**
   * A neighbour of `member` lost its link to it without a `gone` (a crash, a lost network), while it held
   * the member's presence dated `ts`; signed by that neighbour (`from`, over `canonicalLost`). Sent only to
   * neighbours whose hello announces the `lost` cap. Earlier releases ignore it.
   */
  const LostSchema = z.object({
    type: z.literal('lost'),
    from: nodeId,
    member: nodeId,
    ts: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    sig: token.optional(),
  })

  const MessageSchema = z.discriminatedUnion('type', [
    HelloSchema,
    AcceptSchema,
    MsgSchema,
    AckSchema,
    PingSchema,
    PongSchema,
    ThrottleSchema,
    ByeSchema,
    HereSchema,
    LostSchema,
  ])
  return { MessageSchema, ByeSchema }
}

type Schemas = ReturnType<typeof defineSchemas>
let built: Schemas | undefined

/** The zod schemas of every frame, built (and zod loaded) on the first call. */
export function messageSchemas(): Schemas {
  if (!built) {
    const { z } = createRequire(import.meta.url)('zod') as typeof Zod
    built = defineSchemas(z)
  }
  return built
}

export type Hello = Extract<Message, { type: 'hello' }>
export type Accept = Extract<Message, { type: 'accept' }>
export type Msg = Extract<Message, { type: 'msg' }>
export type Ack = Extract<Message, { type: 'ack' }>
export type Ping = Extract<Message, { type: 'ping' }>
export type Pong = Extract<Message, { type: 'pong' }>
export type Bye = Extract<Message, { type: 'bye' }>
export type Throttle = Extract<Message, { type: 'throttle' }>
export type Here = Extract<Message, { type: 'here' }>
export type Lost = Extract<Message, { type: 'lost' }>
export type Message = Zod.infer<Schemas['MessageSchema']>
export type MessageType = Message['type']

const KNOWN_TYPES: ReadonlySet<string> = new Set<MessageType>([
  'hello',
  'accept',
  'msg',
  'ack',
  'ping',
  'pong',
  'throttle',
  'bye',
  'here',
  'lost',
])

/**
 * Checks a parsed JSON value against the schema.
 * Returns `undefined` for a well-formed message of a type this version does not know (forward compatibility),
 * and throws a ProtocolError for anything else that is wrong.
 */
export function parseMessage(value: unknown): Message | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError('BAD_MESSAGE', 'a message must be a JSON object')
  }
  const type = (value as { type?: unknown }).type
  if (typeof type !== 'string') throw new ProtocolError('BAD_MESSAGE', 'a message needs a string "type"')
  if (!KNOWN_TYPES.has(type)) return undefined
  if (type === 'hello') checkVersion((value as { v?: unknown }).v)
  const fast = fastParse(type, value as Record<string, unknown>)
  if (fast) return fast
  const result = messageSchemas().MessageSchema.safeParse(value)
  if (!result.success) {
    const issue = result.error.issues[0]
    const where = issue?.path.length ? ` at "${issue.path.join('.')}"` : ''
    throw new ProtocolError(
      'BAD_MESSAGE',
      `invalid ${type} message${where}: ${issue?.message ?? 'schema mismatch'}`,
    )
  }
  return result.data
}

/** Refuses a hello from another major version before the rest of it is judged, since its shape may differ. */
function checkVersion(v: unknown): void {
  const major = typeof v === 'string' ? Number.parseInt(v, 10) : Number.NaN
  if (!Number.isInteger(major)) throw new ProtocolError('BAD_MESSAGE', 'hello has no protocol version "v"')
  if (major !== PROTOCOL_MAJOR) {
    throw new ProtocolError(
      'VERSION',
      `peer speaks protocol ${String(v)}, this node speaks ${PROTOCOL_VERSION}; both must run the same major version of parley`,
    )
  }
}

/** How many newlines `text` holds. */
export function newlinesIn(text: string): number {
  let count = 0
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) count++
  return count
}

function isSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

/** A string of at most `max` characters by any count (UTF-16 units bound code points from above). */
function isShortString(value: unknown, min: number, max: number): value is string {
  return typeof value === 'string' && value.length >= min && value.length <= max
}

/**
 * Every frame checked by hand: zod's generic walk cost several microseconds per message, and loading zod
 * about 70 ms of every start-up. It accepts only what the schemas accept and returns what zod would (the known keys only); anything it refuses or is unsure about goes to zod, which also words
 * every error (schema.fast.test.ts holds it to that).
 */
function fastParse(type: string, v: Record<string, unknown>): Message | undefined {
  if (type === 'msg') {
    const { id, seq, ts, from, body, name, hops, prev, sig, lines, more } = v
    if (
      !isShortString(id, 1, MAX_ID_LENGTH) ||
      !isSeq(seq) ||
      seq < 1 ||
      !isSeq(ts) ||
      typeof from !== 'string' ||
      !NODE_ID.test(from) ||
      !isShortString(body, 0, MAX_BODY_LENGTH) ||
      (name !== undefined && !isShortString(name, 1, MAX_NAME_LENGTH)) ||
      (hops !== undefined && !(isSeq(hops) && hops <= MAX_HOPS)) ||
      (prev !== undefined && !(typeof prev === 'string' && TOKEN.test(prev))) ||
      (sig !== undefined && !(typeof sig === 'string' && TOKEN.test(sig))) ||
      (lines !== undefined &&
        !(isSeq(lines) && lines >= 2 && lines <= MAX_LINES_PER_MSG && newlinesIn(body) === lines - 1)) ||
      (more !== undefined && more !== true)
    ) {
      return undefined
    }
    // JSON.parse made a fresh plain object: when it holds no key besides the known ones, it is the result.
    let keys = 0
    for (const _ in v) keys++
    const known =
      6 +
      (name !== undefined ? 1 : 0) +
      (hops !== undefined ? 1 : 0) +
      (prev !== undefined ? 1 : 0) +
      (sig !== undefined ? 1 : 0) +
      (lines !== undefined ? 1 : 0) +
      (more !== undefined ? 1 : 0)
    if (keys === known) return v as Msg
    return {
      type,
      id,
      seq,
      ts,
      from,
      body,
      ...(name !== undefined ? { name } : {}),
      ...(hops !== undefined ? { hops } : {}),
      ...(prev !== undefined ? { prev: prev as string } : {}),
      ...(sig !== undefined ? { sig: sig as string } : {}),
      ...(lines !== undefined ? { lines: lines as number } : {}),
      ...(more !== undefined ? { more: true as const } : {}),
    }
  }
  if (type === 'ack') {
    const { upTo, base, have, bases, more, upToId } = v
    if (
      !isSeq(upTo) ||
      (base !== undefined && !isSeq(base)) ||
      (more !== undefined && more !== true) ||
      (upToId !== undefined && !isShortString(upToId, 1, MAX_ID_LENGTH))
    )
      return undefined
    if (have === undefined && bases === undefined && more === undefined && upToId === undefined)
      return base === undefined ? { type, upTo } : { type, upTo, base }
    const haveMap = have === undefined ? undefined : watermarkMap(have)
    const basesMap = bases === undefined ? undefined : watermarkMap(bases)
    if ((have !== undefined && !haveMap) || (bases !== undefined && !basesMap)) return undefined
    return {
      type,
      upTo,
      ...(base !== undefined ? { base } : {}),
      ...(haveMap ? { have: haveMap } : {}),
      ...(basesMap ? { bases: basesMap } : {}),
      ...(more ? { more } : {}),
      ...(upToId !== undefined ? { upToId } : {}),
    }
  }
  switch (type) {
    case 'hello':
      return fastHello(v)
    case 'accept':
      return { type }
    case 'ping':
    case 'pong':
      return isSeq(v.n) ? { type, n: v.n } : undefined
    case 'throttle': {
      const { retryMs } = v
      return isSeq(retryMs) && retryMs <= MAX_RETRY_MS ? { type, retryMs } : undefined
    }
    case 'here': {
      const { from, name, ts, state, sig, reason, reasonSig } = v
      if (
        typeof from !== 'string' ||
        !NODE_ID.test(from) ||
        !isShortString(name, 1, MAX_NAME_LENGTH) ||
        !isSeq(ts) ||
        (state !== 'here' && state !== 'gone') ||
        (sig !== undefined && !(typeof sig === 'string' && TOKEN.test(sig))) ||
        (reason !== undefined && !isShortString(reason, 0, MAX_REASON_LENGTH)) ||
        (reasonSig !== undefined && !(typeof reasonSig === 'string' && TOKEN.test(reasonSig)))
      )
        return undefined
      // Every presence but a leave with its reason: no spread.
      if (reason === undefined && reasonSig === undefined)
        return sig === undefined ? { type, from, name, ts, state } : { type, from, name, ts, state, sig }
      return {
        type,
        from,
        name,
        ts,
        state,
        ...(sig !== undefined ? { sig } : {}),
        ...(reason !== undefined ? { reason } : {}),
        ...(reasonSig !== undefined ? { reasonSig } : {}),
      }
    }
    case 'lost': {
      const { from, member, ts, sig } = v
      if (
        typeof from !== 'string' ||
        !NODE_ID.test(from) ||
        typeof member !== 'string' ||
        !NODE_ID.test(member) ||
        !isSeq(ts) ||
        (sig !== undefined && !(typeof sig === 'string' && TOKEN.test(sig)))
      )
        return undefined
      return sig === undefined ? { type, from, member, ts } : { type, from, member, ts, sig }
    }
    case 'bye': {
      const { reason, code } = v
      if (!isShortString(reason, 0, MAX_REASON_LENGTH)) return undefined
      if (code === undefined) return { type, reason }
      return typeof code === 'string' && BYE_CODE.test(code) ? { type, reason, code } : undefined
    }
  }
  return undefined
}

/** A `have` or `bases` map as its schema takes it: node ids to seqs, at most `MAX_ORIGINS_PER_ACK`. */
function watermarkMap(value: unknown): Record<string, number> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const out: Record<string, number> = {}
  let count = 0
  for (const key in value) {
    if (!Object.hasOwn(value, key)) return undefined
    const n = (value as Record<string, unknown>)[key]
    if (++count > MAX_ORIGINS_PER_ACK || !NODE_ID.test(key) || !isSeq(n)) return undefined
    out[key] = n
  }
  return out
}

/** A hello as its schema takes it, the name cleaned as the schema's transform cleans it. */
function fastHello(v: Record<string, unknown>): Hello | undefined {
  const { v: version, id, name, caps, listen } = v
  if (
    typeof version !== 'string' ||
    !VERSION.test(version) ||
    typeof id !== 'string' ||
    !NODE_ID.test(id) ||
    !isShortString(name, 1, MAX_NAME_LENGTH) ||
    peerNameProblem(name) !== undefined ||
    !Array.isArray(caps) ||
    caps.length > MAX_CAPS ||
    !caps.every((cap) => isShortString(cap, 0, MAX_CAP_LENGTH)) ||
    (listen !== undefined && !isShortString(listen, 0, MAX_LISTEN_LENGTH))
  ) {
    return undefined
  }
  return {
    type: 'hello',
    v: version,
    id,
    name: shownName(name, name),
    caps: caps.slice(),
    ...(listen !== undefined ? { listen } : {}),
  }
}
