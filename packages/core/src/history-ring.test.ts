import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { HistoryRing } from './history-ring.js'
import type { HistoryEntry } from './journal.js'
import { lineId } from './msg-lines.js'
import type { PeerInfo } from './peer-machine.js'

const ALICE: PeerInfo = { id: 'a'.repeat(64), name: 'alice' }
const BOB: PeerInfo = { id: 'plain:127.0.0.1:5000', name: '127.0.0.1:5000' }

function push(ring: HistoryRing, entry: HistoryEntry): void {
  ring.push(entry.direction, entry.id, entry.seq, entry.ts, entry.from, entry.body)
}

describe('HistoryRing', () => {
  it('gives back when a received entry arrived (`at`), and no such field where it was pushed without', () => {
    const ring = new HistoryRing(10, 1 << 20)
    ring.push('in', 'b-1', 1, 9_000, BOB, 'ahead', undefined, 1_000)
    ring.push('in', 'b-2', 2, 9_001, BOB, 'no arrival time')
    ring.pushMessageLines('in', 'b-3', 3, 9_002, BOB, 'x\ny', 2, true, 1_002)
    // Longer than the ring: its last lines one by one, each with the message's arrival time.
    const long = new HistoryRing(2, 1 << 20)
    long.pushMessageLines('in', 'c-1', 1, 5, BOB, 'p\nq\nr', 3, undefined, 7)
    expect(ring.entries().map((e) => [e.id, e.ts, e.at, e.more])).toEqual([
      ['b-1', 9_000, 1_000, undefined],
      ['b-2', 9_001, undefined, undefined],
      ['b-3', 9_002, 1_002, undefined],
      ['b-3.1', 9_002, 1_002, true],
    ])
    expect(ring.entries().map((e) => 'at' in e)).toEqual([true, false, true, true])
    expect(long.entries().map((e) => [e.id, e.at])).toEqual([
      ['c-1.1', 7],
      ['c-1.2', 7],
    ])
  })

  it('gives back every field of what was pushed, in order', () => {
    const ring = new HistoryRing(10, 1 << 20)
    const entries: HistoryEntry[] = [
      { direction: 'out', id: 'plain-1', seq: 1, ts: 1_700_000_000_000, from: ALICE, body: 'hello' },
      { direction: 'in', id: '3-1', seq: 1, ts: 1_700_000_000_001, from: BOB, body: 'grüße, 你好 😀' },
      { direction: 'in', id: '', seq: 2, ts: 0, from: BOB, body: '' },
      { direction: 'out', id: 'ünï', seq: 2 ** 40, ts: 1.5, from: ALICE, body: 'x'.repeat(10_000) },
    ]
    for (const entry of entries) push(ring, entry)
    expect(ring.length).toBe(4)
    expect(ring.entries()).toEqual(entries)
    // The sender is the very object pushed (a rename makes a new one; older lines keep the old name).
    expect(ring.entries()[1]?.from).toBe(BOB)
  })

  it('keeps only the newest `limit` entries', () => {
    const ring = new HistoryRing(3, 1 << 20)
    for (let i = 1; i <= 10; i++)
      push(ring, { direction: 'in', id: `i${i}`, seq: i, ts: i, from: BOB, body: `line ${i}` })
    expect(ring.length).toBe(3)
    expect(ring.entries().map((e) => e.body)).toEqual(['line 8', 'line 9', 'line 10'])
  })

  it('holds bodies far larger than its first buffer', () => {
    const ring = new HistoryRing(4, 1 << 24)
    const big = '€'.repeat(100_000)
    for (let i = 0; i < 6; i++)
      push(ring, { direction: 'out', id: `${i}`, seq: i, ts: i, from: ALICE, body: `${i}${big}` })
    expect(ring.entries().map((e) => e.body)).toEqual([2, 3, 4, 5].map((i) => `${i}${big}`))
  })

  it('matches the last `limit` entries of a plain list for any pushes', () => {
    const entry = fc.record({
      direction: fc.constantFrom('in' as const, 'out' as const),
      id: fc.string({ maxLength: 20 }),
      seq: fc.nat(),
      ts: fc.nat(),
      from: fc.constantFrom(ALICE, BOB),
      // Well-formed text, as every line is once decoded from UTF-8 (see the module's note).
      body: fc.string({ unit: 'grapheme', maxLength: 300 }),
    })
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.array(entry, { maxLength: 60 }), (limit, entries) => {
        const ring = new HistoryRing(limit, 1 << 20)
        const model: HistoryEntry[] = []
        for (const e of entries) {
          push(ring, e)
          model.push(e)
          expect(ring.length).toBe(Math.min(limit, model.length))
        }
        expect(ring.entries()).toEqual(model.slice(-limit))
      }),
    )
  })

  it('holds `maxBytes` of text at most, always the newest entries', () => {
    const ring = new HistoryRing(1_000, 64 * 1024)
    const line = (i: number) => `${i} ${'y'.repeat(2_000 + (i % 7) * 500)}`
    for (let i = 0; i < 500; i++) {
      push(ring, { direction: 'in', id: `${i}`, seq: i, ts: i, from: BOB, body: line(i) })
      expect(ring.bytes).toBeLessThanOrEqual(64 * 1024)
    }
    const held = ring.entries()
    expect(held.length).toBeGreaterThan(10)
    expect(held.length).toBeLessThan(1_000)
    expect(held.map((e) => e.body)).toEqual(held.map((e) => line(e.seq)))
    expect(held.at(-1)?.seq).toBe(499)
    expect(held.map((e) => e.seq)).toEqual(held.map((_, k) => 500 - held.length + k))
  })

  it('still holds a line longer than its byte bound, alone in its half', () => {
    const ring = new HistoryRing(10, 1_000)
    push(ring, { direction: 'in', id: 'a', seq: 1, ts: 1, from: BOB, body: 'z'.repeat(5_000) })
    push(ring, { direction: 'in', id: 'b', seq: 2, ts: 2, from: BOB, body: 'short' })
    expect(ring.entries().map((e) => e.id)).toEqual(['a', 'b'])
    push(ring, { direction: 'in', id: 'c', seq: 3, ts: 3, from: BOB, body: 'z'.repeat(5_000) })
    push(ring, { direction: 'in', id: 'd', seq: 4, ts: 4, from: BOB, body: 'z' })
    expect(ring.entries().map((e) => e.id)).toEqual(['c', 'd'])
    expect(ring.bytes).toBe(5_001 + 2)
  })

  it('counts the bytes of any text as UTF-8 encodes it, near its bound', () => {
    // Two-, three- and four-byte characters and a lone surrogate (U+FFFD, three bytes): each entry is
    // 2 + 3 + 4 + 3 bytes, 13 with its one-byte id, so a 26-byte half takes exactly two.
    const ring = new HistoryRing(100, 52)
    const body = 'é€😀\ud800'
    for (let i = 0; i < 10; i++)
      push(ring, { direction: 'out', id: `${i}`, seq: i, ts: i, from: ALICE, body })
    expect(ring.bytes).toBe(52)
    expect(ring.entries().map((e) => e.id)).toEqual(['6', '7', '8', '9'])
    expect(ring.entries()[0]?.body).toBe('é€😀\ufffd')
  })

  it('refuses a limit that is not a positive integer, and a bound that is not positive', () => {
    expect(() => new HistoryRing(0, 1024)).toThrow(RangeError)
    expect(() => new HistoryRing(1.5, 1024)).toThrow(RangeError)
    expect(() => new HistoryRing(10, 0)).toThrow(RangeError)
    expect(() => new HistoryRing(10, Number.NaN)).toThrow(RangeError)
    expect(() => new HistoryRing(10, Number.POSITIVE_INFINITY)).toThrow(RangeError)
  })
})

