import { describe, expect, it } from 'vitest'
import { skimFrame } from './journal-skim.js'

const FROM = 'ab'.repeat(32)
const msg = (seq: number, extra: Record<string, unknown> = {}) => ({
  type: 'msg',
  id: `id-${seq}`,
  seq,
  ts: 1_700_000_000_000 + seq,
  from: FROM,
  body: `line ${seq} with "quotes", a \\ and \u0001`,
  ...extra,
})
const received = (seq: number, name = 'bob', extra = {}) => ({ t: 'received', msg: msg(seq, extra), name })

describe('skimFrame', () => {
  it("keeps each sent or received record's seq, time, origin and name, as JSON.parse reads them", () => {
    const receipts = [
      received(1, 'bob', { hops: 63, name: 'bob', prev: 'a_b-c' }),
      received(2, 'b\\"o\u00e9b'),
    ]
    // The id and the body are not kept, only how long they are, escapes read (the body: 31 units).
    const units = (seq: number) => `id-${seq}`.length + msg(seq).body.length
    expect(units(1)).toBe(4 + 31)
    expect(skimFrame(JSON.stringify(receipts))).toEqual([
      { t: 'received', msg: { seq: 1, ts: msg(1).ts, from: FROM, units: units(1) }, name: 'bob' },
      { t: 'received', msg: { seq: 2, ts: msg(2).ts, from: FROM, units: units(2) }, name: 'b\\"o\u00e9b' },
    ])
    const sent = [{ t: 'sent', msg: msg(7, { name: 'al', sig: 'xyz', prev: 'p' }) }]
    expect(skimFrame(JSON.stringify(sent))).toEqual([
      { t: 'sent', msg: { seq: 7, ts: msg(7).ts, from: FROM, units: units(7) } },
    ])
  })

  it('leaves to JSON.parse what it does not recognize: other records, other orders and fields, several origins', () => {
    const unrecognized = [
      [{ t: 'acked', peer: { id: FROM, name: 'bob' }, upTo: 3 }],
      [received(1), { t: 'acked', peer: { id: FROM, name: 'bob' }, upTo: 3 }],
      [{ t: 'sent', msg: msg(1) }, received(2)],
      [received(1), { ...received(2), msg: { ...msg(2), from: 'cd'.repeat(32) } }],
      [{ t: 'received', name: 'bob', msg: msg(1) }],
      [received(1, 'bob', { extra: 1 })],
      [received(1, 'bob', { hops: -1 })],
      [received(1, 'bob', { seq: 1.5 })],
      [received(1, 'bob', { seq: 2 ** 60 })],
      [received(1, 'bob', { ts: 2 ** 53 })],
      [received(1, 'bob', { from: 'AB'.repeat(32) })],
    ]
    for (const records of unrecognized) expect(skimFrame(JSON.stringify(records))).toBeUndefined()
  })

  it('recognizes only valid JSON', () => {
    const text = JSON.stringify([received(1), received(2)])
    const invalid = [
      text.slice(0, -1),
      `${text} `,
      text.replace('},{', '},,{'),
      text.replace('line 1', 'line\u00011'),
      text.replace('line 1', 'line \\x 1'),
      text.replace('"name":"bob"}', '"name":"bob}'),
    ]
    for (const bad of invalid) expect(skimFrame(bad)).toBeUndefined()
  })

  it("recognizes a receipt's arrival time (`at`), which a replay does not read, and only as written", () => {
    const now = 1_800_000_000_000
    const skimmed = skimFrame(JSON.stringify([received(1)]))
    expect(skimFrame(JSON.stringify([{ ...received(1), at: now }]))).toEqual(skimmed)
    // An earlier release's receipt (no `at`) and this one's, in one frame.
    expect(skimFrame(JSON.stringify([received(1), { ...received(2), at: now }]))).toHaveLength(2)
    const unrecognized = [
      [{ ...received(1), at: now + 0.5 }],
      [{ ...received(1), at: -1 }],
      [{ ...received(1), at: 'now' }],
      [{ t: 'received', msg: msg(1), at: now, name: 'bob' }],
    ]
    for (const records of unrecognized) expect(skimFrame(JSON.stringify(records))).toBeUndefined()
  })
})
