/**
 * Properties of the message schema, with no frames or sockets: every field of every message type judged
 * against values of the wrong type and out of range, unknown types, and values that are not messages.
 * Whatever JSON arrives, `parseMessage` returns a schema-valid message, `undefined` (an unknown type),
 * or throws a ProtocolError with a documented code; nothing else.
 */
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { ProtocolError, ProtocolErrorCode } from './errors.js'
import { shownName } from './names.js'
import { MAX_BODY_LENGTH, type Message, messageSchemas, parseMessage } from './schema.js'

/** Generated cases run in this file; checked at the end so a property cannot silently run fewer. */
let cases = 0
const RUNS = {
  wrongType: 16_000,
  outOfRange: 8_000,
  missing: 3_000,
  unknownType: 4_000,
  notObject: 3_000,
  extraFields: 6_000,
} as const
afterAll(() => {
  const expected = Object.values(RUNS).reduce((a, b) => a + b, 0)
  expect(cases).toBeGreaterThanOrEqual(expected)
})

const KNOWN = ['hello', 'accept', 'msg', 'ack', 'ping', 'pong', 'throttle', 'bye'] as const
type Known = (typeof KNOWN)[number]

const hexId = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 16, maxLength: 128 })
const seq = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })
/** Any UTF-16 code unit, lone surrogates included: zod counts length in code units, as this does. */
const codeUnit = fc
  .oneof(
    { weight: 4, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
  )
  .map((code) => String.fromCharCode(code))
/** Mostly short strings, sometimes up to the limit, so cases stay cheap yet reach the edges. */
const shortText = (min: number, max: number) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.string({ unit: codeUnit, minLength: min, maxLength: max, size: 'small' }) },
    { weight: 1, arbitrary: fc.string({ unit: codeUnit, minLength: min, maxLength: max, size: 'max' }) },
  )

/** A valid message of each type, field by field, so a test can break exactly one field. */
const VALID: Record<Known, fc.Arbitrary<Record<string, unknown>>> = {
  hello: fc.record(
    {
      type: fc.constant('hello'),
      v: fc.integer({ min: 0, max: 9999 }).map((minor) => `1.${minor}`),
      id: hexId,
      // Names a hello keeps as sent: a control character is refused, a hidden one cleaned (see names.ts).
      name: shortText(1, 64).filter((name) => shownName(name, '') === name),
      caps: fc.array(shortText(0, 32), { maxLength: 32, size: 'small' }),
      listen: shortText(0, 300),
    },
    { requiredKeys: ['type', 'v', 'id', 'name', 'caps'] },
  ),
  accept: fc.constant({ type: 'accept' }),
  msg: fc.record({
    type: fc.constant('msg'),
    id: shortText(1, 64),
    seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    ts: seq,
    from: hexId,
    body: shortText(0, 300),
  }),
  ack: fc.record({ type: fc.constant('ack'), upTo: seq, base: seq }, { requiredKeys: ['type', 'upTo'] }),
  ping: fc.record({ type: fc.constant('ping'), n: seq }),
  pong: fc.record({ type: fc.constant('pong'), n: seq }),
  throttle: fc.record({ type: fc.constant('throttle'), retryMs: fc.integer({ min: 0, max: 3_600_000 }) }),
  bye: fc.record({ type: fc.constant('bye'), reason: shortText(0, 200) }),
}

type Kind = 'string' | 'integer' | 'string-array'
/** Every field the schema checks (besides `type`), with the JSON kind it must have. */
const FIELDS: Record<Known, Record<string, Kind>> = {
  hello: { v: 'string', id: 'string', name: 'string', caps: 'string-array', listen: 'string' },
  accept: {},
  msg: { id: 'string', seq: 'integer', ts: 'integer', from: 'string', body: 'string' },
  ack: { upTo: 'integer', base: 'integer' },
  ping: { n: 'integer' },
  pong: { n: 'integer' },
  throttle: { retryMs: 'integer' },
  bye: { reason: 'string' },
}
const OPTIONAL = new Set(['hello.listen', 'ack.base'])

const anyJson = fc.jsonValue({ maxDepth: 3 })
const notString = anyJson.filter((v) => typeof v !== 'string')
const notNumber = anyJson.filter((v) => typeof v !== 'number')
const fraction = fc
  .double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true })
  .filter((n) => !Number.isInteger(n))

