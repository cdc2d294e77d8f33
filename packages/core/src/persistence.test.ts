/** The disk quota: what other members may make the journal hold, and what happens past it. */
import { describe, expect, it } from 'vitest'
import { ManualClock } from '../test/manual-clock.js'
import { journaledAlice } from '../test/node-world.js'
import { RawPeer } from '../test/raw-peer.js'
import { type Journal, type JournalRecord, type JournalUsage, journalOrigin, restore } from './journal.js'
import { compactJournal } from './journal-compact.js'
import { ParleyNode } from './node.js'
import type { NodeOptions } from './node-types.js'
import { DEFAULT_JOURNAL_QUOTA, DEFERRED_RECORD_MS, HISTORY_TEXT_BYTES, Persistence } from './persistence.js'
import type { RoomEffect } from './room-types.js'
import type { Msg } from './schema.js'

/** A journal in memory that counts bytes as a store does: the JSON of each record, against its origin. */
class CountingJournal implements Journal {
  readonly records: JournalRecord[] = []
  private readonly bytes = new Map<string, number>()
  private counted = 0
  readonly usage: JournalUsage

  /** Opens a journal holding `records`, counted again from them alone. */
  constructor(records: readonly JournalRecord[] = []) {
    const journal = this
    this.usage = {
      bytesOf: (origin) => this.bytes.get(origin) ?? 0,
      get total() {
        return journal.counted
      },
    }
    this.count(records)
  }

  append(records: readonly JournalRecord[]): Promise<void> {
    this.count(records)
    return Promise.resolve()
  }

  private count(records: readonly JournalRecord[]): void {
    for (const record of records) {
      this.records.push(record)
      const origin = journalOrigin(record)
      if (origin === undefined) continue
      const size = JSON.stringify(record).length
      this.bytes.set(origin, (this.bytes.get(origin) ?? 0) + size)
      this.counted += size
    }
  }
}

const NODE = '1111111111111111'
const MALLORY = 'eeeeeeeeeeeeeeee'
const TRUDY = 'ffffffffffffffff'
const at = (port: number) => `10.0.0.1:${port}`

async function victim(journal: CountingJournal, extra: Partial<NodeOptions> = {}) {
  const { network, clock, node, events } = await journaledAlice(journal, 3, {
    journalQuota: { perOrigin: 4_000, total: 6_000 },
    ...extra,
  })
  /** A stranger that completes the handshake and then sends what it is told. */
  const stranger = async (id: string) => {
    const peer = await RawPeer.dial(network, at(5000))
    peer.hello(id, `stranger-${id.slice(0, 2)}`)
    peer.send({ type: 'ack', upTo: 0, base: 0 })
    let seq = 0
    return {
      peer,
      say: (body: string) =>
        peer.send({ type: 'msg', id: `${id.slice(0, 4)}-${++seq}`, seq, ts: 0, from: id, body }),
      get seq() {
        return seq
      },
      set seq(value: number) {
        seq = value
      },
    }
  }
  /** Lets the node work until `done` holds; a bounded number of steps catches a hang. */
  const until = async (done: () => boolean) => {
    for (let i = 0; i < 200 && !done(); i++) await clock.advance(10)
    expect(done()).toBe(true)
  }
  const shown = (id: string) => events.filter((e) => e.type === 'message' && e.from.id === id).length
  const refused = (code: string) => events.some((e) => e.type === 'link-error' && e.code === code)
  return { node, events, stranger, until, shown, refused, network, clock }
}

