import { isUtf8 } from 'node:buffer'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { DEFAULT_MAX_FRAME, encodeFrame, FrameDecoder } from './codec.js'
import { ProtocolError, ProtocolErrorCode } from './errors.js'
import { shownName } from './names.js'
import { MAX_BODY_LENGTH, type Message, messageSchemas } from './schema.js'

/** Generated cases run in this file; checked at the end so a property cannot silently run fewer. */
let cases = 0
const RUNS = {
  roundTrip: 4000,
  randomBytes: 7000,
  jsonValues: 6000,
  lengthPrefix: 3000,
  invalidUtf8: 5000,
  truncated: 4000,
  brokenMidStream: 4000,
  deepOrHuge: 1200,
} as const
afterAll(() => {
  const expected = Object.values(RUNS).reduce((a, b) => a + b, 0)
  expect(cases).toBeGreaterThanOrEqual(expected)
})

// ---- arbitraries for valid messages ------------------------------------------------------------------

/** Any UTF-16 code unit, lone surrogates included, weighted towards printable ASCII. */
const codeUnit = fc
  .oneof(
    { weight: 4, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x1f }) },
    { weight: 2, arbitrary: fc.integer({ min: 0x80, max: 0xffff }) },
  )
  .map((code) => String.fromCharCode(code))

/** A string of `min..max` UTF-16 code units, the way zod counts length. */
const text = (minLength: number, maxLength: number) => fc.string({ unit: codeUnit, minLength, maxLength })

const nodeId = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 16, maxLength: 128 })
const seq = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })

const helloArb = fc.record(
  {
    type: fc.constant('hello' as const),
    v: fc.integer({ min: 0, max: 9999 }).map((minor) => `1.${minor}`),
    id: nodeId,
    // Names a hello keeps as sent: a control character is refused, a hidden one cleaned (see names.ts).
    name: text(1, 64).filter((name) => shownName(name, '') === name),
    caps: fc.array(text(0, 32), { maxLength: 32 }),
    listen: text(0, 300),
  },
  { requiredKeys: ['type', 'v', 'id', 'name', 'caps'] },
)
const acceptArb = fc.constant({ type: 'accept' as const })
const msgArb = fc.record({
  type: fc.constant('msg' as const),
  id: text(1, 64),
  seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  ts: seq,
  from: nodeId,
  body: fc.oneof(
    { weight: 9, arbitrary: text(0, 200) },
    { weight: 1, arbitrary: fc.string({ unit: codeUnit, maxLength: MAX_BODY_LENGTH, size: 'max' }) },
  ),
})
const ackArb = fc.record(
  { type: fc.constant('ack' as const), upTo: seq, base: seq },
  { requiredKeys: ['type', 'upTo'] },
)
const pingArb = fc.record({ type: fc.constant('ping' as const), n: seq })
const pongArb = fc.record({ type: fc.constant('pong' as const), n: seq })
const byeArb = fc.record({ type: fc.constant('bye' as const), reason: text(0, 200) })

const messageArb: fc.Arbitrary<Message> = fc.oneof(
  helloArb,
  acceptArb,
  msgArb,
  ackArb,
  pingArb,
  pongArb,
  byeArb,
)

/** A message that fits a default frame (see the schema tests for the ones that do not). */
const frameableArb = messageArb.filter((m) => encodedLength(m) <= DEFAULT_MAX_FRAME)

function encodedLength(message: Message): number {
  return new TextEncoder().encode(JSON.stringify(message)).length
}

// ---- helpers -----------------------------------------------------------------------------------------

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** Cuts `bytes` at the given positions (taken modulo its length, in any order, duplicates allowed). */
function cutAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const parts: Uint8Array[] = []
  let from = 0
  for (const point of points) {
    parts.push(bytes.subarray(from, point))
    from = point
  }
  parts.push(bytes.subarray(from))
  return parts
}

function frameOf(body: Uint8Array): Uint8Array {
  const frame = new Uint8Array(4 + body.length)
  new DataView(frame.buffer).setUint32(0, body.length)
  frame.set(body, 4)
  return frame
}

const codes = new Set<string>(Object.values(ProtocolErrorCode))

function expectProtocolError(error: unknown): void {
  expect(error).toBeInstanceOf(ProtocolError)
  expect(codes.has((error as ProtocolError).code)).toBe(true)
}

// ---- properties --------------------------------------------------------------------------------------

