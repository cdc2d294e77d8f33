import { afterEach, describe, expect, it } from 'vitest'
import { fakeAuth } from '../test/fake-auth.js'
import { flushMicrotasks } from '../test/manual-clock.js'
import { closeNodes, dialedByRawPeer, nodeWorld } from '../test/node-world.js'
import type { RawPeer } from '../test/raw-peer.js'
import type { Address } from './address.js'
import { encodeFrame } from './codec.js'
import type { JournalRecord } from './journal.js'
import { replayJournal, restore } from './journal.js'
import {
  framedBytes,
  LINES_PER_MSG_CHARS,
  LINES_PER_MSG_FRAMED_BYTES,
  LINES_PER_MSG_SHOWN_BYTES,
  lineId,
  linesOf,
  shownLineBytes,
} from './msg-lines.js'
import { messagesOf } from './node-types.js'
import { MAX_BODY_LENGTH, type Msg, parseMessage } from './schema.js'

const LOW = '1111111111111111'
const HIGH = 'eeeeeeeeeeeeeeee'
const A: Address = '127.0.0.1:4001'
const B: Address = '127.0.0.1:4002'
const C: Address = '127.0.0.1:4003'
const MID = '8888888888888888'

afterEach(closeNodes)

/** Alice, with a journal that records every append, dialed by a raw peer. */
async function aliceWithRawPeer(maxFrame?: number) {
  const appends: JournalRecord[][] = []
  const journal = { append: async (records: readonly JournalRecord[]) => void appends.push([...records]) }
  const {
    target: alice,
    peer,
    clock,
  } = await dialedByRawPeer('alice', A, {
    journal,
    ...(maxFrame === undefined ? {} : { maxFrame }),
  })
  return { alice, peer, clock, appends }
}

const sentMsgs = (peer: RawPeer) => peer.received.filter((m): m is Msg => m.type === 'msg')
/** The most a message's lines take in a receiver's line display. */
const shownOf = (m: Msg) => linesOf(m).reduce((n, line) => n + shownLineBytes(m.name ?? '', line), 0)
/** The most a message's lines take in its frame: each at its worst escape, with its newline. */
const framedOf = (m: Msg) => linesOf(m).reduce((n, line) => n + framedBytes(line) + 2, 0)

