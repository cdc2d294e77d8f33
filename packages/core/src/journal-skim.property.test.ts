/**
 * The skim against JSON.parse: over frames of messages with any text in their strings, and over frames
 * damaged anywhere, whatever it recognizes it reads as JSON.parse does, and it recognizes no invalid JSON.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { skimFrame } from './journal-skim.js'

const hex = fc.stringMatching(/^[0-9a-f]{16,70}$/)
const text = fc.string({ unit: 'binary', maxLength: 40 })
const message = fc.record(
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
    lines: fc.integer({ min: 2, max: 10_001 }),
  },
  { requiredKeys: ['type', 'id', 'seq', 'ts', 'from', 'body'] },
)
const frame = fc.oneof(
  fc
    .tuple(hex, fc.array(message, { minLength: 1, maxLength: 5 }))
    .map(([from, sent]) => sent.map((msg) => ({ t: 'sent', msg: { ...msg, from } }))),
  fc
    .tuple(hex, fc.array(fc.tuple(message, text), { minLength: 1, maxLength: 5 }))
    .map(([from, receipts]) =>
      receipts.map(([msg, name]) => ({ t: 'received', msg: { ...msg, from }, name })),
    ),
)

/** What a replay reads of each record, from JSON.parse. */
function projected(json: string): unknown[] {
  type Parsed = { t: string; msg: { seq: number; from: string; lines?: number }; name?: string }
  return (JSON.parse(json) as Parsed[]).map((r) => {
    const { seq, from, lines } = r.msg
    const msg = lines === undefined ? { seq, from } : { seq, from, lines }
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
  it('reads every frame of one kind and one origin, as JSON.parse reads it', () => {
    fc.assert(
      fc.property(frame, (records) => {
        const json = JSON.stringify(records)
        const skimmed = skimFrame(json)
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