/** JSON values of the wrong kind for a field, including numbers that are not whole or safe. */
function wrongKind(kind: Kind): fc.Arbitrary<unknown> {
  switch (kind) {
    case 'string':
      return notString
    case 'integer':
      return fc.oneof(notNumber, fraction, fc.constant(Number.MAX_SAFE_INTEGER + 2), fc.constant(1e300))
    case 'string-array':
      return fc.oneof(
        anyJson.filter((v) => !Array.isArray(v)),
        fc
          .tuple(fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }), notString)
          .map(([good, bad]) => [...good, bad]),
      )
    default: {
      const _exhaustive: never = kind
      return _exhaustive
    }
  }
}

/**
 * A string longer than `max`. zod (4.6) measures strings in code points, so a surrogate pair counts once;
 * the string is padded until it is too long in code points, not just in UTF-16 units.
 */
const tooLong = (max: number) =>
  shortText(max + 1, max + 60).map((s) => s + 'x'.repeat(Math.max(0, max + 1 - [...s].length)))

/** Values of the right JSON kind that are still out of range for one field. */
const OUT_OF_RANGE: Record<string, fc.Arbitrary<unknown>> = {
  'hello.v': fc.oneof(
    fc.constantFrom('', '1', '1.', '.1', '1.0.0', 'v1.0', '1.00000', ' 1.0', '1.0 ', '1.x'),
    fc.string({ maxLength: 8 }).filter((s) => /^1/.test(s) && !/^\d{1,4}\.\d{1,4}$/.test(s)),
  ),
  'hello.id': fc.oneof(
    fc.constantFrom('', 'ABCDEF0123456789', '0123456789abcde', 'g123456789abcdef'),
    fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 129, maxLength: 200 }),
    fc.string({ maxLength: 40 }).filter((s) => !/^[0-9a-f]{16,128}$/.test(s)),
  ),
  'hello.name': fc.oneof(
    fc.constant(''),
    tooLong(64),
    fc.constantFrom('bob\n<alice', 'bob\r', 'bob\u0085', '\u001b[2J', '\u200b\u202e'),
  ),
  'hello.caps': fc.oneof(
    fc.array(fc.constant('x'), { minLength: 33, maxLength: 60 }),
    fc.array(tooLong(32), { minLength: 1, maxLength: 3 }),
  ),
  'hello.listen': tooLong(300),
  'msg.id': fc.oneof(fc.constant(''), tooLong(64)),
  'msg.seq': fc.oneof(fc.constant(0), fc.integer({ min: -1e9, max: -1 })),
  'msg.ts': fc.integer({ min: -1e15, max: -1 }),
  'msg.from': fc.string({ maxLength: 40 }).filter((s) => !/^[0-9a-f]{16,128}$/.test(s)),
  'msg.body': fc
    .tuple(fc.nat(50), shortText(0, 8))
    .map(([n, tail]) => 'x'.repeat(MAX_BODY_LENGTH + 1 + n) + tail),
  'ack.upTo': fc.integer({ min: -1e9, max: -1 }),
  'ack.base': fc.integer({ min: -1e9, max: -1 }),
  'ping.n': fc.integer({ min: -1e9, max: -1 }),
  'pong.n': fc.integer({ min: -1e9, max: -1 }),
  'throttle.retryMs': fc.oneof(fc.integer({ min: -1e9, max: -1 }), fc.integer({ min: 3_600_001, max: 2e9 })),
  'bye.reason': tooLong(200),
}

const codes = new Set<string>(Object.values(ProtocolErrorCode))

/** What `parseMessage` did with one value: a message, nothing, or a typed error. Anything else fails. */
function judge(value: unknown): Message | undefined | ProtocolError {
  cases++
  try {
    return parseMessage(value)
  } catch (error) {
    if (!(error instanceof ProtocolError) || !codes.has(error.code)) throw error
    return error
  }
}

function expectRejected(value: unknown, code: string = 'BAD_MESSAGE'): void {
  const result = judge(value)
  if (!(result instanceof ProtocolError) || result.code !== code) {
    expect.fail(`expected a ${code} ProtocolError, got ${outcome(result)} for ${JSON.stringify(value)}`)
  }
}

function outcome(result: unknown): string {
  return result instanceof ProtocolError ? `${result.code}: ${result.message}` : JSON.stringify(result)
}

/** One (type, field) pair per case, spread evenly over every field of every message type. */
const fieldOfType = fc.constantFrom(
  ...KNOWN.flatMap((type) => Object.keys(FIELDS[type]).map((field) => [type, field] as const)),
)

