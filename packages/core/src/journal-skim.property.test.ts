/**
 * The skim against JSON.parse: over frames of messages with any text in their strings, and over frames
 * damaged anywhere, whatever it recognizes it reads as JSON.parse does, and it recognizes no invalid JSON.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { skimFrame } from './journal-skim.js'
import { MAX_LINES_PER_MSG } from './schema.js'

const hex = fc.stringMatching(/^[0-9a-f]{16,70}$/)
const text = fc.string({ unit: 'binary', maxLength: 40 })
const OPTIONAL = ['hops', 'name', 'prev', 'sig', 'lines'] as const
// The fields every message has come first, as the room writes them; the optional ones in any order (a
// signed message has `prev` and `sig` after its `lines`).
const message = fc
  .tuple(
    fc.record(
      {
        type: fc.constant('msg'),
        id: text,
        seq: fc.oneof(fc.nat(), fc.maxSafeNat()),
        ts: fc.nat(),
        from: hex,
        body: text,
        hops: fc.nat(255),
        name: text,
        prev: text,
        sig: text,
        lines: fc.oneof(fc.integer({ min: 2, max: 10_001 }), fc.integer({ min: 0, max: 2 ** 40 })),
      },
      { requiredKeys: ['type', 'id', 'seq', 'ts', 'from', 'body'] },
    ),
    fc.shuffledSubarray([...OPTIONAL], { minLength: OPTIONAL.length }),
  )
  .map(([fields, order]) => {
    const { type, id, seq, ts, from, body } = fields
    const msg: Record<string, unknown> = { type, id, seq, ts, from, body }
    for (const key of order) if (fields[key] !== undefined) msg[key] = fields[key]
    return msg
  })
const frame = fc.oneof(
  fc
    .tuple(hex, fc.array(message, { minLength: 1, maxLength: 5 }))
    .map(([from, sent]) => sent.map((msg) => ({ t: 'sent', msg: { ...msg, from } }))),
  fc
    .tuple(
      hex,
      fc.array(fc.tuple(message, text, fc.option(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }))), {
        minLength: 1,
        maxLength: 5,
      }),
    )
    // A receipt written since arrival times were kept has `at`; one of an earlier release has none.
    .map(([from, receipts]) =>
      receipts.map(([msg, name, at]) =>
        at === null
          ? { t: 'received', msg: { ...msg, from }, name }
          : { t: 'received', msg: { ...msg, from }, name, at },
      ),
    ),
)

/** What a replay reads of each record, from JSON.parse. */
function projected(json: string): unknown[] {
  type Parsed = {
    t: string
    msg: { seq: number; ts: number; from: string; lines?: number; id: string; body: string }
    name?: string
  }
  return (JSON.parse(json) as Parsed[]).map((r) => {
    const { seq, ts, from, lines } = r.msg
    // How long its text is, without the text: the replay weighs windows and history by it.
    const units = r.msg.id.length + r.msg.body.length
    const msg = lines === undefined ? { seq, ts, from, units } : { seq, ts, from, lines, units }
    return r.t === 'sent' ? { t: 'sent', msg } : { t: 'received', msg, name: r.name }
  })
}

function isJson(json: string): boolean {
  try {
    JSON.parse(json)
    return true
  } catch {
    return false
  }
}

describe('skimFrame against JSON.parse', () => {
  it('reads every frame of one kind and one origin, as JSON.parse reads it, but one with a count of lines no message carries', () => {
    fc.assert(
      fc.property(frame, (records) => {
        const json = JSON.stringify(records)
        const skimmed = skimFrame(json)
        const counts = records.map((r) => (r.msg as { lines?: number }).lines)
        if (counts.some((n) => n !== undefined && (n < 2 || n > MAX_LINES_PER_MSG))) {
          // Left to JSON.parse, whose reader refuses such a record as damaged.
          expect(skimmed).toBeUndefined()
          return
        }
        expect(skimmed).toBeDefined()
        expect(skimmed).toEqual(projected(json))
      }),
      { numRuns: 2_000, seed: 20_261_202 },
    )
  })

  it('recognizes no damaged frame that is not JSON, and reads a damaged one that is as JSON.parse does', () => {
    fc.assert(
      fc.property(frame, fc.nat(), fc.integer({ min: 0, max: 0xffff }), (records, at, code) => {
        const json = JSON.stringify(records)
        const position = at % json.length
        const damaged = json.slice(0, position) + String.fromCharCode(code) + json.slice(position + 1)
        const skimmed = skimFrame(damaged)
        if (skimmed === undefined) return
        expect(isJson(damaged)).toBe(true)
        expect(skimmed).toEqual(projected(damaged))
      }),
      { numRuns: 5_000, seed: 20_261_203 },
    )
  })
})