describe('FrameDecoder properties', () => {
  it('decodes any sequence of valid messages, cut anywhere, back to the same messages', () => {
    fc.assert(
      fc.property(
        fc.array(frameableArb, { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (messages, cuts) => {
          cases++
          const stream = concat(messages.map((m) => encodeFrame(m)))
          const decoder = new FrameDecoder()
          const out: Message[] = []
          for (const part of cutAt(stream, cuts)) {
            const { messages: decoded, error } = decoder.push(part)
            expect(error).toBeUndefined()
            out.push(...decoded)
          }
          expect(out).toEqual(messages)
          expect(decoder.pendingBytes).toBe(0)
        },
      ),
      { numRuns: RUNS.roundTrip },
    )
  })

  it('never throws on random bytes: every push yields messages or a coded ProtocolError, then nothing', () => {
    // Half the inputs start with a plausible small length prefix, so the bytes reach the body parsers too.
    const plausible = fc
      .tuple(fc.integer({ min: 0, max: 40 }), fc.uint8Array({ maxLength: 80 }))
      .map(([length, rest]) => concat([lengthPrefix(length), rest]))
    const bytes = fc.oneof(fc.uint8Array({ maxLength: 200 }), plausible)
    fc.assert(
      fc.property(bytes, fc.array(fc.nat(), { maxLength: 8 }), (input, cuts) => {
        cases++
        const decoder = new FrameDecoder(256)
        let failed = false
        for (const part of cutAt(input, cuts)) {
          const result = decoder.push(part)
          if (failed) expect(result).toEqual({ messages: [] })
          for (const message of result.messages)
            expect(messageSchemas().MessageSchema.safeParse(message).success).toBe(true)
          if (result.error) {
            expectProtocolError(result.error)
            failed = true
          }
        }
      }),
      { numRuns: RUNS.randomBytes },
    )
  })

  it('turns any JSON value in a valid frame into a schema-valid message, nothing, or a ProtocolError', () => {
    const knownType = fc.constantFrom('hello', 'accept', 'msg', 'ack', 'ping', 'pong', 'bye')
    // Valid messages with one field replaced by a random JSON value probe the schema's edges.
    const mutated = fc
      .tuple(messageArb, fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }))
      .map(([message, key, value]) => {
        const fields = Object.keys(message)
        const target = fields[key.length % fields.length] ?? key
        return { ...message, [key.length % 3 === 0 ? key : target]: value }
      })
    const shaped = fc
      .tuple(
        knownType,
        fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 }),
      )
      .map(([type, rest]) => ({ ...rest, type }))
    const value = fc.oneof(fc.jsonValue(), shaped, mutated)
    fc.assert(
      fc.property(value, (json) => {
        cases++
        const body = new TextEncoder().encode(JSON.stringify(json))
        fc.pre(body.length > 0 && body.length <= DEFAULT_MAX_FRAME)
        const { messages, error } = new FrameDecoder().push(frameOf(body))
        if (error) {
          expectProtocolError(error)
          expect(['BAD_MESSAGE', 'VERSION']).toContain(error.code)
          expect(messages).toEqual([])
          return
        }
        expect(messages.length).toBeLessThanOrEqual(1)
        const [message] = messages
        if (message) {
          expect(messageSchemas().MessageSchema.safeParse(message).success).toBe(true)
          expect(message.type).toBe((json as { type: unknown }).type)
        } else {
          // Nothing and no error only for an object whose string type this version does not know.
          const type = (json as { type?: unknown } | null)?.type
          expect(typeof type).toBe('string')
          expect(['hello', 'accept', 'msg', 'ack', 'ping', 'pong', 'bye']).not.toContain(type)
        }
      }),
      { numRuns: RUNS.jsonValues },
    )
  })

  it('judges a length prefix before the body: zero, over the limit and within it', () => {
    const limitArb = fc.oneof(fc.integer({ min: 24, max: 4096 }), fc.constant(DEFAULT_MAX_FRAME))
    const prefixArb = (limit: number) =>
      fc.oneof(
        fc.constant(0),
        fc.integer({ min: Math.max(1, limit - 3), max: limit + 3 }),
        fc.integer({ min: 1, max: limit }),
        fc.integer({ min: limit + 1, max: 0xffff_ffff }),
      )
    const base = '{"type":"ping","n":1}'
    fc.assert(
      fc.property(
        limitArb.chain((limit) => fc.tuple(fc.constant(limit), prefixArb(limit))),
        ([limit, length]) => {
          cases++
          const decoder = new FrameDecoder(limit)
          const first = decoder.push(lengthPrefix(length))
          expect(first.messages).toEqual([])
          if (length === 0) {
            expect(first.error?.code).toBe('EMPTY_FRAME')
            return
          }
          if (length > limit) {
            // A prefix that reads as text is reported as a peer speaking some other protocol.
            expect(['FRAME_TOO_LARGE', 'NOT_PARLEY']).toContain(first.error?.code)
            expect(decoder.pendingBytes).toBe(0)
            return
          }
          expect(first.error).toBeUndefined()
          // JSON allows trailing whitespace, so a ping padded with spaces fills any length that holds it.
          const fits = length >= base.length
          const body = new TextEncoder().encode(fits ? base.padEnd(length) : ' '.repeat(length))
          const second = decoder.push(body)
          if (fits) expect(second).toEqual({ messages: [{ type: 'ping', n: 1 }] })
          else expect(second.error?.code).toBe('BAD_JSON')
        },
      ),
      { numRuns: RUNS.lengthPrefix },
    )
  })
})

