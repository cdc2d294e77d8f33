import { describe, expect, it } from 'vitest'
import { DEFAULT_MAX_FRAME, encodeFrame, FrameDecoder } from './codec.js'
import { ProtocolError } from './errors.js'
import { MAX_BODY_LENGTH, type Message, messageSchemas, PROTOCOL_VERSION, parseMessage } from './schema.js'

const ALICE = '0123456789abcdef'
const BOB = 'fedcba9876543210fedcba9876543210'

/** Frames raw JSON text, so tests can send what encodeFrame's types would not allow. */
function frameOf(text: string): Uint8Array {
  const body = new TextEncoder().encode(text)
  const frame = new Uint8Array(4 + body.length)
  new DataView(frame.buffer).setUint32(0, body.length)
  frame.set(body, 4)
  return frame
}

function decode(value: unknown) {
  return new FrameDecoder().push(frameOf(JSON.stringify(value)))
}

function rejection(value: unknown): ProtocolError {
  const { messages, error } = decode(value)
  expect(messages).toEqual([])
  expect(error).toBeInstanceOf(ProtocolError)
  return error!
}

const hello: Message = {
  type: 'hello',
  v: '1.0',
  id: ALICE,
  name: 'alice',
  caps: ['instance:0a1b2c3d'],
  listen: '127.0.0.1:4001',
}
const msg: Message = { type: 'msg', id: 'm1', seq: 1, ts: 1_700_000_000_000, from: BOB, body: 'hi alice' }

const everyType: [string, Message][] = [
  ['hello', hello],
  ['hello without a listen address', { type: 'hello', v: '1.3', id: BOB, name: 'bob', caps: [] }],
  ['accept', { type: 'accept' }],
  ['msg', msg],
  ['msg with an empty body', { ...msg, body: '' }],
  ['msg with unicode, quotes and control characters', { ...msg, body: 'ça va? "😀"\n\t\u0000\\' }],
  ['msg with the longest allowed body', { ...msg, body: 'x'.repeat(MAX_BODY_LENGTH) }],
  ['ack', { type: 'ack', upTo: 0 }],
  ['ack of the largest seq', { type: 'ack', upTo: Number.MAX_SAFE_INTEGER }],
  ['ack with a resume base', { type: 'ack', upTo: 3, base: 7 }],
  ['ping', { type: 'ping', n: 7 }],
  ['pong', { type: 'pong', n: 7 }],
  ['bye', { type: 'bye', reason: 'quit' }],
  ['bye with the code of a refusal', { type: 'bye', reason: 'disk quota', code: 'OVER_QUOTA' }],
]

