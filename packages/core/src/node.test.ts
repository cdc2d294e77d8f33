import { afterEach, describe, expect, it } from 'vitest'
import { fakeAuth } from '../test/fake-auth.js'
import { flushMicrotasks, ManualClock } from '../test/manual-clock.js'
import { type MemoryNetwork as Network, seededRandom } from '../test/memory-transport.js'
import { closeNodes, dialedByRawPeer, nodeWorld } from '../test/node-world.js'
import { RawPeer } from '../test/raw-peer.js'
import type { Address } from './address.js'
import { encodeFrame } from './codec.js'
import { ProtocolError, TransportError } from './errors.js'
import type { JournalRecord } from './journal.js'
import { LONE_LINK_JOURNAL_LAG_BYTES } from './journal-lag.js'
import { makeHello } from './link-machine.js'
import type { NodeOptions } from './node-types.js'
import { DEFERRED_RECORD_MS } from './persistence.js'
import { MAX_BODY_LENGTH } from './schema.js'

const LOW = '1111111111111111'
const MID = '8888888888888888'
const HIGH = 'eeeeeeeeeeeeeeee'

const at = (port: number): Address => `127.0.0.1:${port}`
const A = at(4001)
const B = at(4002)
const C = at(4003)

afterEach(closeNodes)

const world = nodeWorld

/** Bob listening at B and alice dialing him from A, started and linked (the clock advanced once). */
async function aliceDialsBob() {
  const { clock, node } = world()
  const bob = node('bob', B)
  await bob.node.start()
  const alice = node('alice', A, { peers: [B] })
  await alice.node.start()
  await clock.advance(0)
  return { clock, node, bob, alice }
}

/** A remote end that listens on `address` and runs `onLink` for every link it accepts. */
async function rawListener(network: Network, address: Address, onLink: (peer: RawPeer) => void) {
  const accepted: RawPeer[] = []
  const listener = network.transport().createListener((link) => {
    const peer = new RawPeer(link)
    accepted.push(peer)
    onLink(peer)
  })
  await listener.listen(address)
  return { accepted, listener }
}