describe('message schema properties', () => {
  it('refuses a value of the wrong JSON type in any field of any message type', () => {
    const arb = fieldOfType.chain(([type, field]) =>
      fc.tuple(fc.constant(type), fc.constant(field), VALID[type], wrongKind(FIELDS[type][field]!)),
    )
    fc.assert(
      fc.property(arb, ([, field, valid, wrong]) => {
        expectRejected(JSON.parse(JSON.stringify({ ...valid, [field]: wrong })))
      }),
      { numRuns: RUNS.wrongType },
    )
  })

  it('refuses a value of the right type that is out of range in any field', () => {
    const arb = fc.constantFrom(...Object.keys(OUT_OF_RANGE)).chain((key) => {
      const [type, field] = key.split('.') as [Known, string]
      return fc.tuple(fc.constant(type), fc.constant(field), VALID[type], OUT_OF_RANGE[key]!)
    })
    fc.assert(
      fc.property(arb, ([type, field, valid, bad]) => {
        const value = { ...valid, [field]: bad }
        // A hello from another major version is refused as VERSION before the rest of it is judged.
        const code =
          type === 'hello' && field === 'v' && /^\d/.test(String(bad)) && !/^1(\D|$)/.test(String(bad))
        expectRejected(value, code ? 'VERSION' : 'BAD_MESSAGE')
      }),
      { numRuns: RUNS.outOfRange },
    )
  })

  it('refuses a message missing any required field', () => {
    const required = KNOWN.flatMap((type) =>
      Object.keys(FIELDS[type])
        .filter((field) => !OPTIONAL.has(`${type}.${field}`))
        .map((field) => [type, field] as const),
    )
    const arb = fc
      .constantFrom(...required)
      .chain(([type, field]) => fc.tuple(fc.constant(field), VALID[type]))
    fc.assert(
      fc.property(arb, ([field, valid]) => {
        const { [field]: _dropped, ...rest } = valid
        expectRejected(rest)
      }),
      { numRuns: RUNS.missing },
    )
  })

  it('skips any object whose string type this version does not know, whatever else it holds', () => {
    const unknownType = fc.string({ maxLength: 20 }).filter((t) => !(KNOWN as readonly string[]).includes(t))
    const arb = fc.tuple(unknownType, fc.dictionary(fc.string({ maxLength: 8 }), anyJson, { maxKeys: 6 }))
    fc.assert(
      fc.property(arb, ([type, rest]) => {
        expect(judge({ ...rest, type })).toBeUndefined()
      }),
      { numRuns: RUNS.unknownType },
    )
  })

  it('refuses anything that is not an object with a string type', () => {
    const notAnObject = anyJson.filter((v) => typeof v !== 'object' || v === null || Array.isArray(v))
    const badType = fc
      .tuple(fc.dictionary(fc.string({ maxLength: 8 }), anyJson, { maxKeys: 4 }), notString)
      .map(([rest, type]) => ({ ...rest, type }))
      .filter((v) => v.type !== undefined)
    fc.assert(
      fc.property(fc.oneof(notAnObject, badType), (value) => expectRejected(value)),
      { numRuns: RUNS.notObject },
    )
  })

  it('accepts every valid message with extra fields, and hands back exactly the known ones', () => {
    // Extra keys must be unknown to every message type: an optional field of another shape (say `name` or
    // `have`) with a random value is rightly refused.
    const schemaKeys = new Set([
      '__proto__',
      ...messageSchemas().MessageSchema.options.flatMap((o) => Object.keys(o.shape)),
    ])
    const extraKey = fc.string({ maxLength: 10 }).filter((k) => !schemaKeys.has(k))
    const arb = fc
      .constantFrom(...KNOWN)
      .chain((type) => fc.tuple(VALID[type], fc.dictionary(extraKey, anyJson, { maxKeys: 4 })))
    fc.assert(
      fc.property(arb, ([valid, extra]) => {
        const known = new Set(Object.keys(valid))
        const extras = Object.fromEntries(Object.entries(extra).filter(([k]) => !known.has(k)))
        const result = judge(JSON.parse(JSON.stringify({ ...extras, ...valid })))
        expect(result).not.toBeInstanceOf(ProtocolError)
        expect(result).toEqual(valid)
        expect(messageSchemas().MessageSchema.safeParse(result).success).toBe(true)
      }),
      { numRuns: RUNS.extraFields },
    )
  })
})