describe('lines carried together (msg.lines)', () => {
  it('carries piped lines in as few messages as fit, each line whole and in order', async () => {
    const { alice, peer, clock } = await aliceWithRawPeer()
    const lines = Array.from({ length: 500 }, (_, i) => `line ${i} ${'x'.repeat(i % 50)}`)
    alice.node.sendLines(lines)
    await clock.advance(0)
    await flushMicrotasks()
    const msgs = sentMsgs(peer)
    expect(msgs.length).toBeGreaterThan(1)
    for (const [i, m] of msgs.entries()) {
      // Each fits one write of a line display; every one but the last is as full as the next line allows.
      expect(shownOf(m)).toBeLessThanOrEqual(LINES_PER_MSG_SHOWN_BYTES)
      const first = msgs[i + 1] && (linesOf(msgs[i + 1]!)[0] as string)
      if (first !== undefined) {
        const charsFull = m.body.length + 1 + first.length + 1 > LINES_PER_MSG_CHARS
        const shownFull = shownOf(m) + shownLineBytes('alice', first) > LINES_PER_MSG_SHOWN_BYTES
        const framedFull = framedOf(m) + framedBytes(first) + 2 > LINES_PER_MSG_FRAMED_BYTES
        expect(charsFull || shownFull || framedFull).toBe(true)
      }
      expect(parseMessage(JSON.parse(JSON.stringify(m)))).toEqual(m)
    }
    expect(msgs.flatMap((m) => linesOf(m))).toEqual(lines)
    expect(msgs.map((m) => m.seq)).toEqual(msgs.map((_, i) => i + 1))
    // The outbox counts lines, as the frontends that pause their input do.
    expect(alice.node.pending).toBe(500)
    peer.send({ type: 'ack', upTo: msgs[1]!.seq })
    await clock.advance(0)
    expect(alice.node.pending).toBe(500 - linesOf(msgs[0]!).length - linesOf(msgs[1]!).length)
    peer.send({ type: 'ack', upTo: msgs.at(-1)!.seq })
    await clock.advance(0)
    expect(alice.node.pending).toBe(0)
  })

  it('keeps each line in the history as an entry of its own, under ids derived from the message', async () => {
    const { alice, peer, clock } = await aliceWithRawPeer()
    alice.node.sendLines(['one', 'two', 'three'])
    await clock.advance(0)
    const [m] = sentMsgs(peer)
    expect(m).toMatchObject({ lines: 3, body: 'one\ntwo\nthree' })
    expect(alice.node.history.map((e) => [e.id, e.seq, e.body])).toEqual([
      [m!.id, 1, 'one'],
      [`${m!.id}.1`, 1, 'two'],
      [`${m!.id}.2`, 1, 'three'],
    ])
  })

  it('sends a line alone when it is one line, holds a newline, or is longer than a message of lines', async () => {
    const { alice, peer, clock } = await aliceWithRawPeer()
    const long = 'y'.repeat(LINES_PER_MSG_CHARS + 5)
    alice.node.sendLines(['solo'])
    alice.node.sendLines(['a', 'b\nc', 'd', 'e', long, 'f'])
    await clock.advance(0)
    expect(sentMsgs(peer).map((m) => [m.body, m.lines])).toEqual([
      ['solo', undefined],
      ['a', undefined],
      ['b\nc', undefined],
      ['d\ne', 2],
      [long, undefined],
      ['f', undefined],
    ])
  })

  it('keeps a message of lines within a 4 KB frame whatever its text, for receivers with --max-frame 4096', async () => {
    const { alice, peer, clock } = await aliceWithRawPeer()
    // Tabs, quotes and backslashes are shown as they are but escaped in JSON: twice the bytes in a frame.
    const escaped = Array.from({ length: 300 }, (_, i) => `${i}\t"q"\\${'\t"\\'.repeat(30)}`)
    const plain = Array.from({ length: 300 }, (_, i) => `${i} ${'p'.repeat(90)}`)
    alice.node.sendLines(escaped)
    alice.node.sendLines(plain)
    await clock.advance(0)
    const msgs = sentMsgs(peer)
    for (const m of msgs) {
      expect(framedOf(m)).toBeLessThanOrEqual(LINES_PER_MSG_FRAMED_BYTES)
      expect(encodeFrame(m).length).toBeLessThanOrEqual(4_096)
    }
    // Not one line a message: each carries as many as the bound lets it.
    expect(msgs.length).toBeLessThan(60)
    expect(msgs.flatMap((m) => linesOf(m))).toEqual([...escaped, ...plain])
  })

  it('packs lines by what they take shown, prefix included, not by their characters', async () => {
    const { alice, peer, clock } = await aliceWithRawPeer()
    // Short lines: the prefix is most of what each takes shown (25 + "alice" + 5 bytes).
    alice.node.sendLines(Array.from({ length: 1_000 }, (_, i) => `${10_000 + i}`))
    // Text that may be escaped or take several bytes a character counts six bytes a UTF-16 unit; a tab
    // is shown as it is.
    alice.node.sendLines(Array.from({ length: 40 }, () => 'ü'.repeat(50)))
    alice.node.sendLines(Array.from({ length: 200 }, () => `a\tb${'c'.repeat(20)}`))
    await clock.advance(0)
    const msgs = sentMsgs(peer)
    for (const m of msgs) {
      expect(shownOf(m)).toBeLessThanOrEqual(LINES_PER_MSG_SHOWN_BYTES)
      expect(m.body.length).toBeLessThan(LINES_PER_MSG_CHARS)
    }
    const counts = msgs.map((m) => linesOf(m).length)
    expect(counts.slice(0, 9)).toEqual([114, 114, 114, 114, 114, 114, 114, 114, 88])
    expect(counts.slice(9, 13)).toEqual([12, 12, 12, 4])
    expect(counts.slice(13)).toEqual([75, 75, 50])
    expect(msgs.flatMap((m) => linesOf(m))).toHaveLength(1_240)
  })

  it("packs lines within this node's frame limit, and sends none of a run a line of which fits no frame", async () => {
    const { alice, peer, clock } = await aliceWithRawPeer(1_024)
    const lines = Array.from({ length: 60 }, (_, i) => `${i} ${'x'.repeat(26)} "quoted"`)
    alice.node.sendLines(lines)
    await clock.advance(0)
    const msgs = sentMsgs(peer)
    expect(msgs.flatMap((m) => linesOf(m))).toEqual(lines)
    expect(msgs.length).toBeLessThan(60)
    for (const m of msgs) expect(Buffer.byteLength(JSON.stringify(m))).toBeLessThanOrEqual(1_024)
    // A line that fits no frame alone: nothing of its run is sent, nothing waits.
    const pending = alice.node.pending
    expect(() => alice.node.sendLines(['before', 'z'.repeat(1_000), 'after'])).toThrow(
      expect.objectContaining({ code: 'FRAME_TOO_LARGE' }),
    )
    await clock.advance(0)
    expect(sentMsgs(peer)).toHaveLength(msgs.length)
    expect(alice.node.pending).toBe(pending)
  })

  it('refuses the whole run, sending none of it, when a line is too long', async () => {
    const { alice, peer, clock } = await aliceWithRawPeer()
    expect(() => alice.node.sendLines(['ok', 'z'.repeat(MAX_BODY_LENGTH + 1)])).toThrow(/at most/)
    await clock.advance(0)
    expect(sentMsgs(peer)).toEqual([])
    expect(alice.node.pending).toBe(0)
  })

  it('shows each carried line as a message, and a peer of this release chats with it both ways', async () => {
    const { clock, node } = nodeWorld()
    const alice = node('alice', A, { id: LOW, peers: [B], auth: fakeAuth(LOW) })
    const bob = node('bob', B, { id: HIGH, auth: fakeAuth(HIGH) })
    await bob.node.start()
    await alice.node.start()
    await clock.advance(1_000)
    alice.node.sendLines(['first', '/not a command', '', 'last'])
    await clock.advance(0)
    await flushMicrotasks()
    const shown = bob.events.of('message')
    expect(shown.map((m) => m.body)).toEqual(['first', '/not a command', '', 'last'])
    expect(new Set(shown.map((m) => m.seq))).toEqual(new Set([1]))
    expect(shown.map((m) => m.id)).toEqual([0, 1, 2, 3].map((i) => lineId(shown[0]!.id, i)))
    expect(bob.node.history.map((e) => e.body)).toEqual(['first', '/not a command', '', 'last'])
    // Acked as one message: every line leaves the outbox.
    await clock.advance(1_000)
    expect(alice.node.pending).toBe(0)
    expect(alice.events.events.filter((e) => e.type === 'delivered')).toHaveLength(1)
  })

  it('gives the lines of a message as one `lines` event to a node made with runs, standing for the same messages', async () => {
    const { clock, node } = nodeWorld()
    const alice = node('alice', A, { id: LOW, peers: [B] })
    const bob = node('bob', B, { id: HIGH, runs: true })
    const carol = node('carol', C, { id: MID, peers: [B] })
    await bob.node.start()
    await alice.node.start()
    await carol.node.start()
    await clock.advance(1_000)
    alice.node.sendLines(['one', 'two', 'three'])
    alice.node.send('alone')
    await clock.advance(0)
    await flushMicrotasks()
    const runs = bob.events.events.filter((e) => e.type === 'lines')
    expect(runs).toEqual([
      {
        type: 'lines',
        from: { id: LOW, name: 'alice' },
        firstSeq: 1,
        idPrefix: expect.any(String),
        ts: expect.any(Number),
        bodies: ['one', 'two', 'three'],
        oneMessage: true,
      },
    ])
    // What it stands for is what a node without runs shows: carol gets the message events themselves.
    await clock.advance(1_000)
    const asMessages = bob.events.events.flatMap((e) => messagesOf(e))
    expect(asMessages.map(({ id, seq, body }) => ({ id, seq, body }))).toEqual(
      carol.events.of('message').map(({ id, seq, body }) => ({ id, seq, body })),
    )
    expect(asMessages.map((m) => m.body)).toEqual(['one', 'two', 'three', 'alone'])
    expect(asMessages.map((m) => m.seq)).toEqual([1, 1, 1, 2])
  })

  it.each([
    { how: 'carried as `lines`', lines: 8 },
    { how: 'one body of several lines without `lines`', lines: undefined },
  ])('takes a token per line a message shows from the sending peer: $how', async ({ lines }) => {
    const {
      target: bob,
      peer,
      clock,
    } = await dialedByRawPeer('bob', B, { rateLimit: { perSecond: 10, burst: 10 } })
    const body = Array.from({ length: 8 }, (_, i) => `l${i}`).join('\n')
    const count = lines === undefined ? {} : { lines }
    peer.send({ type: 'msg', id: 'm1', seq: 1, ts: 1, from: HIGH, body, ...count })
    peer.send({ type: 'msg', id: 'm2', seq: 2, ts: 1, from: HIGH, body, ...count })
    await clock.advance(0)
    await flushMicrotasks()
    // One message of 8 lines fits the burst of 10; the second waits, as 8 one-line messages would, and
    // the peer is told to wait.
    const shown = () => new Set(bob.events.of('message').map((m) => m.seq))
    expect(shown()).toEqual(new Set([1]))
    expect(peer.received.some((m) => m.type === 'throttle')).toBe(true)
    await clock.advance(2_000)
    await flushMicrotasks()
    expect(shown()).toEqual(new Set([1, 2]))
  })

  it('drops a peer whose msg says more or fewer lines than its body holds', async () => {
    const { target: bob, peer, clock } = await dialedByRawPeer('bob', B)
    peer.send({ type: 'msg', id: 'm1', seq: 1, ts: 1, from: HIGH, body: 'a\nb\nc', lines: 2 })
    await clock.advance(0)
    await flushMicrotasks()
    expect(bob.events.of('message')).toEqual([])
    expect(bob.events.events.find((e) => e.type === 'link-error')).toMatchObject({ code: 'BAD_MESSAGE' })
  })
})