describe('the disk quota on what other members make the node keep', () => {
  it('refuses a stranger over its quota with OVER_QUOTA, keeps running, and still journals its own messages', async () => {
    const journal = new CountingJournal()
    const v = await victim(journal)
    const mallory = await v.stranger(MALLORY)
    for (let i = 0; i < 30; i++) mallory.say(`${i} ${'m'.repeat(500)}`)
    await v.until(() => v.refused('OVER_QUOTA') && mallory.peer.closed)
    // Stored up to the quota, and at most one message past it: nothing after the check said no.
    const held = journal.usage.bytesOf(MALLORY)
    expect(held).toBeGreaterThanOrEqual(4_000)
    expect(held).toBeLessThan(4_000 + 700)
    expect(v.shown(MALLORY)).toBeLessThan(30)
    const bye = mallory.peer.received.find((m) => m.type === 'bye')
    expect(bye).toMatchObject({ type: 'bye', reason: expect.stringContaining('share of this node') })
    // The node's own messages are never refused, whatever the quota.
    const sent = v.node.send('still here')
    await sent.durable
    expect(journal.records.some((r) => r.t === 'sent' && r.msg.body === 'still here')).toBe(true)
    await v.node.close()
  })

  it('refuses everyone else once the total is full, while a member under its own quota was let in before', async () => {
    const journal = new CountingJournal()
    const v = await victim(journal)
    const mallory = await v.stranger(MALLORY)
    for (let i = 0; i < 6; i++) mallory.say(`${i} ${'m'.repeat(500)}`)
    await v.until(() => v.shown(MALLORY) === 6)
    const trudy = await v.stranger(TRUDY)
    for (let i = 0; i < 30; i++) trudy.say(`${i} ${'t'.repeat(500)}`)
    await v.until(() => trudy.peer.closed)
    expect(v.shown(TRUDY)).toBeGreaterThan(0)
    expect(journal.usage.bytesOf(TRUDY)).toBeLessThan(4_000)
    expect(journal.usage.total).toBeGreaterThanOrEqual(6_000)
    const bye = trudy.peer.received.find((m) => m.type === 'bye')
    expect(bye).toMatchObject({ reason: expect.stringContaining("other members' messages fill") })
    await v.node.close()
  })

  it('never locks out a peer it dials once strangers fill the total: that peer is held to its own quota', async () => {
    const journal = new CountingJournal()
    const v = await victim(journal, { peers: [at(5001)] })
    const bob = new ParleyNode({
      transport: v.network.transport(),
      clock: v.clock,
      id: TRUDY,
      name: 'bob',
      listen: at(5001),
    })
    await bob.start()
    await v.until(() => v.events.some((e) => e.type === 'connected' && e.peer.id === TRUDY))
    // Strangers fill the total quota between them, each under its own.
    for (const id of ['e1', 'e2'].map((p) => p.repeat(8))) {
      const stranger = await v.stranger(id)
      for (let i = 0; i < 6; i++) stranger.say(`${i} ${'m'.repeat(500)}`)
      await v.until(() => v.shown(id) === 6 || stranger.peer.closed)
    }
    expect(journal.usage.total).toBeGreaterThanOrEqual(6_000)
    expect(v.events.filter((e) => e.type === 'link-error' && e.code === 'OVER_QUOTA')).toHaveLength(1)
    // Bob, whom the node dials, is still let in, up to his own quota.
    for (let i = 0; i < 5; i++) bob.send(`${i} ${'b'.repeat(500)}`)
    await v.until(() => v.shown(TRUDY) === 5)
    const refusals = () => v.events.filter((e) => e.type === 'link-error' && e.code === 'OVER_QUOTA')
    expect(refusals()).toHaveLength(1)
    for (let i = 5; i < 30; i++) bob.send(`${i} ${'b'.repeat(500)}`)
    await v.until(() => refusals().length === 2)
    expect(refusals()[1]).toMatchObject({ message: expect.stringContaining('its share') })
    expect(journal.usage.bytesOf(TRUDY)).toBeLessThan(4_000 + 700)
    await v.node.close()
    await bob.close()
  })

  it('still refuses the stranger after a restart, from what the journal holds', async () => {
    const before = new CountingJournal()
    const first = await victim(before)
    const mallory = await first.stranger(MALLORY)
    for (let i = 0; i < 30; i++) mallory.say(`${i} ${'m'.repeat(500)}`)
    await first.until(() => mallory.peer.closed)
    const kept = first.shown(MALLORY)
    await first.node.close()

    const reopened = new CountingJournal(before.records)
    expect(reopened.usage.bytesOf(MALLORY)).toBe(before.usage.bytesOf(MALLORY))
    const restored = restore(reopened.records, { id: NODE, name: 'alice' })
    const second = await victim(reopened, { restored })
    const again = await second.stranger(MALLORY)
    again.seq = kept
    again.say('one more after the restart')
    await second.until(() => second.refused('OVER_QUOTA') && again.peer.closed)
    expect(second.shown(MALLORY)).toBe(0)
    await second.node.close()
  })
})