describe('HistoryRing.pushLines', () => {
  const body = fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.string({ unit: 'grapheme', maxLength: 6 }),
    fc.constantFrom('', 'plain ascii line', 'grüße', '😀'),
  )
  const step = fc.oneof(
    fc.record({ kind: fc.constant('run' as const), bodies: fc.array(body, { maxLength: 12 }) }),
    fc.record({ kind: fc.constant('one' as const), body }),
    fc.record({
      kind: fc.constant('message' as const),
      bodies: fc.array(body, { minLength: 2, maxLength: 12 }),
    }),
  )

  it('holds what pushing each line alone holds, ids, bounds and all, for runs and messages of lines', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.oneof(fc.integer({ min: 8, max: 200 }), fc.constant(1 << 16)),
        fc.array(step, { maxLength: 12 }),
        (limit, maxBytes, steps) => {
          const runs = new HistoryRing(limit, maxBytes)
          const lines = new HistoryRing(limit, maxBytes)
          let seq = 1
          for (const s of steps) {
            if (s.kind === 'one') {
              push(runs, { direction: 'out', id: `plain-${seq}`, seq, ts: seq, from: ALICE, body: s.body })
              push(lines, { direction: 'out', id: `plain-${seq}`, seq, ts: seq, from: ALICE, body: s.body })
              seq++
              continue
            }
            if (s.kind === 'message') {
              // The lines of one msg: one seq, ids made from the message's.
              runs.pushMessageLines('in', `m${seq}`, seq, seq, BOB, s.bodies.join('\n'), s.bodies.length)
              s.bodies.forEach((b, i) => {
                push(lines, { direction: 'in', id: lineId(`m${seq}`, i), seq, ts: seq, from: BOB, body: b })
              })
              seq++
              continue
            }
            runs.pushLines('in', '4-', seq, seq, BOB, s.bodies)
            s.bodies.forEach((b, i) => {
              push(lines, { direction: 'in', id: `4-${seq + i}`, seq: seq + i, ts: seq, from: BOB, body: b })
            })
            seq += s.bodies.length
          }
          const toText = (entries: HistoryEntry[]) =>
            entries.map((e) => ({ ...e, body: Buffer.from(e.body).toString() }))
          // A run may hold a line more or fewer near the bytes bound (the newlines between its lines
          // count there): the newest lines agree, and every line held is the line pushed.
          const got = runs.entries()
          const want = toText(lines.entries())
          const common = Math.min(got.length, want.length)
          // The newest line pushed is always held.
          if (seq > 1) expect(common).toBeGreaterThan(0)
          expect(got.slice(-common)).toEqual(want.slice(-common))
          expect(got.length).toBeLessThanOrEqual(limit)
          // Far from the bytes bound, the two hold exactly the same.
          if (maxBytes >= 1 << 16) expect(got).toEqual(want)
        },
      ),
    )
  })

  it('keeps the last `limit` lines of a message of more lines than that, with their ids', () => {
    const ring = new HistoryRing(2, 1 << 20)
    ring.push('out', 'x', 1, 1, ALICE, 'before')
    ring.pushMessageLines('in', 'm', 7, 5, BOB, 'a\nb\nc', 3)
    expect(ring.entries().map((e) => [e.id, e.seq, e.body])).toEqual([
      ['m.1', 7, 'b'],
      ['m.2', 7, 'c'],
    ])
  })

  it('keeps the last `limit` lines of a run longer than that, with their ids', () => {
    const ring = new HistoryRing(3, 1 << 20)
    ring.pushLines('in', '2-', 1, 5, BOB, ['a', 'b', 'c', 'd', 'e'])
    expect(ring.entries().map((e) => [e.id, e.seq, e.body])).toEqual([
      ['2-3', 3, 'c'],
      ['2-4', 4, 'd'],
      ['2-5', 5, 'e'],
    ])
  })

  it('holds a run that is not ASCII, each body intact', () => {
    const ring = new HistoryRing(10, 1 << 20)
    ring.pushLines('out', 'plain-', 7, 1, ALICE, ['grüße', '', '😀 ok'])
    ring.push('out', 'plain-10', 10, 2, ALICE, 'after')
    expect(ring.entries().map((e) => [e.id, e.body])).toEqual([
      ['plain-7', 'grüße'],
      ['plain-8', ''],
      ['plain-9', '😀 ok'],
      ['plain-10', 'after'],
    ])
  })
})

