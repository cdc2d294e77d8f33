import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ProtocolError } from './errors.js'
import { MessageSchema, parseMessage } from './schema.js'

/** What zod alone says of a value: the parsed message, or 'refused'. */
function byZod(value: unknown): unknown {
  const result = MessageSchema.safeParse(value)
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

describe('the hand-written fast path for msg and ack', () => {
  it('decides exactly as the zod schema does, on valid and invalid fields alike', () => {
    const msg = fc.record(
      {
        type: fc.constant('msg'),
        id: field(fc.string({ minLength: 1, maxLength: 64 })),
        seq: field(fc.integer({ min: 0, max: 1_000 })),
        ts: field(fc.nat()),
        from: field(hex),
        body: field(fc.string({ maxLength: 200 })),
        name: field(fc.string({ minLength: 1, maxLength: 64 })),
        hops: field(fc.integer({ min: 0, max: 300 })),
        prev: field(fc.base64String({ maxLength: 44 })),
        sig: field(fc.base64String({ maxLength: 88 })),
      },
      { requiredKeys: ['type'] },
    )
    const ack = fc.record(
      { type: fc.constant('ack'), upTo: field(fc.nat()), base: field(fc.nat()) },
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
})
