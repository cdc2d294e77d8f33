import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ProtocolError } from './errors.js'
import { messageSchemas, parseMessage } from './schema.js'

/** What zod alone says of a value: the parsed message, or 'refused'. */
function byZod(value: unknown): unknown {
  const result = messageSchemas().MessageSchema.safeParse(value)
  return result.success ? result.data : 'refused'
}

function byParser(value: unknown): unknown {
  try {
    return parseMessage(value)
  } catch (error) {
    if (error instanceof ProtocolError) return 'refused'
    throw error
  }
}

const hex = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 14, maxLength: 20 })
const anything = fc.oneof(
  fc.constant(undefined),
  fc.string({ maxLength: 70 }),
  fc.string({ unit: 'grapheme', maxLength: 70 }),
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, 1, -1, 64, 65, 255, 256, 2 ** 53, Number.MAX_SAFE_INTEGER),
  fc.boolean(),
  fc.constant(null),
)
const field = <T>(good: fc.Arbitrary<T>) => fc.oneof(good, anything)

describe('the hand-written checks of every frame type', () => {
  it('decides exactly as the zod schema does, on valid and invalid fields alike', () => {
    const msg = fc.record(
      {
        type: fc.constant('msg'),
        id: field(fc.string({ minLength: 1, maxLength: 64 })),
        seq: field(fc.integer({ min: 0, max: 1_000 })),
        ts: field(fc.nat()),
        from: field(hex),
        body: field(
          fc.oneof(
            fc.string({ maxLength: 200 }),
            fc.array(fc.string({ maxLength: 20 }), { maxLength: 6 }).map((lines) => lines.join('\n')),
          ),
        ),
        name: field(fc.string({ minLength: 1, maxLength: 64 })),
        hops: field(fc.integer({ min: 0, max: 300 })),
        prev: field(fc.base64String({ maxLength: 44 })),
        sig: field(fc.base64String({ maxLength: 88 })),
        lines: field(fc.integer({ min: 0, max: 7 })),
        more: field(fc.constant(true)),
      },
      { requiredKeys: ['type'] },
    )
    const ack = fc.record(
      {
        type: fc.constant('ack'),
        upTo: field(fc.nat()),
        base: field(fc.nat()),
        upToId: field(fc.string({ minLength: 1, maxLength: 64 })),
      },
      { requiredKeys: ['type'] },
    )
    fc.assert(
      fc.property(fc.oneof(msg, ack), (value) => {
        const plain = JSON.parse(JSON.stringify(value))
        expect(byParser(plain)).toEqual(byZod(plain))
      }),
      { numRuns: 5_000 },
    )
  })

  it('decide acks with room maps, hellos, byes and the small frames exactly as zod does', () => {
    const id = fc.oneof(
      hex,
      fc.constantFrom('0123456789abcdef', 'ABCDEF0123456789', '__proto__', 'x'.repeat(20)),
    )
    const map = fc.oneof(
      fc.dictionary(id, field(fc.nat()), { maxKeys: 6 }),
      fc.dictionary(hex, fc.nat(), { minKeys: 250, maxKeys: 260 }),
      fc.array(fc.nat(), { maxLength: 3 }),
      anything,
    )
    const ack = fc.record(
      {
        type: fc.constant('ack'),
        upTo: field(fc.nat()),
        base: field(fc.nat()),
        have: map,
        bases: map,
        more: field(fc.constant(true)),
        upToId: field(fc.string({ minLength: 1, maxLength: 64 })),
      },
      { requiredKeys: ['type'] },
    )
    // Most acks above break some rule (a missing `upTo`, a short id, a map of junk); these keep every rule,
    // so that accepted acks with maps are compared in every run, as the well-formed hellos below are.
    const wellFormedAck = fc.record(
      {
        type: fc.constant('ack'),
        upTo: fc.nat(),
        have: fc.dictionary(
          fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 16, maxLength: 20 }),
          fc.nat(),
          { minKeys: 1, maxKeys: 6 },
        ),
        more: fc.constant(true),
      },
      { requiredKeys: ['type', 'upTo', 'have'] },
    )
    const name = fc.oneof(
      fc.string({ minLength: 1, maxLength: 64 }),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }),
      fc.constantFrom(
        'bob\u200b',
        'a\u202eb',
        'x'.repeat(65),
        ' ',
        'ﬀ bob',
        'bob\n',
        'e\u0301ve',
        'a~b',
        '<a>',
        '~',
      ),
    )
    const hello = fc.record(
      {
        type: fc.constant('hello'),
        v: fc.oneof(fc.constantFrom('1.0', '1.12345', '1.', '1.0 ', '01.9999'), anything),
        id: field(hex),
        name: field(name),
        caps: field(
          fc.oneof(
            fc.array(fc.string({ maxLength: 33 }), { maxLength: 33 }),
            fc.array(anything, { maxLength: 3 }),
          ),
        ),
        listen: field(fc.string({ maxLength: 301 })),
        extra: fc.string(),
      },
      { requiredKeys: ['type', 'v'] },
    )
    // Most hellos above break some rule; these keep every rule (a major version of 1, as `parseMessage`
    // also requires), so that accepted hellos are compared in every run: with the fields above alone, a
    // run of the whole suite drew no valid hello and failed the check below.
    const wellFormedHello = fc.record(
      {
        type: fc.constant('hello'),
        v: fc.constantFrom('1.0', '1.12345', '1.9'),
        id: hex,
        name: fc.string({ unit: fc.constantFrom(...'abc XYZ-é'), minLength: 1, maxLength: 64 }),
        caps: fc.array(fc.string({ maxLength: 32 }), { maxLength: 32 }),
        listen: fc.string({ maxLength: 300 }),
        extra: fc.string(),
      },
      { requiredKeys: ['type', 'v', 'id', 'name', 'caps'] },
    )
    const bye = fc.record(
      {
        type: fc.constant('bye'),
        reason: field(fc.string({ maxLength: 201 })),
        code: field(fc.oneof(fc.constantFrom('OVER_QUOTA', 'A', 'a', '1X', 'X'.repeat(41)), fc.string())),
      },
      { requiredKeys: ['type'] },
    )
    const small = fc.record(
      {
        type: fc.constantFrom('accept', 'ping', 'pong', 'throttle'),
        n: field(fc.nat()),
        retryMs: field(fc.integer({ min: -1, max: 3_600_001 })),
        extra: anything,
      },
      { requiredKeys: ['type'] },
    )
    const accepted = new Map<string, number>()
    fc.assert(
      fc.property(fc.oneof(ack, wellFormedAck, hello, wellFormedHello, bye, small), (value) => {
        const plain = JSON.parse(JSON.stringify(value))
        const parsed = byParser(plain)
        expect(parsed).toEqual(byZod(plain))
        if (parsed !== 'refused') {
          const kind = plain.type === 'ack' && (plain.have || plain.bases) ? 'ack with maps' : plain.type
          accepted.set(kind, (accepted.get(kind) ?? 0) + 1)
        }
      }),
      { numRuns: 5_000 },
    )
    // Both ways were tried: frames of every kind were accepted, not only refused.
    for (const kind of ['ack with maps', 'hello', 'bye', 'accept', 'ping', 'pong', 'throttle'])
      expect(accepted.get(kind) ?? 0, kind).toBeGreaterThan(0)
  })

  it("decide presences, with or without a leave's reason and its signature, exactly as zod does", () => {
    const here = fc.record(
      {
        type: fc.constant('here'),
        from: field(hex),
        name: field(fc.string({ minLength: 1, maxLength: 65 })),
        ts: field(fc.nat()),
        state: field(fc.constantFrom('here', 'gone', 'away')),
        sig: field(fc.base64String({ maxLength: 88 })),
        reason: field(fc.string({ maxLength: 201 })),
        reasonSig: field(fc.oneof(fc.base64String({ maxLength: 88 }), fc.constantFrom('', 'a b'))),
        extra: anything,
      },
      { requiredKeys: ['type'] },
    )
    const wellFormed = fc.record(
      {
        type: fc.constant('here'),
        from: hex,
        name: fc.string({ minLength: 1, maxLength: 64 }),
        ts: fc.nat(),
        state: fc.constantFrom('here', 'gone'),
        sig: fc.base64String({ minLength: 4, maxLength: 88 }),
        reason: fc.string({ maxLength: 200 }),
        reasonSig: fc.base64String({ minLength: 4, maxLength: 88 }),
        extra: fc.string(),
      },
      { requiredKeys: ['type', 'from', 'name', 'ts', 'state'] },
    )
    let withReason = 0
    fc.assert(
      fc.property(fc.oneof(here, wellFormed), (value) => {
        const plain = JSON.parse(JSON.stringify(value))
        const parsed = byParser(plain)
        expect(parsed).toEqual(byZod(plain))
        if (parsed !== 'refused' && (parsed as { reason?: unknown }).reason !== undefined) withReason++
      }),
      { numRuns: 3_000 },
    )
    expect(withReason).toBeGreaterThan(0)
  })

  it('decide notices of lost links exactly as zod does', () => {
    const lost = fc.record(
      {
        type: fc.constant('lost'),
        from: field(hex),
        member: field(hex),
        ts: field(fc.nat()),
        sig: field(fc.base64String({ maxLength: 88 })),
        extra: anything,
      },
      { requiredKeys: ['type'] },
    )
    const wellFormed = fc.record(
      {
        type: fc.constant('lost'),
        from: hex,
        member: hex,
        ts: fc.nat(),
        sig: fc.base64String({ minLength: 4, maxLength: 88 }),
      },
      { requiredKeys: ['type', 'from', 'member', 'ts'] },
    )
    let accepted = 0
    fc.assert(
      fc.property(fc.oneof(lost, wellFormed), (value) => {
        const plain = JSON.parse(JSON.stringify(value))
        const parsed = byParser(plain)
        expect(parsed).toEqual(byZod(plain))
        if (parsed !== 'refused') accepted++
      }),
      { numRuns: 2_000 },
    )
    expect(accepted).toBeGreaterThan(0)
  })
})
