import { afterEach, describe, expect, it } from 'vitest'
import { fakeAuth } from '../test/fake-auth.js'
import { flushMicrotasks } from '../test/manual-clock.js'
import { closeNodes, dialedByRawPeer, nodeWorld } from '../test/node-world.js'
import type { Address } from './address.js'
import { HistoryRing } from './history-ring.js'
import type { JournalRecord } from './journal.js'
import { restore } from './journal.js'
import { skimFrame } from './journal-skim.js'
import { messagesOf } from './node-types.js'
import { canonicalMsg } from './room-types.js'
import { type Msg, messageSchemas, parseMessage } from './schema.js'

const LOW = '1111111111111111'
const HIGH = 'eeeeeeeeeeeeeeee'
const MID = '8888888888888888'
const A: Address = '127.0.0.1:4001'
const B: Address = '127.0.0.1:4002'
const C: Address = '127.0.0.1:4003'

afterEach(closeNodes)

const part = (seq: number, body: string, extra: Partial<Msg> = {}): Msg => ({
  type: 'msg',
  id: `m${seq}`,
  seq,
  ts: seq,
  from: HIGH,
  body,
  ...extra,
})

describe('a line that goes on in the next message (msg.more)', () => {
  it('is taken by the schema and the hand checks as `true` only, and kept out of the chain hash as `lines` is', () => {
    const msg = part(1, 'the start of a long line', { more: true })
    expect(parseMessage(JSON.parse(JSON.stringify(msg)))).toEqual(msg)
    expect(messageSchemas().MessageSchema.parse(msg)).toEqual(msg)
    for (const more of [false, 1, 'yes', null]) {
      expect(() => parseMessage({ ...msg, more })).toThrow(/invalid msg message at "more"/)
    }
    // A release that does not know `more` drops it, and still checks the chain of what it relays.
    const { more: _, ...without } = msg
    expect(canonicalMsg(msg)).toBe(canonicalMsg(without))
  })

  it('reaches a neighbour and a member behind a relay on every part but the last, in order and signed', async () => {
    const { clock, node } = nodeWorld()
    const alice = node('alice', A, { id: LOW, peers: [B], auth: fakeAuth(LOW) })
    const bob = node('bob', B, { id: HIGH, auth: fakeAuth(HIGH) })
    // Carol dials only bob: alice's parts reach her relayed.
    const carol = node('carol', C, { id: MID, peers: [B], auth: fakeAuth(MID), runs: true })
    await bob.node.start()
    await alice.node.start()
    await carol.node.start()
    await clock.advance(1_000)
    alice.node.send('a'.repeat(10), { more: true })
    alice.node.send('b'.repeat(10), { more: true })
    alice.node.send('c', { more: false })
    alice.node.send('next line')
    await clock.advance(0)
    await flushMicrotasks()
    await clock.advance(1_000)
    await flushMicrotasks()
    const expected = [
      { body: 'a'.repeat(10), more: true },
      { body: 'b'.repeat(10), more: true },
      { body: 'c' },
      { body: 'next line' },
    ]
    const parts = (events: readonly { body: string; more?: true }[]) =>
      events.map(({ body, more }) => (more ? { body, more } : { body }))
    expect(parts(bob.events.of('message'))).toEqual(expected)
    expect(parts(carol.events.events.flatMap((e) => messagesOf(e)))).toEqual(expected)
    expect(parts(carol.node.history)).toEqual(expected)
    expect(parts(alice.node.history)).toEqual(expected)
    expect(alice.node.pending).toBe(0)
  })

  it('marks the last line of a message of lines that goes on, and only it', async () => {
    const { target: bob, peer, clock } = await dialedByRawPeer('bob', B)
    peer.send(part(1, 'one\ntwo\nthe start', { lines: 3, more: true }))
    peer.send(part(2, ' and the end'))
    await clock.advance(0)
    await flushMicrotasks()
    const shown = bob.events.of('message').map(({ body, seq, more }) => ({ body, seq, more }))
    expect(shown).toEqual([
      { body: 'one', seq: 1, more: undefined },
      { body: 'two', seq: 1, more: undefined },
      { body: 'the start', seq: 1, more: true },
      { body: ' and the end', seq: 2, more: undefined },
    ])
    expect(bob.node.history.map((e) => e.more)).toEqual([undefined, undefined, true, undefined])
  })

  it('gives it to a node made with runs on the `lines` event, for its last line', async () => {
    const { target: bob, peer, clock } = await dialedByRawPeer('bob', B, { runs: true })
    peer.send(part(1, 'one\nthe start', { lines: 2, more: true }))
    await clock.advance(0)
    await flushMicrotasks()
    const run = bob.events.events.find((e) => e.type === 'lines')
    expect(run).toMatchObject({ bodies: ['one', 'the start'], oneMessage: true, more: true })
    expect(messagesOf(run!).map((m) => m.more)).toEqual([undefined, true])
  })
})