describe('a journal holding lines carried together', () => {
  const self = { id: 'a'.repeat(64), name: 'alice' }
  const bob = { id: 'b'.repeat(64), name: 'bob' }
  const msg = (seq: number, from: string, body: string, lines?: number): Msg => ({
    type: 'msg',
    id: `m${seq}`,
    seq,
    ts: seq,
    from,
    body,
    ...(lines === undefined ? {} : { lines }),
  })

  it('restores a line per history entry, with the record behind each, and the outbox as messages', () => {
    const records: JournalRecord[] = [
      { t: 'self', epoch: 'e1' },
      { t: 'sent', msg: msg(1, self.id, 'x\ny', 2) },
      { t: 'sent', msg: msg(2, self.id, 'alone') },
      { t: 'peer', peer: bob, epoch: 'b1' },
      { t: 'received', msg: msg(1, bob.id, 'p\nq\nr', 3), name: 'bob' },
    ]
    const state = restore(records, self)
    expect(state.history.map((e) => [e.direction, e.id, e.seq, e.body])).toEqual([
      ['out', 'm1', 1, 'x'],
      ['out', 'm1.1', 1, 'y'],
      ['out', 'm2', 2, 'alone'],
      ['in', 'm1', 1, 'p'],
      ['in', 'm1.1', 1, 'q'],
      ['in', 'm1.2', 1, 'r'],
    ])
    expect(state.outbox.map((m) => m.lines)).toEqual([2, undefined])
  })

  it('keeps the newest `historyLimit` lines, counting each line a message carried, and only their records', () => {
    const records: JournalRecord[] = [
      { t: 'self', epoch: 'e1' },
      { t: 'sent', msg: msg(1, self.id, 'a\nb\nc', 3) },
      { t: 'sent', msg: msg(2, self.id, 'd\ne\nf\ng', 4) },
      { t: 'sent', msg: msg(3, self.id, 'h') },
      { t: 'sent', msg: msg(4, self.id, 'i\nj', 2) },
    ]
    const replay = replayJournal(records, self, 5)
    expect(replay.state.history.map((e) => [e.id, e.body])).toEqual([
      ['m2.2', 'f'],
      ['m2.3', 'g'],
      ['m3', 'h'],
      ['m4', 'i'],
      ['m4.1', 'j'],
    ])
    // The records behind them: the second message (twice), the third, the fourth (twice).
    expect(replay.historyFrom).toEqual([2, 2, 3, 4, 4])
    expect(restore(records, self, 7).history.map((e) => e.body)).toEqual(
      ['c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'].slice(-7),
    )
  })

  it('brings the lines of a restored outbox back into the count of what waits', async () => {
    const { node } = nodeWorld()
    const records: JournalRecord[] = [
      { t: 'self', epoch: 'e1' },
      { t: 'sent', msg: msg(1, LOW, 'x\ny\nz', 3) },
      { t: 'sent', msg: msg(2, LOW, 'alone') },
    ]
    const alice = node('alice', A, { id: LOW, restored: restore(records, { id: LOW, name: 'alice' }) })
    expect(alice.node.pending).toBe(4)
  })
})
