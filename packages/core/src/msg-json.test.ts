import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { command, journalOf, msgOf } from '../test/journal-arbitraries.js'
import { encodeFrame } from './codec.js'
import { journalRecordsJson, MADE_CAP, takeMsgJson } from './msg-json.js'
import type { Msg } from './schema.js'

const decoder = new TextDecoder()

describe('journalRecordsJson', () => {
  it('writes what JSON.stringify writes, for any journal the node makes (property)', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 60 }), (commands) => {
        const records = journalOf(commands)
        expect(journalRecordsJson(records)).toBe(JSON.stringify(records))
      }),
      { numRuns: 300 },
    )
  })

  it('reads back as JSON.stringify does for records the node does not make, text of any kind included', () => {
    const msg = { ...msgOf('b'.repeat(16), 1, 1), body: 'é \u2028 "quoted" \\ \u0000 \ud800' }
    const odd: unknown[] = [
      { t: 'sent', msg },
      { msg, t: 'sent' },
      { t: 'sent', msg, extra: 1 },
      { t: 'sent', msg: undefined },
      { t: 'sent', msg: null },
      { t: 'sent' },
      null,
      7,
      'sent',
      [{ t: 'sent', msg }],
      { t: 'sent', msg: { ...msg, name: undefined } },
      undefined,
      () => 1,
    ]
    // Another key order is written in the node's order: the same record once read.
    expect(JSON.parse(journalRecordsJson(odd))).toEqual(JSON.parse(JSON.stringify(odd)))
    const inOrder = odd.filter((_, i) => i !== 1)
    expect(journalRecordsJson(inOrder)).toBe(JSON.stringify(inOrder))
    expect(journalRecordsJson([])).toBe('[]')
    expect(journalRecordsJson([{ t: 'sent', msg }])).toBe(JSON.stringify([{ t: 'sent', msg }]))
    expect(journalRecordsJson([{ t: 'sent', msg }, undefined])).toBe(
      JSON.stringify([{ t: 'sent', msg }, undefined]),
    )
  })

  it('hands the text of a sent message to its frame, once', () => {
    const msg: Msg = { ...msgOf('a'.repeat(16), 3, 9), prev: 'p', sig: 's' }
    const fresh = encodeFrame({ ...msg })
    journalRecordsJson([{ t: 'sent', msg }])
    expect(decoder.decode(encodeFrame(msg))).toBe(decoder.decode(fresh))
    // The frame took it: the next frame of it is made afresh, the same.
    expect(takeMsgJson(msg)).toBeUndefined()
    expect(decoder.decode(encodeFrame(msg))).toBe(decoder.decode(fresh))
    // Received records keep nothing for a frame.
    const received = msgOf('b'.repeat(16), 1, 1)
    journalRecordsJson([{ t: 'received', msg: received, name: 'bob' }])
    expect(takeMsgJson(received)).toBeUndefined()
  })

  it('keeps the texts of the latest MADE_CAP sent messages only, for messages no frame takes', () => {
    const msgs = Array.from({ length: MADE_CAP + 10 }, (_, i) => msgOf('a'.repeat(16), i + 1, i))
    journalRecordsJson(msgs.map((msg) => ({ t: 'sent', msg })))
    expect(msgs.slice(0, 10).map(takeMsgJson)).toEqual(Array(10).fill(undefined))
    expect(msgs.slice(10).map(takeMsgJson)).toEqual(msgs.slice(10).map((msg) => JSON.stringify(msg)))
  })
})