describe('a journal holding parts of a long line', () => {
  const self = { id: 'a'.repeat(64), name: 'alice' }
  const bob = { id: 'b'.repeat(64), name: 'bob' }
  const msg = (seq: number, from: string, body: string, extra: Partial<Msg> = {}): Msg => ({
    type: 'msg',
    id: `m${seq}`,
    seq,
    ts: seq,
    from,
    body,
    ...extra,
  })
  const records: JournalRecord[] = [
    { t: 'self', epoch: 'e1' },
    { t: 'sent', msg: msg(1, self.id, 'x', { more: true }) },
    { t: 'sent', msg: msg(2, self.id, 'y') },
    { t: 'peer', peer: bob, epoch: 'b1' },
    { t: 'received', msg: msg(1, bob.id, 'p\nq', { lines: 2, more: true }), name: 'bob' },
    { t: 'received', msg: msg(2, bob.id, 'r', { more: true }), name: 'bob' },
    { t: 'received', msg: msg(3, bob.id, 's'), name: 'bob' },
  ]

  it('restores the mark on each part of the history, and on the last line of a message of lines', () => {
    const history = restore(records, self).history
    expect(history.map((e) => [e.direction, e.body, e.more])).toEqual([
      ['out', 'x', true],
      ['out', 'y', undefined],
      ['in', 'p', undefined],
      ['in', 'q', true],
      ['in', 'r', true],
      ['in', 's', undefined],
    ])
  })

  it('is skimmed at start-up like any record: `more` is a field the skim knows', () => {
    const received = records.filter((r) => r.t === 'received')
    expect(skimFrame(JSON.stringify(received))?.map((r) => r.msg.seq)).toEqual([1, 2, 3])
    const sent = records.filter((r) => r.t === 'sent')
    expect(skimFrame(JSON.stringify(sent))?.map((r) => r.msg.seq)).toEqual([1, 2])
  })

  it('shows again, with their mark, the parts the last run received and did not show', async () => {
    const { node } = nodeWorld()
    const alice = node('alice', A, {
      id: self.id,
      restored: restore(records, self),
      displayed: new Map([[bob.id, 1]]),
    })
    await alice.node.start()
    const replayed = alice.events.of('message').map(({ body, more, replayed }) => ({ body, more, replayed }))
    expect(replayed).toEqual([
      { body: 'r', more: true, replayed: true },
      { body: 's', more: undefined, replayed: true },
    ])
  })

  it('says when the last run received each message it shows again, so a frontend can place it in time', async () => {
    const { node } = nodeWorld()
    const arrived: JournalRecord[] = [
      { t: 'self', epoch: 'e1' },
      { t: 'peer', peer: bob, epoch: 'b1' },
      { t: 'received', msg: msg(1, bob.id, 'dated ahead', { ts: 9_000 }), name: 'bob', at: 500 },
      { t: 'received', msg: msg(2, bob.id, 'from an older release'), name: 'bob' },
    ]
    const alice = node('alice', A, { id: self.id, restored: restore(arrived, self), displayed: new Map() })
    await alice.node.start()
    expect(alice.events.of('message').map(({ body, at }) => ({ body, at }))).toEqual([
      { body: 'dated ahead', at: 500 },
      { body: 'from an older release', at: undefined },
    ])
  })

  it('ends a line its last run left open with an empty last part, before this run first sends', async () => {
    const { node } = nodeWorld()
    const leftOpen: JournalRecord[] = [
      { t: 'self', epoch: 'e1' },
      { t: 'sent', msg: msg(1, self.id, 'front', { more: true }) },
    ]
    const started = async (i: number, from: JournalRecord[]) => {
      const alice = node(`alice${i}`, `127.0.0.1:${4101 + i}` as Address, {
        id: self.id,
        restored: restore(from, self),
      })
      await alice.node.start()
      return alice.node
    }
    const sentBodies = (n: { readonly history: readonly { direction: string; body: string }[] }) =>
      n.history.filter((e) => e.direction === 'out').map((e) => e.body)
    const one = await started(0, leftOpen)
    one.send('next')
    one.send('and on')
    expect(sentBodies(one)).toEqual(['front', '', 'next', 'and on'])
    const lines = await started(1, leftOpen)
    lines.sendLines(['one', 'two'])
    expect(sentBodies(lines)).toEqual(['front', '', 'one', 'two'])
    // A line the last run ended: nothing is added.
    const ended = await started(2, records.slice(0, 3))
    ended.send('next')
    expect(sentBodies(ended)).toEqual(['x', 'y', 'next'])
  })

  it('keeps the mark in the in-memory history, for a single part and for a message of lines', () => {
    const ring = new HistoryRing(10, 1 << 20)
    ring.push('in', 'm1', 1, 1, bob, 'part', true)
    ring.pushMessageLines('in', 'm2', 2, 2, bob, 'a\nb', 2, true)
    ring.push('in', 'm3', 3, 3, bob, 'end')
    expect(ring.entries().map((e) => [e.body, e.more])).toEqual([
      ['part', true],
      ['a', undefined],
      ['b', true],
      ['end', undefined],
    ])
  })
})