describe('compaction and the quota', () => {
  it('frees the quota of a member whose old messages compaction drops, and its messages are taken again', async () => {
    const self = { id: NODE, name: 'alice' }
    const small = { historyLimit: 2, windowSize: 2 }
    const before = new CountingJournal()
    const first = await victim(before, small)
    const mallory = await first.stranger(MALLORY)
    for (let i = 0; i < 30; i++) mallory.say(`${i} ${'m'.repeat(500)}`)
    await first.until(() => mallory.peer.closed)
    const kept = first.shown(MALLORY)
    await first.node.close()
    expect(before.usage.bytesOf(MALLORY)).toBeGreaterThanOrEqual(4_000)

    const compacted = compactJournal(before.records, self, small.historyLimit, small.windowSize)!
    const reopened = new CountingJournal(compacted)
    expect(reopened.usage.bytesOf(MALLORY)).toBeLessThan(2_000)
    const restored = restore(compacted, self, small.historyLimit, small.windowSize)
    const second = await victim(reopened, { ...small, restored })
    const again = await second.stranger(MALLORY)
    again.seq = kept
    again.say('welcome back')
    await second.until(() => second.shown(MALLORY) === 1)
    expect(second.refused('OVER_QUOTA')).toBe(false)
    await second.node.close()
  })
})

describe('journalOrigin', () => {
  it("counts a member's messages and the records its sessions and claims cause against it, and the node's own against no one", () => {
    const msg: Msg = { type: 'msg', id: 'm1', seq: 1, ts: 0, from: MALLORY, body: 'hi' }
    const peer = { id: TRUDY, name: 'trudy' }
    expect(journalOrigin({ t: 'received', msg, name: 'mallory' })).toBe(MALLORY)
    expect(journalOrigin({ t: 'peer', peer, epoch: 'e1' })).toBe(TRUDY)
    expect(journalOrigin({ t: 'base', peer, seq: 4 })).toBe(TRUDY)
    // Acks of our messages grow only with what we send: they are ours.
    expect(journalOrigin({ t: 'acked', peer, upTo: 9 })).toBeUndefined()
    expect(journalOrigin({ t: 'sent', msg: { ...msg, from: NODE } })).toBeUndefined()
    expect(journalOrigin({ t: 'self', epoch: 'e0' })).toBeUndefined()
    // Whatever a newer version or a damaged file holds.
    for (const odd of [
      null,
      7,
      'x',
      [],
      { t: 'received' },
      { t: 'received', msg: { from: 5 } },
      { t: 'later', peer },
    ]) {
      expect(journalOrigin(odd)).toBeUndefined()
    }
  })
})

describe('Persistence.overQuota', () => {
  const usage = (bytes: Record<string, number>): JournalUsage => ({
    bytesOf: (origin) => bytes[origin] ?? 0,
    total: Object.values(bytes).reduce((a, b) => a + b, 0),
  })
  const persistence = (bytes: Record<string, number>) =>
    new Persistence({ append: () => Promise.resolve(), usage: usage(bytes) }, 10, () => undefined, {
      perOrigin: 100,
    })

  it('refuses the link of a neighbour over its own quota, and only drops what a relay brings of it', () => {
    const p = persistence({ mallory: 100, bob: 10 })
    const of = (from: string): Msg => ({ type: 'msg', id: 'm1', seq: 1, ts: 0, from, body: 'hi' })
    const direct: RoomEffect[] = []
    expect(p.overQuota('mallory', of('mallory'), direct)).toBe(true)
    expect(direct).toEqual([
      { type: 'refuse', refusal: expect.objectContaining({ neighbor: 'mallory', code: 'OVER_QUOTA' }) },
    ])
    const relayed: RoomEffect[] = []
    expect(p.overQuota('bob', of('mallory'), relayed)).toBe(true)
    expect(relayed).toEqual([])
    expect(p.overQuota('bob', of('bob'), relayed)).toBe(false)
    expect(relayed).toEqual([])
  })

  it('uses the documented defaults, and enforces nothing on a journal that does not count', () => {
    expect(DEFAULT_JOURNAL_QUOTA).toEqual({ perOrigin: 256 * 1024 * 1024, total: 2048 * 1024 * 1024 })
    const uncounted = new Persistence({ append: () => Promise.resolve() }, 10, () => undefined, {
      perOrigin: 0,
    })
    const msg: Msg = { type: 'msg', id: 'm1', seq: 1, ts: 0, from: 'x', body: 'hi' }
    expect(uncounted.overQuota('x', msg, [])).toBe(false)
    const full = new Persistence(
      { append: () => Promise.resolve(), usage: usage({ a: DEFAULT_JOURNAL_QUOTA.total }) },
      10,
      () => undefined,
    )
    expect(full.overQuota('x', msg, [])).toBe(true)
  })
})

