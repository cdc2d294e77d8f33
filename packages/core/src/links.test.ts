/**
 * What the links read, and when: a peer closed for breaking the rules is read no more, a link alone takes
 * the whole turn while links that compete take it round robin, a slice each, and links stop being read
 * while the journal lags behind what they brought.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { flushMicrotasks, ManualClock } from '../test/manual-clock.js'
import { MemoryNetwork } from '../test/memory-transport.js'
import { RawPeer } from '../test/raw-peer.js'
import type { Address } from './address.js'
import { encodeFrame, FrameDecoder } from './codec.js'
import { SLICE_BYTES, TURN_BUDGET, TURN_BYTES } from './inbound-gate.js'
import type { Journal, JournalRecord } from './journal.js'
import { JOURNAL_LAG_BYTES, LIGHT_LINK_BYTES, LONE_LINK_JOURNAL_LAG_BYTES } from './journal-lag.js'
import { ParleyNode } from './node.js'
import type { NodeEvent, NodeOptions } from './node-types.js'
import type { Link, LinkHandlers, Transport } from './transport.js'

const LOW = '1111111111111111'
const MID = '8888888888888888'
const HIGH = 'eeeeeeeeeeeeeeee'
const A: Address = '127.0.0.1:4001'

/** An inbound link the test can watch: whether the node paused it, and its handlers, to hand it bytes. */
class WatchedLink implements Link {
  handlers?: LinkHandlers
  paused = false

  constructor(private readonly inner: Link) {}

  get direction() {
    return this.inner.direction
  }
  get remoteAddress() {
    return this.inner.remoteAddress
  }
  get localAddress() {
    return this.inner.localAddress
  }
  get source() {
    return this.inner.source
  }
  get remoteKey() {
    return this.inner.remoteKey
  }
  attach(handlers: LinkHandlers): void {
    this.handlers = handlers
    this.inner.attach(handlers)
  }
  write(chunk: Uint8Array): boolean {
    return this.inner.write(chunk)
  }
  pause(): void {
    this.paused = true
    this.inner.pause()
  }
  resume(): void {
    this.paused = false
    this.inner.resume()
  }
  end(): void {
    this.inner.end()
  }
  destroy(): void {
    this.inner.destroy()
  }
}

function watching(inner: Transport, accepted: WatchedLink[]): Transport {
  return {
    dial: (address, options) => inner.dial(address, options),
    createListener: (onLink) =>
      inner.createListener((link) => {
        const watched = new WatchedLink(link)
        accepted.push(watched)
        onLink(watched)
      }),
  }
}

const running: ParleyNode[] = []
afterEach(async () => {
  vi.restoreAllMocks()
  await Promise.all(running.splice(0).map((n) => n.close('test over')))
})

/** A node on `A` whose inbound links are watched, and turns of the event loop the test runs by hand. */
async function setUp(extra: Partial<NodeOptions> = {}) {
  const network = new MemoryNetwork()
  const clock = new ManualClock()
  const deferred: (() => void)[] = []
  const turns = Object.assign(Object.create(clock) as ManualClock, {
    defer: (callback: () => void) => deferred.push(callback),
  })
  const accepted: WatchedLink[] = []
  const node = new ParleyNode({
    transport: watching(network.transport(), accepted),
    clock: turns,
    id: LOW,
    name: 'node',
    listen: A,
    random: () => 0.5,
    rateLimit: false,
    ...extra,
  })
  running.push(node)
  const events: NodeEvent[] = []
  node.on((e) => events.push(e))
  await node.start()
  const nextTurn = async () => {
    for (const callback of deferred.splice(0)) callback()
    await flushMicrotasks()
  }
  /** A member linked to the node, its opening ack sent. */
  const member = async (id: string, name: string) => {
    const peer = new RawPeer(await network.transport('127.0.0.1', id).dial(A))
    peer.hello(id, name)
    peer.send({ type: 'ack', upTo: 0, base: 0 })
    await flushMicrotasks()
    await nextTurn()
    return { peer, link: accepted.at(-1)! }
  }
  const dial = async (id: string) => new RawPeer(await network.transport('127.0.0.1', id).dial(A))
  const shown = () => events.flatMap((e) => (e.type === 'message' ? [e.body] : []))
  return { node, events, accepted, deferred, nextTurn, member, dial, shown }
}