describe('FrameDecoder properties on broken streams', () => {
  it('refuses a frame whose body is not valid UTF-8 with BAD_UTF8, wherever the bad bytes sit', () => {
    const invalid = fc.constantFrom(
      [0x80],
      [0xbf],
      [0xc0, 0x80],
      [0xc1, 0xbf],
      [0xe0, 0x80, 0x80],
      [0xf0, 0x80, 0x80, 0x80],
      [0xed, 0xa0, 0x80],
      [0xed, 0xbf, 0xbf],
      [0xf4, 0x90, 0x80, 0x80],
      [0xf5],
      [0xfe],
      [0xff],
      [0xe2, 0x82],
      [0xf0, 0x9f, 0x98],
    )
    fc.assert(
      fc.property(
        frameableArb,
        fc.array(fc.tuple(fc.nat(), invalid), { minLength: 1, maxLength: 3 }),
        (message, bad) => {
          cases++
          let body: Uint8Array = new TextEncoder().encode(JSON.stringify(message))
          for (const [at, bytes] of bad) {
            const i = at % (body.length + 1)
            body = concat([body.subarray(0, i), Uint8Array.from(bytes), body.subarray(i)])
          }
          // Judged by node's own validator (simdutf), not by the TextDecoder the codec uses.
          fc.pre(!isUtf8(body) && body.length <= DEFAULT_MAX_FRAME)
          const { messages, error } = new FrameDecoder().push(frameOf(body))
          expect(messages).toEqual([])
          expect(error?.code).toBe('BAD_UTF8')
        },
      ),
      { numRuns: RUNS.invalidUtf8 },
    )
  })

  it('holds a stream cut short as pending bytes, never more than one frame, and decodes every whole frame before it', () => {
    fc.assert(
      fc.property(
        fc.array(frameableArb, { minLength: 1, maxLength: 5 }),
        fc.nat(),
        fc.array(fc.nat(), { maxLength: 10 }),
        (messages, cutAt_, cuts) => {
          cases++
          const frames = messages.map((m) => encodeFrame(m))
          const stream = concat(frames)
          const end = cutAt_ % (stream.length + 1)
          let whole = 0
          let wholeBytes = 0
          for (const frame of frames) {
            if (wholeBytes + frame.length > end) break
            wholeBytes += frame.length
            whole++
          }
          const decoder = new FrameDecoder()
          const out: Message[] = []
          for (const part of cutAt(stream.subarray(0, end), cuts)) {
            const result = decoder.push(part)
            expect(result.error).toBeUndefined()
            out.push(...result.messages)
            expect(decoder.pendingBytes).toBeLessThan(4 + DEFAULT_MAX_FRAME)
          }
          expect(out).toEqual(messages.slice(0, whole))
          // A partial frame's header is consumed once whole; only its body bytes are held.
          const rest = end - wholeBytes
          expect(decoder.pendingBytes).toBe(rest >= 4 ? rest - 4 : rest)
        },
      ),
      { numRuns: RUNS.truncated },
    )
  })

  it('stops at the first broken frame with its code, after the frames before it, whatever follows and however it is cut', () => {
    const text = (t: string) => new TextEncoder().encode(t)
    const broken = fc.oneof(
      fc.constant({ code: 'EMPTY_FRAME', bytes: lengthPrefix(0) }),
      fc.integer({ min: DEFAULT_MAX_FRAME + 1, max: 0xffff_ffff }).map((n) => ({
        code: ['FRAME_TOO_LARGE', 'NOT_PARLEY'],
        bytes: concat([lengthPrefix(n), text('{}')]),
      })),
      fc.constant({ code: 'BAD_UTF8', bytes: frameOf(Uint8Array.of(0x7b, 0xff, 0x7d)) }),
      // A raw control character is invalid anywhere in JSON, inside strings too.
      fc.string({ maxLength: 20 }).map((t) => ({ code: 'BAD_JSON', bytes: frameOf(text(`{${t}\u0001`)) })),
      fc
        .jsonValue({ maxDepth: 2 })
        .map((v) => ({ code: 'BAD_MESSAGE', bytes: frameOf(text(JSON.stringify([v]))) })),
      fc.integer({ min: 2, max: 9999 }).map((major) => ({
        code: 'VERSION',
        bytes: frameOf(text(JSON.stringify({ type: 'hello', v: `${major}.0`, id: 'x', name: '', caps: 1 }))),
      })),
    )
    fc.assert(
      fc.property(
        fc.array(frameableArb, { maxLength: 4 }),
        broken,
        fc.array(frameableArb, { maxLength: 2 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (before, bad, after, cuts) => {
          cases++
          const stream = concat([
            ...before.map((m) => encodeFrame(m)),
            bad.bytes,
            ...after.map((m) => encodeFrame(m)),
          ])
          const decoder = new FrameDecoder()
          const out: Message[] = []
          let error: ProtocolError | undefined
          for (const part of cutAt(stream, cuts)) {
            const result = decoder.push(part)
            if (error) expect(result).toEqual({ messages: [] })
            out.push(...result.messages)
            if (result.error) {
              expect(error).toBeUndefined()
              error = result.error
            }
          }
          expect(out).toEqual(before)
          expectProtocolError(error)
          expect(([] as string[]).concat(bad.code)).toContain(error!.code)
          expect(decoder.pendingBytes).toBe(0)
        },
      ),
      { numRuns: RUNS.brokenMidStream },
    )
  })

  it('answers deep or huge JSON, up to the frame limit, with a message or BAD_MESSAGE', () => {
    const nest = (depth: number, open: string, close: string, inner: string) =>
      open.repeat(depth) + inner + close.repeat(depth)
    const deep = fc.oneof(
      fc.integer({ min: 1, max: 32_000 }).map((d) => nest(d, '[', ']', '1')),
      fc.integer({ min: 1, max: 10_000 }).map((d) => nest(d, '{"a":', '}', 'null')),
      fc.integer({ min: 1, max: 16_000 }).map((d) => nest(d, '[{"type":"msg"},', ']', '0')),
    )
    const huge = fc.oneof(
      fc
        .integer({ min: 1, max: 13_000 })
        .map((n) => `[${Array.from({ length: n }, (_, i) => i % 10).join(',')}]`),
      fc.integer({ min: MAX_BODY_LENGTH + 1, max: 60_000 }).map((n) => JSON.stringify('x'.repeat(n))),
      fc
        .integer({ min: 1, max: 5_000 })
        .map((n) => JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])))),
    )
    const value = fc.oneof(deep, huge)
    const valid = fc.constantFrom<Message>(
      { type: 'ping', n: 1 },
      { type: 'hello', v: '1.0', id: '0123456789abcdef', name: 'x', caps: [] },
      { type: 'msg', id: 'm', seq: 1, ts: 0, from: '0123456789abcdef', body: '' },
    )
    const placed = fc.oneof(
      value.map((json) => ({ json, expected: 'BAD_MESSAGE' as const })),
      fc.tuple(valid, value).map(([message, json]) => ({
        json: `${JSON.stringify(message).slice(0, -1)},"extra":${json}}`,
        expected: message,
      })),
      fc.tuple(valid, value).map(([message, json]) => {
        const field = Object.keys(message).find((k) => k !== 'type')!
        return {
          json: JSON.stringify({ ...message, [field]: '@' }).replace('"@"', json),
          expected: 'BAD_MESSAGE' as const,
        }
      }),
    )
    fc.assert(
      fc.property(placed, ({ json, expected }) => {
        cases++
        const body = new TextEncoder().encode(json)
        const { messages, error } = new FrameDecoder().push(frameOf(body))
        if (body.length > DEFAULT_MAX_FRAME) {
          expect(error?.code).toBe('FRAME_TOO_LARGE')
          return
        }
        if (expected === 'BAD_MESSAGE') {
          expect(messages).toEqual([])
          expect(error?.code).toBe('BAD_MESSAGE')
        } else {
          expect(error).toBeUndefined()
          expect(messages).toEqual([expected])
        }
      }),
      { numRuns: RUNS.deepOrHuge },
    )
  })
})

function lengthPrefix(length: number): Uint8Array {
  const bytes = new Uint8Array(4)
  new DataView(bytes.buffer).setUint32(0, length)
  return bytes
}