describe('HistoryRing growth', () => {
  it('makes room for entries as they come, up to its limit, and loses none of their fields', () => {
    const ring = new HistoryRing(1_000, 1 << 24)
    const peers = [ALICE, BOB]
    for (let seq = 1; seq <= 2_500; seq++) {
      push(ring, {
        direction: seq % 2 ? 'in' : 'out',
        id: `id-${seq}`,
        seq,
        ts: seq * 10,
        from: peers[seq % 2] as PeerInfo,
        body: `body ${seq}`,
      })
      if (seq === 2_400) ring.pushLines('in', 'r-', 90_000, 5, BOB, ['x', 'y'])
    }
    // 2,502 lines pushed: the last 1,000 start at the 1,503rd.
    const entries = ring.entries()
    expect(entries).toHaveLength(1_000)
    expect(entries[0]).toEqual({
      direction: 'in',
      id: 'id-1503',
      seq: 1_503,
      ts: 15_030,
      from: BOB,
      body: 'body 1503',
    })
    expect(entries.slice(897, 901).map((e) => [e.id, e.seq, e.ts, e.body])).toEqual([
      ['id-2400', 2_400, 24_000, 'body 2400'],
      ['r-90000', 90_000, 5, 'x'],
      ['r-90001', 90_001, 5, 'y'],
      ['id-2401', 2_401, 24_010, 'body 2401'],
    ])
    expect(entries.at(-1)).toEqual({
      direction: 'out',
      id: 'id-2500',
      seq: 2_500,
      ts: 25_000,
      from: ALICE,
      body: 'body 2500',
    })
  })
})