describe('message schema on the wire', () => {
  it.each(everyType)('round-trips a %s message through a frame unchanged', (_, message) => {
    const { messages, error } = new FrameDecoder().push(encodeFrame(message))
    expect(error).toBeUndefined()
    expect(messages).toEqual([message])
  })

  it('round-trips every message type sent back to back on one stream', () => {
    const decoder = new FrameDecoder()
    const stream = everyType.map(([, m]) => encodeFrame(m))
    const out = stream.flatMap((frame) => decoder.push(frame).messages)
    expect(out).toEqual(everyType.map(([, m]) => m))
  })

  describe('rejects malformed messages with BAD_MESSAGE', () => {
    it.each([
      ['a number', 42],
      ['a string', 'hello'],
      ['null', null],
      ['an array', [{ type: 'ping', n: 1 }]],
      ['a boolean', true],
    ])('when the JSON is %s rather than an object', (_, value) => {
      const error = rejection(value)
      expect(error.code).toBe('BAD_MESSAGE')
      expect(error.message).toMatch(/object/)
    })

    it.each([
      ['no type', { n: 1 }],
      ['a numeric type', { type: 1 }],
      ['a null type', { type: null }],
    ])('when the message has %s', (_, value) => {
      const error = rejection(value)
      expect(error.code).toBe('BAD_MESSAGE')
      expect(error.message).toMatch(/type/)
    })

    const { body: _body, ...msgWithoutBody } = msg as Extract<Message, { type: 'msg' }>
    const { id: _id, ...helloWithoutId } = hello as Extract<Message, { type: 'hello' }>
    it.each<[string, unknown, string]>([
      ['msg without a body', msgWithoutBody, 'body'],
      ['hello without an id', helloWithoutId, 'id'],
      ['hello without a name', { type: 'hello', v: '1.0', id: ALICE, caps: [] }, 'name'],
      ['hello without caps', { type: 'hello', v: '1.0', id: ALICE, name: 'a' }, 'caps'],
      ['ack without upTo', { type: 'ack' }, 'upTo'],
      ['ping without n', { type: 'ping' }, 'n'],
      ['pong without n', { type: 'pong' }, 'n'],
      ['bye without a reason', { type: 'bye' }, 'reason'],
    ])('when a field is missing: %s', (_, value, field) => {
      const error = rejection(value)
      expect(error.code).toBe('BAD_MESSAGE')
      expect(error.message).toMatch(new RegExp(`at "${field}[".]`))
    })

    it.each<[string, unknown, string]>([
      ['msg seq as a string', { ...msg, seq: '1' }, 'seq'],
      ['msg seq 0 (seqs start at 1)', { ...msg, seq: 0 }, 'seq'],
      ['msg seq that is not an integer', { ...msg, seq: 1.5 }, 'seq'],
      ['msg seq beyond the safe integers', { ...msg, seq: 2 ** 53 }, 'seq'],
      ['msg ts that is negative', { ...msg, ts: -1 }, 'ts'],
      ['msg from in uppercase hex', { ...msg, from: ALICE.toUpperCase() }, 'from'],
      ['msg from that is too short', { ...msg, from: 'abc' }, 'from'],
      ['msg from that is too long', { ...msg, from: 'a'.repeat(129) }, 'from'],
      ['msg with an empty id', { ...msg, id: '' }, 'id'],
      ['msg with a 65-character id', { ...msg, id: 'i'.repeat(65) }, 'id'],
      ['msg body that is a number', { ...msg, body: 5 }, 'body'],
      ['msg body that is too long', { ...msg, body: 'x'.repeat(MAX_BODY_LENGTH + 1) }, 'body'],
      ['ack upTo that is negative', { type: 'ack', upTo: -1 }, 'upTo'],
      ['ack base as a string', { type: 'ack', upTo: 1, base: '2' }, 'base'],
      ['ping n as a string', { type: 'ping', n: 'one' }, 'n'],
      ['pong n as null', { type: 'pong', n: null }, 'n'],
      ['bye reason of 201 characters', { type: 'bye', reason: 'r'.repeat(201) }, 'reason'],
      ['bye reason that is an object', { type: 'bye', reason: { why: 1 } }, 'reason'],
      ['bye code that is not a code', { type: 'bye', reason: 'x', code: 'over quota\n' }, 'code'],
      ['hello with an empty name', { ...hello, name: '' }, 'name'],
      ['hello with a 65-character name', { ...hello, name: 'n'.repeat(65) }, 'name'],
      ['hello id that is not hex', { ...hello, id: 'not-a-node-id-at-all' }, 'id'],
      ['hello caps that are not an array', { ...hello, caps: 'instance:1' }, 'caps'],
      ['hello with 33 caps', { ...hello, caps: Array.from({ length: 33 }, (_, i) => `c${i}`) }, 'caps'],
      ['hello with a 33-character cap', { ...hello, caps: ['c'.repeat(33)] }, 'caps'],
      ['hello listen of 301 characters', { ...hello, listen: 'h'.repeat(301) }, 'listen'],
      ['hello v that is not MAJOR.MINOR', { ...hello, v: '1' }, 'v'],
      ['hello v with trailing text', { ...hello, v: '1.0-beta' }, 'v'],
    ])('when a field has the wrong type or range: %s', (_, value, field) => {
      const error = rejection(value)
      expect(error.code).toBe('BAD_MESSAGE')
      expect(error.message).toMatch(new RegExp(`at "${field}[".]`))
    })

    it.each([
      ['a newline', 'carol> ok\n<bob', 'U+000A'],
      ['a carriage return', 'bob\r', 'U+000D'],
      ['a C1 control', 'bob\u0085', 'U+0085'],
      ['an escape sequence', '\u001b[2Jbob', 'U+001B'],
      ['nothing visible', '\u200b\u202e', 'visible'],
    ])('when the hello name has %s, and says which character and what to do', (_, name, code) => {
      const error = rejection({ ...hello, name })
      expect(error.code).toBe('BAD_MESSAGE')
      expect(error.message).toContain(`at "name"`)
      expect(error.message).toContain(code)
      expect(error.message).toContain('pick another name')
      // The reason travels in a bye, which holds 200 characters.
      expect(error.message.length).toBeLessThanOrEqual(200)
    })

    it.each([
      ['a zero-width space', 'bob\u200b', 'bob'],
      ['bidi controls', '\u202ebob\u2066\u2069', 'bob'],
      ['a paragraph separator', 'bob\u2029smith', 'bob\ufffdsmith'],
      ['a tilde, as in a fingerprint label', 'alice~jbwp-tsxb', 'alice\ufffdjbwp-tsxb'],
      ['angle brackets', '<alice> hi', '\ufffdalice\ufffd hi'],
      ['nothing but a tilde', '~', '\ufffd'],
    ])('accepts a hello name with %s, which earlier releases allowed, and cleans it', (_, name, shown) => {
      expect(parseMessage({ ...hello, name })).toMatchObject({ name: shown })
    })

    it('accepts the same characters in a relayed msg name: the honest relay must not be refused for it', () => {
      expect(parseMessage({ ...msg, name: 'carol> ok\n<bob' })).toMatchObject({ name: 'carol> ok\n<bob' })
    })

    it.each([
      ['missing', { type: 'hello', id: ALICE, name: 'a', caps: [] }],
      ['a number', { ...hello, v: 1 }],
      ['not a number at all', { ...hello, v: 'one.zero' }],
    ])('when the hello version is %s', (_, value) => {
      const error = rejection(value)
      expect(error.code).toBe('BAD_MESSAGE')
      expect(error.message).toMatch(/version/)
    })
  })

  describe('refuses another major protocol version with VERSION', () => {
    it.each([
      ['2.0 with a valid v1 shape', { ...hello, v: '2.0' }],
      ['2.0 with an entirely different shape', { type: 'hello', v: '2.0', ident: { key: 'k' }, features: 7 }],
      ['2.0 and nothing else', { type: 'hello', v: '2.0' }],
      ['0.9', { ...hello, v: '0.9' }],
      ['10.0', { ...hello, v: '10.0' }],
    ])('from a hello announcing %s', (_, value) => {
      const error = rejection(value)
      expect(error.code).toBe('VERSION')
      expect(error.message).toContain(`this node speaks ${PROTOCOL_VERSION}`)
    })

    it('accepts a hello of the same major version with another minor version', () => {
      const { messages, error } = decode({ ...hello, v: '1.42' })
      expect(error).toBeUndefined()
      expect(messages).toEqual([{ ...hello, v: '1.42' }])
    })
  })

  describe('stays compatible with newer peers', () => {
    it('ignores a message of an unknown type and still decodes the frame after it', () => {
      const decoder = new FrameDecoder()
      const unknown = frameOf(JSON.stringify({ type: 'typing', who: ALICE, extra: [1, 2] }))
      const first = decoder.push(unknown)
      expect(first).toEqual({ messages: [] })
      const second = decoder.push(encodeFrame({ type: 'ping', n: 3 }))
      expect(second).toEqual({ messages: [{ type: 'ping', n: 3 }] })
    })

    it('ignores an unknown type even when it sits between known ones in one chunk', () => {
      const chunk = Buffer.concat([
        encodeFrame({ type: 'ping', n: 1 }),
        frameOf('{"type":"reaction","emoji":"👍"}'),
        encodeFrame({ type: 'pong', n: 1 }),
      ])
      expect(new FrameDecoder().push(chunk)).toEqual({
        messages: [
          { type: 'ping', n: 1 },
          { type: 'pong', n: 1 },
        ],
      })
    })

    it('does not treat a type named like an Object.prototype member as known', () => {
      expect(parseMessage({ type: 'toString' })).toBeUndefined()
      expect(parseMessage({ type: '__proto__' })).toBeUndefined()
    })

    it.each<[string, unknown, Message]>([
      ['ping', { type: 'ping', n: 1, sentAt: 5 }, { type: 'ping', n: 1 }],
      ['accept', { type: 'accept', options: { compress: true } }, { type: 'accept' }],
      ['msg', { ...msg, replyTo: 'm0', attachments: [] }, msg],
      [
        'hello',
        { ...hello, pubkey: 'abc', caps: [...hello.caps, 'emoji'] },
        { ...hello, caps: [...hello.caps, 'emoji'] },
      ],
    ])('tolerates unknown extra fields on a %s', (_, value, expected) => {
      const { messages, error } = decode(value)
      expect(error).toBeUndefined()
      expect(messages).toEqual([expected])
    })
  })

  it('rejects a body one character longer than MAX_BODY_LENGTH and accepts one of exactly MAX_BODY_LENGTH', () => {
    expect(rejection({ ...msg, body: 'é'.repeat(MAX_BODY_LENGTH + 1) }).code).toBe('BAD_MESSAGE')
    expect(decode({ ...msg, body: 'é'.repeat(MAX_BODY_LENGTH) }).messages).toHaveLength(1)
  })

  // MAX_BODY_LENGTH's doc promises that any valid message fits a default frame. JSON escapes a control
  // character or a lone surrogate as \uXXXX: 6 bytes for one UTF-16 code unit.
  it.each([
    ['control characters', '\u0001'],
    ['lone surrogates', '\ud800'],
  ])('fits a schema-valid msg whose body is all %s in a default frame', (_, char) => {
    const worst: Message = { ...msg, id: char.repeat(64), body: char.repeat(MAX_BODY_LENGTH) }
    expect(messageSchemas().MessageSchema.safeParse(worst).success).toBe(true)
    expect(() => encodeFrame(worst, DEFAULT_MAX_FRAME)).not.toThrow()
  })
})