/** `count` in-order messages of `origin`, each `size` characters long and starting with its name and seq. */
function flood(origin: string, tag: string, count: number, size: number): Uint8Array {
  return Buffer.concat(
    Array.from({ length: count }, (_, i) => {
      const body = `${tag} ${i + 1} `.padEnd(size, 'x')
      return encodeFrame({ type: 'msg', id: `${tag}${i}`, seq: i + 1, ts: 0, from: origin, body })
    }),
  )
}

describe('links', () => {
  it('pause a link closed for breaking the rules, and parse nothing more that arrives on it', async () => {
    const { events, accepted, dial } = await setUp()
    const rogue = await dial(HIGH)
    rogue.send({ type: 'ping', n: 1 })
    await flushMicrotasks()
    expect(events.flatMap((e) => (e.type === 'link-error' ? [e.code] : []))).toEqual(['NO_HELLO'])
    const link = accepted.at(-1)!
    expect(link.paused).toBe(true)
    // Bytes the transport had in flight still arrive: none of them is parsed or answered.
    const push = vi.spyOn(FrameDecoder.prototype, 'push')
    for (let n = 2; n <= 4; n++) link.handlers!.data(encodeFrame({ type: 'ping', n }))
    await flushMicrotasks()
    expect(push.mock.contexts.filter((decoder) => decoder !== rogue.decoder)).toEqual([])
    expect(rogue.types()).not.toContain('pong')
  })

  it("report a peer refused for its hello without the identity it claimed, and a member's drop with its own", async () => {
    const { events, dial, member, nextTurn } = await setUp()
    // Proves HIGH, claims to be MID under MID's address: refused, and never named as MID.
    const liar = await dial(HIGH)
    liar.send({ type: 'hello', v: '1.0', id: MID, name: 'mid', caps: [], listen: '127.0.0.1:4888' })
    await flushMicrotasks()
    const refused = events.find((e) => e.type === 'link-error')
    expect(refused).toMatchObject({ type: 'link-error', code: 'IDENTITY' })
    expect(refused).not.toHaveProperty('peer')
    expect(refused).not.toHaveProperty('listen')
    // A member whose hello was accepted is named when its link is dropped.
    const { peer } = await member(MID, 'mid')
    peer.sendBytes([0, 0, 0, 2, 0x7b, 0x7d])
    await flushMicrotasks()
    await nextTurn()
    const dropped = events.filter((e) => e.type === 'link-error').at(-1)
    expect(dropped).toMatchObject({ type: 'link-error', code: 'BAD_MESSAGE', peer: { id: MID, name: 'mid' } })
  })

  it('judge whether our numbering went back on the opening ack alone: a later ack claiming more is no fork', async () => {
    const { events, member, nextTurn, dial } = await setUp()
    const { peer } = await member(MID, 'mid')
    peer.send({ type: 'ack', upTo: 999 })
    await flushMicrotasks()
    await nextTurn()
    expect(events.filter((e) => e.type === 'forked')).toEqual([])
    // The same claim in an opening ack is one: that peer alone is held back, and the user told.
    const opener = await dial(HIGH)
    opener.hello(HIGH, 'high')
    opener.send({ type: 'ack', upTo: 999, base: 0 })
    await flushMicrotasks()
    await nextTurn()
    expect(events.filter((e) => e.type === 'forked')).toMatchObject([{ peer: { id: HIGH }, upTo: 999 }])
  })

  it('leave bytes that arrive behind a waiting backlog undecoded until the link is served, then take them in order', async () => {
    const { nextTurn, member, shown, deferred } = await setUp()
    const flooder = await member(HIGH, 'flooder')
    const size = 9_000
    const count = 60
    const all = flood(HIGH, 'f', count, size)
    const frame = all.length / count
    // More than a whole turn's bytes: the link waits for the next turn.
    const first = Math.ceil(TURN_BYTES / frame) + 5
    flooder.link.handlers!.data(all.subarray(0, first * frame))
    expect(flooder.link.paused).toBe(true)
    // What the transport still had in flight arrives while the link waits its turn: nothing is parsed yet.
    const push = vi.spyOn(FrameDecoder.prototype, 'push')
    flooder.link.handlers!.data(all.subarray(first * frame, (first + 10) * frame))
    flooder.link.handlers!.data(all.subarray((first + 10) * frame))
    expect(push.mock.contexts.filter((decoder) => decoder !== flooder.peer.decoder)).toEqual([])
    for (let turn = 0; turn < 100 && deferred.length > 0; turn++) await nextTurn()
    expect(shown().map((b) => Number(b.split(' ')[1]))).toEqual(
      Array.from({ length: count }, (_, i) => i + 1),
    )
  })

  it('stop reading a lone link while LONE_LINK_JOURNAL_LAG_BYTES of messages wait for the journal, and read on once it caught up', async () => {
    let holding = false
    const held: (() => void)[] = []
    const appended: JournalRecord[] = []
    const journal: Journal = {
      append: (records) => {
        appended.push(...records)
        return holding ? new Promise<void>((resolve) => held.push(resolve)) : Promise.resolve()
      },
    }
    const { member, shown, nextTurn, deferred } = await setUp({ journal })
    const flooder = await member(HIGH, 'flooder')
    holding = true
    const count = 300
    const size = 9_000
    const frameBytes = encodeFrame({
      type: 'msg',
      id: 'f0',
      seq: 1,
      ts: 0,
      from: HIGH,
      body: 'x'.repeat(size),
    }).length
    flooder.peer.write(flood(HIGH, 'f', count, size))
    await flushMicrotasks()
    for (let turn = 0; turn < 500 && deferred.length > 0; turn++) await nextTurn()
    const received = () => appended.filter((r) => r.t === 'received').length
    expect(received()).toBeGreaterThan(0)
    expect(received() * frameBytes).toBeGreaterThan(JOURNAL_LAG_BYTES)
    expect(received() * frameBytes).toBeLessThanOrEqual(LONE_LINK_JOURNAL_LAG_BYTES + frameBytes)
    expect(flooder.link.paused).toBe(true)
    expect(shown()).toEqual([])
    holding = false
    for (let round = 0; round < 500 && shown().length < count; round++) {
      for (const resolve of held.splice(0)) resolve()
      await nextTurn()
    }
    expect(shown().map((b) => Number(b.split(' ')[1]))).toEqual(
      Array.from({ length: count }, (_, i) => i + 1),
    )
  })
})