describe('ParleyNode over an in-memory transport', () => {
  describe('connecting and chatting', () => {
    it.each([
      { first: 'listener', dialerId: LOW, listenerId: HIGH },
      { first: 'listener', dialerId: HIGH, listenerId: LOW },
      { first: 'dialer', dialerId: LOW, listenerId: HIGH },
      { first: 'dialer', dialerId: HIGH, listenerId: LOW },
    ])(
      'connects and chats both ways when the $first starts first (dialer id $dialerId)',
      async ({ first, dialerId, listenerId }) => {
        const { clock, node } = world()
        const alice = node('alice', A, { id: dialerId, peers: [B] })
        const bob = node('bob', B, { id: listenerId })
        const order = first === 'listener' ? [bob, alice] : [alice, bob]
        for (const n of order) await n.node.start()
        await clock.advance(1_000)

        expect(alice.events.of('connected')).toMatchObject([
          { peer: { id: listenerId, name: 'bob' }, direction: 'outbound' },
        ])
        expect(bob.events.of('connected')).toMatchObject([
          { peer: { id: dialerId, name: 'alice' }, direction: 'inbound' },
        ])
        expect(alice.node.peerStates()).toMatchObject([
          { target: '127.0.0.1:4002', state: { status: 'connected' } },
        ])

        alice.node.send('hi bob')
        bob.node.send('hi alice')
        alice.node.send('how are you?')
        await flushMicrotasks()
        expect(bob.events.bodies()).toEqual(['hi bob', 'how are you?'])
        expect(alice.events.bodies()).toEqual(['hi alice'])
        expect(bob.events.of('message')[0]).toMatchObject({ from: { id: dialerId, name: 'alice' }, seq: 1 })
        expect(alice.events.of('link-error')).toEqual([])
        expect(bob.events.of('link-error')).toEqual([])
      },
    )

    it('delivers a message sent before the peer was up once the peer comes up', async () => {
      const { clock, node } = world()
      const alice = node('alice', A, { peers: [B] })
      await alice.node.start()
      await flushMicrotasks()
      expect(alice.node.peerStates()[0]?.state.status).toBe('connecting')
      const sent = alice.node.send('are you there?')
      expect(alice.node.pending).toBe(1)

      const bob = node('bob', B)
      await bob.node.start()
      await clock.advance(2_000)
      expect(bob.events.of('message')).toMatchObject([{ id: sent.id, seq: 1, body: 'are you there?' }])
      expect(alice.events.of('delivered')).toMatchObject([{ id: sent.id, to: { name: 'bob' } }])
      expect(alice.node.pending).toBe(0)
    })

    it('reaches several peers at once and counts a message delivered only when all of them have it', async () => {
      const { clock, node } = world()
      const bob = node('bob', B)
      const carol = node('carol', C)
      await bob.node.start()
      await carol.node.start()
      const alice = node('alice', A, { peers: [B, C] })
      await alice.node.start()
      await clock.advance(0)
      expect(alice.events.of('connected').map((e) => e.peer.name)).toEqual(
        expect.arrayContaining(['bob', 'carol']),
      )
      alice.node.send('hello both')
      expect(await alice.node.whenDelivered(1_000)).toBe(0)
      expect(bob.events.bodies()).toEqual(['hello both'])
      expect(carol.events.bodies()).toEqual(['hello both'])
      expect(
        alice.events
          .of('delivered')
          .map((d) => d.to.name)
          .sort(),
      ).toEqual(['bob', 'carol'])
    })
  })

  describe('whenDelivered', () => {
    it('resolves 0 at once when nothing is pending', async () => {
      const { node } = world()
      const alice = node('alice', A)
      await alice.node.start()
      expect(await alice.node.whenDelivered(1_000)).toBe(0)
    })

    it('resolves 0 once the peer acknowledges every message', async () => {
      const { clock, alice } = await aliceDialsBob()
      alice.node.send('one')
      alice.node.send('two')
      const done = alice.node.whenDelivered(5_000)
      expect(await done).toBe(0)
      expect(alice.events.of('delivered').map((d) => d.seq)).toEqual([1, 2])
      // The outbox is told settled up to a seq only after that seq is told delivered.
      const told: number[] = []
      for (const e of alice.events.events) {
        if (e.type === 'delivered') told.push(e.seq)
        if (e.type === 'settled') expect(told).toContain(e.upTo)
      }
      expect(alice.events.of('settled').at(-1)).toMatchObject({ upTo: 2, pending: 0 })
      expect(clock.now()).toBe(0)
    })

    it('resolves with the number still undelivered when the time runs out', async () => {
      const { clock, node } = world()
      const alice = node('alice', A, { peers: [B] })
      await alice.node.start()
      alice.node.send('one')
      alice.node.send('two')
      let result: number | undefined
      void alice.node.whenDelivered(500).then((n) => {
        result = n
      })
      await clock.advance(499)
      expect(result).toBeUndefined()
      await clock.advance(1)
      expect(result).toBe(2)
    })
  })

  describe('simultaneous open', () => {
    const seeds = Array.from({ length: 50 }, (_, i) => 1000 + i * 7919)

    it.each(seeds)(
      'settles on exactly one shared link when both nodes dial each other at once (seed %i)',
      async (seed) => {
        const random = seededRandom(seed)
        const hex = () => Array.from({ length: 16 }, () => Math.floor(random() * 16).toString(16)).join('')
        const { network, clock, node } = world({ random, maxHops: 6 })
        const alice = node('alice', A, { id: hex(), random })
        const bob = node('bob', B, { id: hex(), random })
        await alice.node.start()
        await bob.node.start()
        alice.node.connect(B)
        bob.node.connect(A)
        await clock.advance(0)
        // Long enough for handshake timers, keepalives and retries to have fired if anything was left over.
        await clock.advance(30_000)

        for (const side of [alice, bob]) {
          expect(side.events.of('connected'), `${side.node.name} connected events`).toHaveLength(1)
          expect(side.events.of('disconnected')).toEqual([])
          expect(side.events.of('link-error')).toEqual([])
          expect(side.node.peerStates().map((p) => p.state.status)).toEqual(['connected'])
          expect(side.node.sessionsSnapshot().map((s) => s.connected)).toEqual([true])
        }
        expect(network.openLinkCount()).toBe(1)
        const [aliceSaw] = alice.events.of('connected')
        const [bobSaw] = bob.events.of('connected')
        expect(aliceSaw?.direction).not.toBe(bobSaw?.direction)

        alice.node.send('ping from alice')
        bob.node.send('ping from bob')
        await flushMicrotasks()
        expect(bob.events.bodies()).toEqual(['ping from alice'])
        expect(alice.events.bodies()).toEqual(['ping from bob'])
      },
    )
  })

  describe('older peers', () => {
    it('chats with a peer that speaks 1.0 without the room: shows its unsigned words, relays none of them', async () => {
      const { network, clock, node } = world()
      const alice = node('alice', A, { id: LOW, auth: fakeAuth(LOW) })
      await alice.node.start()
      const carol = node('carol', C, { id: MID, peers: [A], auth: fakeAuth(MID) })
      await carol.node.start()
      await clock.advance(0)
      const old = new RawPeer(await network.transport('127.0.0.1', HIGH).dial(A))
      old.hello(HIGH, 'old')
      await clock.advance(0)
      old.send({ type: 'ack', upTo: 0, base: 0 })
      old.send({ type: 'msg', id: 'o1', seq: 1, ts: 0, from: HIGH, body: 'hello from 1.0' })
      alice.node.send('hi all')
      await clock.advance(0)
      expect(alice.events.bodies()).toEqual(['hello from 1.0'])
      expect(alice.events.of('link-error')).toEqual([])
      // The old peer gets alice's own message (signed fields it ignores), nothing relayed;
      // carol gets alice's message, not the old peer's unverifiable one.
      const toOld = old.received.filter((m) => m.type === 'msg')
      expect(toOld).toMatchObject([{ from: LOW, body: 'hi all' }])
      expect(old.received.find((m) => m.type === 'ack' && m.have !== undefined)).toBeUndefined()
      expect(carol.events.bodies()).toEqual(['hi all'])
    })
  })

  /** Alice (the lower id) with `journal`, and a raw peer past its handshake and opening ack. */
  async function journaledWithPeer(journal: NonNullable<NodeOptions['journal']>) {
    const { target: alice, peer, clock } = await dialedByRawPeer('alice', A, { journal })
    return { alice, peer, clock }
  }

  /** The same, with a journal that records each append (its records, as given). */
  async function recordedWithPeer() {
    const appends: JournalRecord[][] = []
    const world = await journaledWithPeer({
      append: async (records) => {
        appends.push([...records])
      },
    })
    return { appends, ...world }
  }

  describe('reads', () => {
    it('persists a read of many messages with one journal append, then shows them in order and acks once', async () => {
      const { appends, alice, peer, clock } = await recordedWithPeer()
      appends.length = 0
      const frames = Array.from({ length: 50 }, (_, i) =>
        encodeFrame({ type: 'msg', id: `m${i}`, seq: i + 1, ts: 0, from: HIGH, body: `line ${i + 1}` }),
      )
      peer.write(Buffer.concat(frames))
      await clock.advance(0)
      expect(appends).toHaveLength(1)
      expect(appends[0]?.map((r) => (r.t === 'received' ? r.msg.seq : r.t))).toEqual(
        Array.from({ length: 50 }, (_, i) => i + 1),
      )
      expect(alice.events.bodies()).toEqual(Array.from({ length: 50 }, (_, i) => `line ${i + 1}`))
      const acks = peer.received.filter((m) => m.type === 'ack')
      expect(acks.at(-1)).toMatchObject({ type: 'ack', upTo: 50 })
      expect(acks.filter((m) => m.type === 'ack' && m.upTo > 0)).toHaveLength(1)
    })
  })

  describe('arrival times', () => {
    it("keeps in the history when each message arrived, by this node's clock, and journals it where the sender dated the message later", async () => {
      const { appends, alice, peer, clock } = await recordedWithPeer()
      // Within the time a silent link is kept.
      await clock.advance(5_000)
      const arrived = clock.now()
      appends.length = 0
      // Dated ten years ahead: what it claims is kept as it is, and when it arrived beside it.
      const ahead = arrived + 10 * 365 * 86_400_000
      peer.write(
        Buffer.concat([
          encodeFrame({ type: 'msg', id: 'm1', seq: 1, ts: ahead, from: HIGH, body: 'from the future' }),
          encodeFrame({ type: 'msg', id: 'm2', seq: 2, ts: 5, from: HIGH, body: 'a\nb', lines: 2 }),
        ]),
      )
      await clock.advance(0)
      expect(appends[0]).toMatchObject([
        { t: 'received', msg: { id: 'm1', ts: ahead }, at: arrived },
        { t: 'received', msg: { id: 'm2', ts: 5 } },
      ])
      // Dated before it arrived: the history places it by its date, so its record needs no arrival time.
      expect(appends[0]?.[1]).not.toHaveProperty('at')
      const received = alice.node.history.filter((e) => e.direction === 'in')
      expect(received.map((e) => [e.id, e.ts, e.at])).toEqual([
        ['m1', ahead, arrived],
        ['m2', 5, arrived],
        ['m2.1', 5, arrived],
      ])
    })
  })

  describe('acks', () => {
    /** Alice with a journal whose appends wait until the test lets them end (`held`), past the opening ones. */
    async function heldJournal() {
      const held: (() => void)[] = []
      const { peer, clock } = await journaledWithPeer({
        append: () => new Promise<void>((resolve) => held.push(resolve)),
      })
      for (const resolve of held.splice(0)) resolve()
      await clock.advance(0)
      const acked = () => peer.received.flatMap((m) => (m.type === 'ack' && m.upTo > 0 ? [m.upTo] : []))
      return { held, peer, clock, acked }
    }

    it('acks the reads that arrive while an ack waits for the journal together, once, when it ends', async () => {
      const { held, peer, clock, acked } = await heldJournal()
      const read = async (from: number) => {
        const frames = Array.from({ length: 10 }, (_, i) =>
          encodeFrame({ type: 'msg', id: `m${from + i}`, seq: from + i, ts: 0, from: HIGH, body: 'x' }),
        )
        peer.write(Buffer.concat(frames))
        await clock.advance(0)
      }
      await read(1)
      await read(11)
      await read(21)
      // Three reads, three appends waiting for the disk, and no ack yet: acks claim only what is durable.
      expect(held).toHaveLength(3)
      expect(acked()).toEqual([])
      held.shift()?.()
      await clock.advance(0)
      expect(acked()).toEqual([10])
      for (const resolve of held.splice(0)) resolve()
      await clock.advance(0)
      // The two later reads share one ack, not one each.
      expect(acked()).toEqual([10, 30])
    })

    it('acks what a read took before it stopped for the journal, once that is durable', async () => {
      const { held, peer, clock, acked } = await heldJournal()
      // More than the journal may lag behind the links: the read stops part way, for the disk.
      const count = Math.ceil((2 * LONE_LINK_JOURNAL_LAG_BYTES) / 3_000)
      const frames = Array.from({ length: count }, (_, i) =>
        encodeFrame({ type: 'msg', id: `m${i}`, seq: i + 1, ts: 0, from: HIGH, body: 'x'.repeat(3_000) }),
      )
      peer.write(Buffer.concat(frames))
      await clock.advance(0)
      expect(held).toHaveLength(1)
      expect(acked()).toEqual([])
      held.shift()?.()
      await clock.advance(0)
      // The first append is durable: its messages are acked now, not once the rest is durable too.
      const [first] = acked()
      expect(first).toBeGreaterThan(0)
      expect(first).toBeLessThan(count)
      while (held.length > 0) {
        held.shift()?.()
        await clock.advance(0)
      }
      expect(acked().at(-1)).toBe(count)
    })
  })

  describe('acked records', () => {
    it("writes a peer's ack, and where our outbox starts, with our next burst instead of in a disk flush of their own", async () => {
      const { appends, alice, peer, clock } = await recordedWithPeer()
      alice.node.send('one')
      await clock.advance(0)
      expect(peer.received.filter((m) => m.type === 'msg')).toHaveLength(1)
      appends.length = 0
      peer.send({ type: 'ack', upTo: 1, base: 0 })
      await clock.advance(0)
      expect(appends).toEqual([])
      expect(alice.node.pending).toBe(0)
      alice.node.send('two')
      await clock.advance(0)
      expect(appends.map((records) => records.map((r) => r.t))).toEqual([['settled', 'acked', 'sent']])
      expect(appends[0]?.slice(0, 2)).toMatchObject([
        { t: 'settled', upTo: 1 },
        { t: 'acked', upTo: 1 },
      ])
      // Alone, they are written once the journal has had nothing else for a while; and on close.
      peer.send({ type: 'ack', upTo: 2, base: 0 })
      await clock.advance(DEFERRED_RECORD_MS)
      expect(appends.at(-1)).toEqual([
        expect.objectContaining({ t: 'settled', upTo: 2 }),
        expect.objectContaining({ t: 'acked', upTo: 2 }),
      ])
      alice.node.send('three')
      await clock.advance(0)
      peer.send({ type: 'ack', upTo: 3, base: 0 })
      await clock.advance(0)
      await alice.node.close()
      expect(appends.at(-1)).toEqual([
        expect.objectContaining({ t: 'settled', upTo: 3 }),
        expect.objectContaining({ t: 'acked', upTo: 3 }),
      ])
    })
  })

  describe('handshake slots', () => {
    it('drops the oldest link in its handshake when the node is full, but refuses a host over its own cap', async () => {
      const { network, clock, node } = world()
      const alice = node('alice', A, { id: LOW, maxHandshaking: 2, maxHandshakingPerSource: 1 })
      await alice.node.start()
      const first = await RawPeer.dial(network, A, '10.0.0.1')
      const second = await RawPeer.dial(network, A, '10.0.0.2')
      await flushMicrotasks()
      const again = await RawPeer.dial(network, A, '10.0.0.2')
      await flushMicrotasks()
      expect(again.closed).toBe(true)
      const third = await RawPeer.dial(network, A, '10.0.0.3')
      await clock.advance(0)
      expect(alice.events.of('link-error').map((e) => [e.address, e.message])).toEqual([
        [again.link.localAddress, expect.stringContaining('from 10.0.0.2')],
        [first.link.localAddress, expect.stringContaining('oldest of 2')],
      ])
      expect([first.closed, second.closed, third.closed]).toEqual([true, false, false])
      // The newcomer completes its handshake in the slot it was given.
      third.hello(HIGH, 'newcomer')
      await clock.advance(0)
      expect(alice.events.of('connected').map((e) => e.peer.name)).toEqual(['newcomer'])
    })
  })

  describe('turns', () => {
    it('takes at most 256 messages per turn of the event loop and the rest on the next turns, in order', async () => {
      const { network, clock, node } = world()
      const deferred: (() => void)[] = []
      const turns = Object.assign(Object.create(clock) as ManualClock, {
        defer: (callback: () => void) => deferred.push(callback),
      })
      const alice = node('alice', A, { id: LOW, clock: turns, rateLimit: false })
      await alice.node.start()
      const peer = new RawPeer(await network.transport('127.0.0.1', HIGH).dial(A))
      peer.hello(HIGH, 'raw')
      peer.send({ type: 'ack', upTo: 0, base: 0 })
      await flushMicrotasks()
      const nextTurn = async () => {
        for (const callback of deferred.splice(0)) callback()
        await flushMicrotasks()
      }
      await nextTurn()
      const bodies = Array.from({ length: 2_500 }, (_, i) => `line ${i + 1}`)
      peer.write(
        Buffer.concat(
          bodies.map((body, i) =>
            encodeFrame({ type: 'msg', id: `m${i}`, seq: i + 1, ts: 0, from: HIGH, body }),
          ),
        ),
      )
      await flushMicrotasks()
      const perTurn = [alice.events.bodies().length]
      while (deferred.length > 0 && perTurn.length < 20) {
        const before = alice.events.bodies().length
        await nextTurn()
        perTurn.push(alice.events.bodies().length - before)
      }
      expect(perTurn).toEqual([...Array.from({ length: 9 }, () => 256), 196, 0])
      expect(alice.events.bodies()).toEqual(bodies)
      expect(peer.received.filter((m) => m.type === 'ack').at(-1)).toMatchObject({ upTo: 2_500 })
    })
  })

  describe('misbehaving peers', () => {
    it.each<[string, number[], string]>([
      ['bytes that are not JSON', [0, 0, 0, 3, 0x7b, 0x7b, 0x7b], 'BAD_JSON'],
      ['a 1 GiB frame header', [0x40, 0, 0, 0], 'FRAME_TOO_LARGE'],
      ['invalid UTF-8', [0, 0, 0, 2, 0xff, 0xfe], 'BAD_UTF8'],
      ['an empty frame', [0, 0, 0, 0], 'EMPTY_FRAME'],
      ['a line of text', [...new TextEncoder().encode('HELLO\n')], 'NOT_PARLEY'],
      ['a chat message before hello', [...encodeFrame({ type: 'ping', n: 1 })], 'NO_HELLO'],
    ])(
      'drops a peer that sends %s with a link-error, and keeps serving a good peer',
      async (_, bytes, code) => {
        const { network, clock, node } = world()
        const bob = node('bob', B)
        await bob.node.start()
        const alice = node('alice', A, { peers: [B] })
        await alice.node.start()
        await clock.advance(0)

        const rogue = await RawPeer.dial(network, A)
        rogue.sendBytes(bytes)
        await flushMicrotasks()
        expect(alice.events.of('link-error')).toEqual([
          { type: 'link-error', address: rogue.link.localAddress, code, message: expect.any(String) },
        ])
        expect(rogue.types()).toEqual(['hello', 'bye'])
        expect(rogue.closed).toBe(true)

        alice.node.send('still here')
        bob.node.send('me too')
        await flushMicrotasks()
        expect(bob.events.bodies()).toEqual(['still here'])
        expect(alice.events.bodies()).toEqual(['me too'])
        expect(alice.events.of('disconnected')).toEqual([])
      },
    )

    it('drops a link that never completes the handshake when the handshake timeout expires', async () => {
      const { network, clock, node } = world()
      const alice = node('alice', A, { handshakeTimeoutMs: 2_000 })
      await alice.node.start()
      const silent = await RawPeer.dial(network, A)
      await clock.advance(1_999)
      expect(alice.events.of('link-error')).toEqual([])
      expect(silent.closed).toBe(false)
      await clock.advance(1)
      expect(alice.events.of('link-error')).toMatchObject([
        { code: 'HANDSHAKE_TIMEOUT', address: silent.link.localAddress },
      ])
      expect(silent.types()).toEqual(['hello', 'bye'])
      expect(silent.closed).toBe(true)
    })

    it('drops an open link that stays silent for deadAfterMs, and keeps one that answers pings', async () => {
      const { network, clock, node } = world()
      const alice = node('alice', A, { id: LOW, keepaliveMs: 1_000, deadAfterMs: 3_000 })
      await alice.node.start()
      const bob = node('bob', B, { id: MID, peers: [A], keepaliveMs: 1_000, deadAfterMs: 3_000 })
      await bob.node.start()
      const mute = await RawPeer.dial(network, A)
      mute.hello(HIGH, 'mute')
      await clock.advance(0)
      expect(
        alice.events
          .of('connected')
          .map((e) => e.peer.name)
          .sort(),
      ).toEqual(['bob', 'mute'])

      await clock.advance(2_999)
      expect(alice.events.of('link-error')).toEqual([])
      expect(mute.types().filter((t) => t === 'ping')).toHaveLength(2)

      await clock.advance(1_001)
      expect(alice.events.of('link-error')).toMatchObject([
        { code: 'SILENT', address: mute.link.localAddress },
      ])
      expect(alice.events.of('disconnected')).toMatchObject([{ peer: { name: 'mute' } }])
      expect(mute.closed).toBe(true)

      await clock.advance(10_000)
      expect(alice.events.of('disconnected').map((e) => e.peer.name)).toEqual(['mute'])
      alice.node.send('bob is still here')
      await flushMicrotasks()
      expect(bob.events.bodies()).toEqual(['bob is still here'])
    })

    it('gives up for good on a peer that speaks another major protocol version', async () => {
      const { network, clock, node } = world()
      const future = await rawListener(network, B, (peer) =>
        peer.send({ ...makeHello({ id: HIGH, name: 'future', instance: 'x' }, []), v: '2.0' }),
      )
      const alice = node('alice', A, { peers: [B] })
      await alice.node.start()
      await clock.advance(10_000)
      expect(alice.node.peerStates()).toMatchObject([
        { state: { status: 'failed', error: { code: 'VERSION' } } },
      ])
      expect(alice.events.of('link-error')).toMatchObject([{ code: 'VERSION' }])
      expect(future.accepted).toHaveLength(1)
    })

    it('gives up for good when told to dial its own address', async () => {
      const { clock, node } = world()
      const alice = node('alice', A)
      await alice.node.start()
      alice.node.connect(A)
      await clock.advance(10_000)
      expect(alice.node.peerStates()).toMatchObject([
        { state: { status: 'failed', error: { code: 'SELF' } } },
      ])
      expect(alice.events.of('connected')).toEqual([])
      expect(alice.events.of('peer-state').filter((e) => e.state.status === 'connecting')).toHaveLength(1)
    })

    it('backs off instead of redialing in a loop when a peer drops every session right after the handshake', async () => {
      const { network, clock, node } = world()
      // The peer completes the handshake (alice has the lower id, so she opens at once), then sends garbage.
      const flaky = await rawListener(network, B, (peer) => {
        peer.hello(HIGH, 'flaky')
        peer.sendBytes([0, 0, 0, 1, 0x7b])
      })
      const alice = node('alice', A, { id: LOW, peers: [B] })
      await alice.node.start()
      await clock.advance(0)
      // One dial, maybe one immediate redial; the rest must wait for the retry timer.
      expect(flaky.accepted.length).toBeLessThanOrEqual(2)
      await clock.advance(10_000)
      // With a 1 s cap on the retry delay (±30 %), ten seconds leave room for at most about 20 dials.
      expect(flaky.accepted.length).toBeLessThanOrEqual(20)
    })
  })

  describe('leaving and coming back', () => {
    it('says bye on close, so the peer sees the name and "left"', async () => {
      const { bob, alice } = await aliceDialsBob()

      await bob.node.close('see you')
      await flushMicrotasks()
      const [gone] = alice.events.of('disconnected')
      expect(gone?.peer.name).toBe('bob')
      expect(gone?.reason).toContain('bob')
      expect(gone?.reason).toContain('left')
      expect(gone?.reason).toContain('see you')
      expect(alice.events.of('link-error')).toEqual([])
      expect(bob.events.events.at(-1)).toEqual({ type: 'closed' })
    })

    it('keeps a long quit reason a clean goodbye on the peer’s side', async () => {
      const { bob, alice } = await aliceDialsBob()
      await bob.node.close(`gone fishing ${'.'.repeat(300)}`)
      await flushMicrotasks()
      expect(alice.events.of('link-error')).toEqual([])
      expect(alice.events.of('disconnected')[0]?.reason).toMatch(/^bob left/)
    })

    it('reconnects to a peer that left once it comes back', async () => {
      const { clock, node, bob, alice } = await aliceDialsBob()

      await bob.node.close()
      await flushMicrotasks()
      expect(alice.node.peerStates()[0]?.state.status).toBe('reconnecting')
      expect(alice.events.of('peer-state').map((e) => e.state.status)).toContain('reconnecting')
      await clock.advance(5_000)
      expect(alice.node.peerStates()[0]?.state.status).toBe('reconnecting')

      const bob2 = node('bob', B)
      await bob2.node.start()
      await clock.advance(2_000)
      expect(alice.node.peerStates()[0]?.state.status).toBe('connected')
      expect(alice.events.of('connected').map((e) => e.peer.id)).toEqual([bob.node.id, bob2.node.id])
      bob2.node.send('back again')
      alice.node.send('welcome back')
      await flushMicrotasks()
      expect(alice.events.bodies()).toEqual(['back again'])
      expect(bob2.events.bodies()).toEqual(['welcome back'])
    })

    it('resends what a peer missed while the link was down, in order and only once', async () => {
      const { network, clock, node } = world()
      const bob = node('bob', B)
      await bob.node.start()
      const alice = node('alice', A, { peers: [B] })
      await alice.node.start()
      await clock.advance(0)
      alice.node.send('one')
      await flushMicrotasks()
      expect(bob.events.bodies()).toEqual(['one'])

      network.partition(B)
      await flushMicrotasks()
      expect(alice.events.of('disconnected')).toHaveLength(1)
      alice.node.send('two')
      alice.node.send('three')
      await clock.advance(3_000)
      expect(alice.node.peerStates()[0]?.state.status).toBe('reconnecting')

      network.heal(B)
      await clock.advance(2_000)
      expect(alice.node.peerStates()[0]?.state.status).toBe('connected')
      expect(bob.events.bodies()).toEqual(['one', 'two', 'three'])
      expect(await alice.node.whenDelivered(1_000)).toBe(0)
    })

    it('delivers to a peer that restarted with the same id and no journal', async () => {
      const { clock, node } = world()
      const bob = node('bob', B, { id: HIGH })
      await bob.node.start()
      const alice = node('alice', A, { id: LOW, peers: [B] })
      await alice.node.start()
      await clock.advance(0)
      alice.node.send('one')
      await flushMicrotasks()
      expect(bob.events.bodies()).toEqual(['one'])

      await bob.node.close()
      alice.node.send('two')
      const bob2 = node('bob', B, { id: HIGH })
      await bob2.node.start()
      await clock.advance(2_000)
      expect(alice.node.peerStates()[0]?.state.status).toBe('connected')
      // bob2 starts its stream of alice's messages from scratch; seq 2 must not wait forever for a seq 1.
      expect(bob2.events.bodies()).toEqual(['two'])
    })

    it('does not drop or falsely confirm messages from a peer that restarted with the same id and no journal', async () => {
      const { clock, node } = world()
      const alice = node('alice', A, { id: LOW })
      await alice.node.start()
      const bob = node('bob', B, { id: HIGH, peers: [A] })
      await bob.node.start()
      await clock.advance(0)
      bob.node.send('first')
      bob.node.send('second')
      await flushMicrotasks()
      expect(alice.events.bodies()).toEqual(['first', 'second'])

      await bob.node.close()
      const bob2 = node('bob', B, { id: HIGH, peers: [A] })
      await bob2.node.start()
      await clock.advance(2_000)
      expect(alice.events.of('connected')).toHaveLength(2)
      bob2.node.send('after the restart')
      await flushMicrotasks()
      expect(alice.events.bodies()).toEqual(['first', 'second', 'after the restart'])
    })
  })

  describe('sending', () => {
    it('refuses a body longer than MAX_BODY_LENGTH', async () => {
      const { node } = world()
      const alice = node('alice', A)
      await alice.node.start()
      expect(() => alice.node.send('x'.repeat(MAX_BODY_LENGTH + 1))).toThrow(ProtocolError)
      expect(alice.node.pending).toBe(0)
    })

    it('refuses up front a message too large for its frame limit, instead of blaming the peer and dropping the link', async () => {
      const { clock, node } = world()
      const bob = node('bob', B)
      await bob.node.start()
      const alice = node('alice', A, { peers: [B], maxFrame: 2_048 })
      await alice.node.start()
      await clock.advance(0)

      let refused: unknown
      try {
        // Within MAX_BODY_LENGTH, but over this node's own 2 KiB frame limit.
        alice.node.send('x'.repeat(4_000))
      } catch (error) {
        refused = error
      }
      await clock.advance(1_000)
      expect(alice.events.of('link-error')).toEqual([])
      expect(bob.events.of('disconnected')).toEqual([])
      expect(refused).toBeInstanceOf(ProtocolError)
      expect((refused as ProtocolError).code).toBe('FRAME_TOO_LARGE')
      expect(alice.node.pending).toBe(0)
    })

    it('draws its message ids from the random source it was given', async () => {
      const { node } = world()
      let calls = 0
      const fill = (into: Uint8Array) => {
        calls++
        into.fill(0xab)
      }
      const alice = node('alice', A, { randomBytes: fill })
      await alice.node.start()
      const sent = alice.node.send('hello')
      expect(sent.id).toBe('abababababababab')
      // Once for its instance and the message id: the source's pool holds 4 KiB.
      expect(calls).toBe(1)
    })

    it('refuses to send once closed', async () => {
      const { node } = world()
      const alice = node('alice', A)
      await alice.node.start()
      await alice.node.close()
      expect(() => alice.node.send('too late')).toThrow(/closed/)
    })
  })

  describe('lifecycle', () => {
    it('fails to start when its address is taken, with the transport’s error', async () => {
      const { node } = world()
      await node('first', A).node.start()
      await expect(node('second', A).node.start()).rejects.toBeInstanceOf(TransportError)
    })

    it('announces where it listens', async () => {
      const { node } = world()
      const alice = node('alice', at(0))
      const bound = await alice.node.start()
      expect(bound).not.toBe('127.0.0.1:0')
      expect(alice.events.of('listening')).toEqual([{ type: 'listening', address: bound }])
      expect(alice.node.address).toEqual(bound)
    })

    it('releases every timer when closed', async () => {
      const { clock, node } = world()
      const alice = node('alice', A, { peers: [B, C] })
      await alice.node.start()
      await clock.advance(150)
      await alice.node.close()
      await clock.advance(60_000)
      expect(clock.pendingTimers).toBe(0)
      expect(alice.events.of('peer-state').filter((e) => e.state.status === 'closed')).toHaveLength(2)
    })

    it('takes a connected peer from connected to closing when it closes, never through reconnecting', async () => {
      const { clock, bob, alice } = await aliceDialsBob()
      expect(alice.events.of('connected')).toHaveLength(1)
      await alice.node.close('input ended')
      const states = alice.events.of('peer-state').map((e) => e.state.status)
      expect(states.slice(-3)).toEqual(['connected', 'closing', 'closed'])
      expect(states).not.toContain('reconnecting')
      // The peer is still told why.
      await clock.advance(0)
      expect(bob.events.of('disconnected').map((e) => e.reason)).toEqual(['alice left (input ended)'])
      // A leave, not a failure: frontends tell it as news, not as a warning.
      expect(bob.events.of('disconnected').map((e) => e.left)).toEqual([true])
    })

    it('does not tell a bye that names an error as a leave', async () => {
      const { target, peer, clock } = await dialedByRawPeer('alice', A)
      expect(target.events.of('connected')).toHaveLength(1)
      peer.send({ type: 'bye', reason: 'frame of 2000000 bytes exceeds the limit', code: 'FRAME_TOO_LARGE' })
      await clock.advance(0)
      const [gone] = target.events.of('disconnected')
      expect(gone?.reason).toBe('raw left (frame of 2000000 bytes exceeds the limit)')
      expect(gone?.left).toBeUndefined()
    })

    it("keeps a bye's padding from pushing the rest of its reason to a row of its own", async () => {
      const { target, peer, clock } = await dialedByRawPeer('alice', A)
      const pad = ' '.repeat(120)
      peer.send({ type: 'bye', reason: `x)${pad}<bob>\u00a0\u3000 wire the money\u2800\u2800` })
      await clock.advance(0)
      const [gone] = target.events.of('disconnected')
      expect(gone?.reason).toBe('raw left (x) <bob> wire the money)')
    })

    it('leaves no timer behind once closed, when every peer closed its side of the links', async () => {
      const { clock, node } = world()
      const bob = node('bob', B)
      await bob.node.start()
      const aliceClock = new ManualClock()
      const alice = node('alice', A, { peers: [B], clock: aliceClock })
      await alice.node.start()
      await clock.advance(0)
      expect(alice.events.of('connected')).toHaveLength(1)
      await alice.node.close()
      await flushMicrotasks()
      expect(bob.events.of('disconnected')).toHaveLength(1)
      // A pending timer would keep a real process alive after quitting.
      expect(aliceClock.pendingTimers).toBe(0)
    })

    it('sends its hello first even when the transport hands over buffered data inside attach', async () => {
      // The Link contract allows attach() to deliver data that arrived earlier synchronously.
      const { clock, node } = world({ deliverOnAttach: 'sync', acceptHops: 50 })
      const alice = node('alice', A, { id: LOW })
      await alice.node.start()
      const bob = node('bob', B, { id: HIGH, peers: [A] })
      await bob.node.start()
      await clock.advance(0)
      expect(bob.events.of('link-error')).toEqual([])
      expect(bob.events.of('connected')).toHaveLength(1)
      expect(alice.events.of('connected')).toHaveLength(1)
    })
  })
})