describe('Persistence history', () => {
  const entry = (seq: number, body: string) => ({
    direction: 'in' as const,
    id: `id${seq}`,
    seq,
    ts: seq,
    from: { id: 'f'.repeat(16), name: 'far' },
    body,
  })

  it('keeps the newest entries within its text byte cap as well as its entry limit', () => {
    const store = new Persistence(undefined, 100_000, () => undefined)
    const body = 'x'.repeat(10_000)
    const count = Math.ceil((HISTORY_TEXT_BYTES * 2) / body.length)
    for (let seq = 1; seq <= count; seq++) store.remember(entry(seq, body))
    const kept = store.history()
    const chars = kept.reduce((sum, e) => sum + e.body.length, 0)
    expect(chars).toBeLessThanOrEqual(HISTORY_TEXT_BYTES)
    expect(kept.length).toBeGreaterThan(HISTORY_TEXT_BYTES / 2 / body.length)
    expect(kept.at(-1)!.seq).toBe(count)
    expect(kept.map((e) => e.seq)).toEqual(kept.map((_, i) => count - kept.length + 1 + i))
  })

  it('still keeps its entry limit of short lines', () => {
    const store = new Persistence(undefined, 50, () => undefined)
    for (let seq = 1; seq <= 500; seq++) store.remember(entry(seq, `line ${seq}`))
    expect(store.history().map((e) => e.seq)).toEqual(Array.from({ length: 50 }, (_, i) => 451 + i))
  })
})

describe('Persistence.appendLater', () => {
  const peer = { id: 'b'.repeat(16), name: 'bob' }
  const acked = (upTo: number): JournalRecord => ({ t: 'acked', peer, upTo })
  const sent = (seq: number): JournalRecord => ({
    t: 'sent',
    msg: { type: 'msg', id: `m${seq}`, seq, ts: 0, from: 'a'.repeat(16), body: 'hi' },
  })
  function recording() {
    const appends: JournalRecord[][] = []
    const clock = new ManualClock()
    const journal: Journal = {
      append: (records) => {
        appends.push([...records])
        return Promise.resolve()
      },
    }
    return { appends, clock, store: new Persistence(journal, 10, () => undefined, {}, undefined, clock) }
  }

  it('goes first with the next append, and only the newest record under a key', async () => {
    const { appends, clock, store } = recording()
    store.appendLater('acked:bob', acked(3))
    store.appendLater('acked:bob', acked(7))
    expect(appends).toEqual([])
    await store.append([sent(8)])
    expect(appends).toEqual([[acked(7), sent(8)]])
    // Taken by that append: the timer set for it appends nothing more.
    await clock.advance(DEFERRED_RECORD_MS)
    expect(appends).toHaveLength(1)
  })

  it('is appended on its own once nothing else was appended for DEFERRED_RECORD_MS', async () => {
    const { appends, clock, store } = recording()
    store.appendLater('acked:bob', acked(4))
    await clock.advance(DEFERRED_RECORD_MS - 1)
    expect(appends).toEqual([])
    await clock.advance(1)
    expect(appends).toEqual([[acked(4)]])
  })

  it('is appended when the node closes, and nothing is taken after that', async () => {
    const { appends, clock, store } = recording()
    store.appendLater('acked:bob', acked(5))
    store.close()
    expect(appends).toEqual([[acked(5)]])
    store.appendLater('acked:bob', acked(6))
    await clock.advance(DEFERRED_RECORD_MS)
    expect(appends).toEqual([[acked(5)]])
  })

  it('is appended at once without a clock', () => {
    const appends: JournalRecord[][] = []
    const store = new Persistence(
      { append: async (records) => void appends.push([...records]) },
      10,
      () => {},
    )
    store.appendLater('acked:bob', acked(1))
    expect(appends).toEqual([[acked(1)]])
  })
})