describe('links while the journal lags', () => {
  /** A journal whose flushes the test holds back, and releases by hand. */
  function heldJournal() {
    const held: (() => void)[] = []
    const appended: JournalRecord[] = []
    let holding = false
    const journal: Journal = {
      append: (records) => {
        appended.push(...records)
        return holding ? new Promise<void>((resolve) => held.push(resolve)) : Promise.resolve()
      },
    }
    const received = (tag: string) =>
      appended.filter((r) => r.t === 'received' && r.msg.body.startsWith(`${tag} `)).length
    const hold = () => {
      holding = true
    }
    const release = () => {
      holding = false
      for (const resolve of held.splice(0)) resolve()
    }
    return { journal, received, hold, release }
  }

  it('hold two floods at JOURNAL_LAG_BYTES between them, and a lone one only at LONE_LINK_JOURNAL_LAG_BYTES', async () => {
    const disk = heldJournal()
    const { member, nextTurn, deferred, shown } = await setUp({ journal: disk.journal })
    const one = await member(HIGH, 'one')
    const two = await member(MID, 'two')
    disk.hold()
    const size = 9_000
    const frameBytes = encodeFrame({
      type: 'msg',
      id: 'a0',
      seq: 1,
      ts: 0,
      from: HIGH,
      body: 'x'.repeat(size),
    }).length
    const count = 100
    const taken = () => disk.received('a') + disk.received('b')
    one.peer.write(flood(HIGH, 'a', count, size))
    await flushMicrotasks()
    for (let turn = 0; turn < 500 && deferred.length > 0; turn++) await nextTurn()
    // Alone, the first flood went on past JOURNAL_LAG_BYTES.
    expect(disk.received('a') * frameBytes).toBeGreaterThan(JOURNAL_LAG_BYTES + frameBytes)
    expect(disk.received('a') * frameBytes).toBeLessThanOrEqual(LONE_LINK_JOURNAL_LAG_BYTES + frameBytes)
    expect(one.link.paused).toBe(true)
    two.peer.write(flood(MID, 'b', count, size))
    await flushMicrotasks()
    for (let turn = 0; turn < 500 && deferred.length > 0; turn++) await nextTurn()
    expect(disk.received('b')).toBeGreaterThan(0)
    expect(two.link.paused).toBe(true)
    // Once the journal caught up, both floods wait for it together, after at most JOURNAL_LAG_BYTES (each
    // may pass it by one message, and light links by LIGHT_LINK_BYTES).
    for (let round = 0; round < 3; round++) {
      const before = taken()
      disk.release()
      disk.hold()
      await nextTurn()
      for (let turn = 0; turn < 500 && deferred.length > 0; turn++) await nextTurn()
      expect(taken()).toBeGreaterThan(before)
      expect((taken() - before) * frameBytes).toBeLessThanOrEqual(
        JOURNAL_LAG_BYTES + 2 * frameBytes + LIGHT_LINK_BYTES,
      )
      expect(one.link.paused && two.link.paused).toBe(true)
    }
    disk.release()
    for (let round = 0; round < 500 && shown().length < 2 * count; round++) {
      disk.release()
      await nextTurn()
    }
    for (const tag of ['a', 'b'])
      expect(
        shown()
          .filter((b) => b.startsWith(`${tag} `))
          .map((b) => Number(b.split(' ')[1])),
      ).toEqual(Array.from({ length: count }, (_, i) => i + 1))
  })

  it("take a light link's lines while a flood waits for the journal, and hold the light link too once it brought more", async () => {
    const disk = heldJournal()
    const { member, nextTurn, deferred, shown } = await setUp({ journal: disk.journal })
    const flooder = await member(HIGH, 'flooder')
    const honest = await member(MID, 'honest')
    disk.hold()
    flooder.peer.write(flood(HIGH, 'f', 300, 9_000))
    await flushMicrotasks()
    for (let turn = 0; turn < 500 && deferred.length > 0; turn++) await nextTurn()
    expect(flooder.link.paused).toBe(true)
    const flooded = disk.received('f')
    // The honest member's lines go on to the journal behind the flood, without waiting for it.
    honest.peer.write(flood(MID, 'h', 3, 100))
    await flushMicrotasks()
    expect(disk.received('h')).toBe(3)
    expect(honest.link.paused).toBe(false)
    expect(disk.received('f')).toBe(flooded)
    // Past its light allowance the honest link waits for the journal like any other.
    const heavy = Math.ceil(LIGHT_LINK_BYTES / 9_000) + 1
    honest.peer.write(flood(MID, 'H', heavy, 9_000).subarray(0))
    await flushMicrotasks()
    for (let turn = 0; turn < 50 && deferred.length > 0; turn++) await nextTurn()
    expect(honest.link.paused).toBe(true)
    expect(disk.received('H')).toBeLessThan(heavy)
    disk.release()
    for (let round = 0; round < 500 && shown().filter((b) => b.startsWith('f ')).length < 300; round++) {
      disk.release()
      await nextTurn()
    }
    expect(
      shown()
        .filter((b) => b.startsWith('f '))
        .map((b) => Number(b.split(' ')[1])),
    ).toEqual(Array.from({ length: 300 }, (_, i) => i + 1))
    expect(shown().filter((b) => b.startsWith('h '))).toHaveLength(3)
  })
})

describe('the inbound gate between links', () => {
  it('parse only what the turn may take when a crowd of links has bytes at once', async () => {
    const { member, nextTurn, deferred, shown } = await setUp()
    const crowd: { id: string; peer: RawPeer; link: WatchedLink }[] = []
    for (let i = 0; i < 24; i++) {
      const id = (0x2000000000000000n + BigInt(i)).toString(16).padStart(16, '0')
      crowd.push({ id, ...(await member(id, `c${i}`)) })
    }
    const push = vi.spyOn(FrameDecoder.prototype, 'push')
    const ours = () => push.mock.contexts.filter((d) => !crowd.some((c) => c.peer.decoder === d)).length
    // Every link's transport hands over a chunk of 40 short lines in the same turn: only the chunks of the
    // links the turn has room for (TURN_BUDGET messages) are parsed.
    const lines = 40
    for (const c of crowd) c.link.handlers!.data(flood(c.id, c.id.slice(-2), lines, 30))
    expect(ours()).toBeLessThanOrEqual(Math.ceil(TURN_BUDGET / lines) + 1)
    for (let turn = 0; turn < 200 && deferred.length > 0; turn++) await nextTurn()
    for (const c of crowd) {
      const tag = `${c.id.slice(-2)} `
      const seqs = shown()
        .filter((b) => b.startsWith(tag))
        .map((b) => Number(b.split(' ')[1]))
      expect(seqs).toEqual(Array.from({ length: lines }, (_, i) => i + 1))
    }
  })

  it("takes a lone link's backlog a turn at a time, and serves another link's line first on the next turn", async () => {
    const { nextTurn, member, shown, deferred } = await setUp()
    const flooder = await member(HIGH, 'flooder')
    const honest = await member(MID, 'honest')
    const size = 9_000
    const count = 120
    const frame = encodeFrame({ type: 'msg', id: 'f0', seq: 1, ts: 0, from: HIGH, body: 'x'.repeat(size) })
    const perSlice = Math.ceil(SLICE_BYTES / frame.length)
    const perTurn = Math.ceil(TURN_BYTES / frame.length)
    flooder.peer.write(flood(HIGH, 'f', count, size))
    await flushMicrotasks()
    // Alone, the flood took the whole turn, not a slice of it.
    const first = shown().length
    expect(first).toBeGreaterThan(perSlice)
    expect(first).toBeLessThanOrEqual(perTurn)
    honest.peer.write(flood(MID, 'h', 1, 20))
    await flushMicrotasks()
    await nextTurn()
    // The honest line waited for the turn the flood had taken, and went first in the next one.
    expect(shown()[first]).toMatch(/^h 1 /)
    // The flood goes on, a turn at a time, and all of it arrives, in order.
    for (let turn = 0; turn < 200 && deferred.length > 0; turn++) {
      const before = shown().length
      await nextTurn()
      expect(shown().length - before).toBeLessThanOrEqual(perTurn)
    }
    const flooded = shown().filter((b) => b.startsWith('f '))
    expect(flooded.map((b) => Number(b.split(' ')[1]))).toEqual(
      Array.from({ length: count }, (_, i) => i + 1),
    )
  })

  it('gives two flooding links a slice each per turn, both in every turn, once they compete', async () => {
    const { nextTurn, member, shown, deferred } = await setUp()
    const one = await member(HIGH, 'one')
    const two = await member(MID, 'two')
    const size = 9_000
    const count = 60
    const frame = encodeFrame({ type: 'msg', id: 'a0', seq: 1, ts: 0, from: HIGH, body: 'x'.repeat(size) })
    const perSlice = Math.ceil(SLICE_BYTES / frame.length)
    one.peer.write(flood(HIGH, 'a', count, size))
    two.peer.write(flood(MID, 'b', count, size))
    await flushMicrotasks()
    const of = (tag: string) => shown().filter((b) => b.startsWith(`${tag} `)).length
    for (let turn = 0; turn < 200 && deferred.length > 0 && of('a') + of('b') < 2 * count; turn++) {
      const before = { a: of('a'), b: of('b') }
      await nextTurn()
      const took = { a: of('a') - before.a, b: of('b') - before.b }
      // Each link that still has messages takes one slice of the turn, no more.
      if (before.a < count) expect(took.a).toBeGreaterThan(0)
      if (before.b < count) expect(took.b).toBeGreaterThan(0)
      if (before.a < count && before.b < count) {
        expect(took.a).toBeLessThanOrEqual(perSlice)
        expect(took.b).toBeLessThanOrEqual(perSlice)
      }
    }
    for (const tag of ['a', 'b'])
      expect(
        shown()
          .filter((b) => b.startsWith(`${tag} `))
          .map((b) => Number(b.split(' ')[1])),
      ).toEqual(Array.from({ length: count }, (_, i) => i + 1))
  })
})
