import { afterEach, describe, expect, it } from 'vitest'
import { fakeAuth, signedHere } from '../test/fake-auth.js'
import {
  A,
  ALICE,
  B,
  BOB,
  C,
  CAROL,
  closeNodes,
  nodeWorld,
  rawNeighbour,
  type TestNode,
} from '../test/node-world.js'
import { RawPeer } from '../test/raw-peer.js'
import type { Address } from './address.js'
import { decodeBody } from './codec.js'
import { HERE_CAP, ROOM_CAP } from './links.js'
import type { NodeOptions } from './node-types.js'
import { PRESENCE_DEFAULTS } from './presence.js'
import { canonicalHere, canonicalMsg } from './room-types.js'
import { type Here, parseMessage } from './schema.js'

afterEach(closeNodes)

const RAW = 'eeeeeeeeeeeeeeee'
type World = ReturnType<typeof nodeWorld>

/** A node of `w` signing with `fakeAuth` under its `id`. */
const signing = (w: World, name: string, at: Address, id: string, extra: Partial<NodeOptions> = {}) =>
  w.node(name, at, { id, auth: fakeAuth(id), ...extra })

/** Alice, signing; raw ends answer no ping, so her links to them are not judged silent meanwhile. */
const aliceBesideRaw = (w: World, extra: Partial<NodeOptions> = {}) =>
  signing(w, 'alice', A, ALICE, { deadAfterMs: 3_600_000, ...extra })

/** A raw end from `host` that announces the room and here caps, its opening ack on its way. */
const hereNeighbour = (w: World, host: string, id = RAW, name = 'raw') =>
  rawNeighbour(w, A, { host, id, name, caps: [ROOM_CAP, HERE_CAP] })

function body(message: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(message))
}

describe('the here frame', () => {
  it('is parsed by hand as zod parses it, and refused when malformed', () => {
    const frame = { type: 'here', from: CAROL, name: 'carol', ts: 5, state: 'gone', sig: 'abc' }
    expect(parseMessage(frame)).toEqual(frame)
    expect(parseMessage({ ...frame, extra: 1 })).toEqual(frame)
    for (const bad of [{ state: 'away' }, { from: 'CAROL' }, { name: '' }, { ts: -1 }, { sig: 'a b' }]) {
      expect(() => parseMessage({ ...frame, ...bad })).toThrow(/invalid here message/)
    }
  })

  it('is a type an earlier release ignores: the decoder returns nothing for a type it does not know', () => {
    // What an earlier release's decoder does with `here`, this one does with any type it does not know.
    expect(decodeBody(body({ type: 'there', from: CAROL, ts: 1, state: 'here' }))).toBeUndefined()
    expect(decodeBody(body(signedHere(CAROL, 'carol', 1)))).toMatchObject({ type: 'here' })
  })

  it('is signed over a form no chain hash can share', () => {
    const here = canonicalHere({ from: CAROL, name: 'carol', ts: 1, state: 'here' })
    expect(JSON.parse(here)[0]).toBe('parley-here/1')
    const msg = { type: 'msg', id: 'x', seq: 1, ts: 1, from: CAROL, body: 'here' } as const
    expect(canonicalMsg(msg)).not.toBe(here)
  })
})

describe('a node next to a neighbour of an earlier release', () => {
  it('sends presence only to a neighbour that announces the here cap, and keeps a link that sends an unknown type', async () => {
    const w = nodeWorld()
    const alice = aliceBesideRaw(w)
    await alice.node.start()
    const old = await rawNeighbour(w, A, { host: '127.0.0.1', id: RAW, name: 'old', caps: [ROOM_CAP] })
    const unknown = body({ type: 'later-thing', n: 1 })
    const framed = new Uint8Array(4 + unknown.length)
    new DataView(framed.buffer).setUint32(0, unknown.length)
    framed.set(unknown, 4)
    old.link.write(framed)
    const fresh = await hereNeighbour(w, '127.0.0.2', 'dddddddddddddddd', 'new')
    // Several refresh periods and a rename: still nothing for the neighbour without the cap.
    await w.clock.advance(PRESENCE_DEFAULTS.everyMs * 2 + 10)
    alice.node.rename('alicia')
    await w.clock.advance(10)
    expect(alice.events.of('link-error')).toEqual([])
    expect(alice.events.of('disconnected')).toEqual([])
    expect(old.closed).toBe(false)
    expect(old.types()).not.toContain('here')
    expect(alice.events.of('link-error')).toEqual([])
    const heard = fresh.received.filter((m): m is Here => m.type === 'here')
    expect(heard.length).toBeGreaterThanOrEqual(4)
    expect(heard.at(-1)).toMatchObject({ from: ALICE, name: 'alicia', state: 'here' })
    // Each is signed by alice over its canonical form.
    const auth = fakeAuth(ALICE)
    for (const h of heard) expect(auth.verify(ALICE, auth.hereHash!(h), h.sig!)).toBe(true)
  })
})

/** alice—bob—carol in a line, each signing with `fakeAuth`, started bob first; carol never speaks. */
async function startLine(aliceExtra: Partial<NodeOptions> = {}) {
  const w = nodeWorld()
  const bob = signing(w, 'bob', B, BOB)
  const alice = signing(w, 'alice', A, ALICE, { peers: [B], ...aliceExtra })
  const carol = signing(w, 'carol', C, CAROL, { peers: [B] })
  await bob.node.start()
  await alice.node.start()
  await carol.node.start()
  return { w, alice, bob, carol }
}

/** The line, linked: each has heard of the others. */
async function line() {
  const started = await startLine()
  await started.w.clock.advance(100)
  return started
}

describe('a member reached only through relays', () => {
  it('is listed while it only reads, told as in the room, and told as gone when it quits', async () => {
    const { w, alice, carol } = await line()
    const listed = alice.node.members().find((m) => m.peer.id === CAROL)
    expect(listed).toMatchObject({ peer: { name: 'carol' }, direct: false, connected: true, present: true })
    expect(alice.events.of('member').filter((e) => e.peer.id === CAROL)).toEqual([
      expect.objectContaining({ via: 'relay' }),
    ])
    expect(carol.events.of('member').filter((e) => e.peer.id === ALICE)).toHaveLength(1)
    const quitAt = w.clock.now()
    await carol.node.close('quit')
    await w.clock.advance(10)
    // Dated as its gone presence: a frontend tells a leaving from before it started with its time.
    expect(alice.events.of('member-left')).toEqual([
      { type: 'member-left', peer: { id: CAROL, name: 'carol' }, at: quitAt, reason: 'quit' },
    ])
    expect(alice.node.members().find((m) => m.peer.id === CAROL)).toMatchObject({ present: false })
  })

  it('is told again when it comes back after it left, and as a rename under another name', async () => {
    const { w, alice, carol } = await line()
    await carol.node.close('quit')
    await w.clock.advance(10)
    const again = signing(w, 'carol', C, CAROL, { peers: [B] })
    await again.node.start()
    await w.clock.advance(100)
    const arrivals = alice.events.of('member').filter((e) => e.peer.id === CAROL)
    expect(arrivals).toHaveLength(2)
    expect(arrivals[1]).not.toHaveProperty('renamedFrom')
    expect(alice.node.members().find((m) => m.peer.id === CAROL)).toMatchObject({ present: true })
    await again.node.close('quit')
    await w.clock.advance(10)
    const renamed = signing(w, 'caz', C, CAROL, { peers: [B] })
    await renamed.node.start()
    await w.clock.advance(100)
    expect(alice.events.of('member').at(-1)).toMatchObject({
      peer: { id: CAROL, name: 'caz' },
      renamedFrom: 'carol',
    })
    expect(alice.events.of('member-left')).toHaveLength(2)
  })

  it('is heard under its new name when it renames', async () => {
    const { w, alice, carol } = await line()
    carol.node.rename('caz')
    await w.clock.advance(10)
    expect(alice.node.members().find((m) => m.peer.id === CAROL)?.peer.name).toBe('caz')
    expect(alice.events.of('member').at(-1)).toMatchObject({
      peer: { id: CAROL, name: 'caz' },
      renamedFrom: 'carol',
    })
  })

  it('stays listed while it refreshes, and is no longer there once its presence expires', async () => {
    const { w, alice } = await line()
    // Refreshes keep it there well past the expiry.
    await w.clock.advance(PRESENCE_DEFAULTS.expiryMs * 2)
    expect(alice.node.members().find((m) => m.peer.id === CAROL)).toMatchObject({ present: true })
    // Dave, through a neighbour that then says nothing more of it: its presence is not refreshed.
    const raw = await hereNeighbour(w, '127.0.0.3')
    const DAVE = 'dddddddddddddddd'
    raw.send(signedHere(DAVE, 'dave', w.clock.now()))
    await w.clock.advance(10)
    expect(alice.node.members().find((m) => m.peer.id === DAVE)).toMatchObject({
      present: true,
      direct: false,
    })
    await w.clock.advance(PRESENCE_DEFAULTS.expiryMs + 1)
    const dave = alice.node.members().find((m) => m.peer.id === DAVE)
    // Shown as not there, or forgotten with its presence (at the next refresh): never as there.
    expect(dave?.present ?? false).toBe(false)
    await w.clock.advance(PRESENCE_DEFAULTS.everyMs)
    expect(alice.node.members().find((m) => m.peer.id === DAVE)).toBeUndefined()
  })
})

/** Alice, started once any presence from before would have expired, and a raw neighbour linked to her. */
async function hostile(extra: Partial<NodeOptions> = {}) {
  const w = nodeWorld()
  const alice = aliceBesideRaw(w, extra)
  await w.clock.advance(PRESENCE_DEFAULTS.expiryMs * 2)
  await alice.node.start()
  const raw = await hereNeighbour(w, '127.0.0.9')
  await w.clock.advance(0)
  return { w, alice, raw }
}

/**
 * Carol's presence through `raw`, and a second later her `gone`: alice is told she left. Returns when her
 * presence was dated.
 */
async function carolCameAndLeft(w: World, alice: TestNode, raw: RawPeer): Promise<number> {
  const t = w.clock.now()
  raw.send(signedHere(CAROL, 'carol', t))
  await w.clock.advance(1_000)
  raw.send(signedHere(CAROL, 'carol', t + 500, 'gone'))
  await w.clock.advance(10)
  expect(alice.events.of('member-left')).toHaveLength(1)
  return t
}

describe('a hostile neighbour', () => {
  const key = (i: number) => (0x1000000000000000n + BigInt(i)).toString(16)

  it('cannot replay an old presence to make a member that left look there', async () => {
    const { w, alice, raw } = await hostile()
    const t = await carolCameAndLeft(w, alice, raw)
    // The old `here` again, and one older than the expiry: ignored, and the link stays.
    raw.send(signedHere(CAROL, 'carol', t))
    raw.send(signedHere(CAROL, 'carol', t - PRESENCE_DEFAULTS.expiryMs - 1))
    await w.clock.advance(10)
    expect(alice.node.members().find((m) => m.peer.id === CAROL)).toMatchObject({ present: false })
    expect(alice.events.of('link-error')).toEqual([])
    expect(raw.closed).toBe(false)
    // Once the gone expired too, a replayed `here` is older than the expiry: it is never taken again.
    await w.clock.advance(PRESENCE_DEFAULTS.expiryMs)
    raw.send(signedHere(CAROL, 'carol', t))
    await w.clock.advance(10)
    expect(alice.node.members().find((m) => m.peer.id === CAROL)?.present ?? false).toBe(false)
  })

  it('cannot date a presence far ahead', async () => {
    const { w, alice, raw } = await hostile()
    raw.send(signedHere(CAROL, 'carol', w.clock.now() + PRESENCE_DEFAULTS.skewMs + 1))
    await w.clock.advance(10)
    expect(alice.node.members().find((m) => m.peer.id === CAROL)).toBeUndefined()
  })

  it('is refused as a forger when a presence does not carry its member’s signature', async () => {
    const { w, alice, raw } = await hostile()
    raw.send({ ...signedHere(CAROL, 'carol', w.clock.now()), name: 'mallory' })
    await w.clock.advance(10)
    expect(raw.closed).toBe(true)
    expect(alice.events.of('link-error')).toEqual([expect.objectContaining({ code: 'FORGED' })])
    expect(alice.node.members().find((m) => m.peer.id === CAROL)).toBeUndefined()
  })

  it('fills no more than the member table with throwaway keys, and is cut off past the rate', async () => {
    const { w, alice, raw } = await hostile({ maxOrigins: 20 })
    const now = w.clock.now()
    for (let i = 0; i < 100; i++) raw.send(signedHere(key(i), `k${i}`, now))
    await w.clock.advance(10)
    expect(alice.node.members().length).toBeLessThanOrEqual(20)
    expect(raw.closed).toBe(false)
    for (let i = 100; i < 100 + PRESENCE_DEFAULTS.rate.burst; i++) raw.send(signedHere(key(i), `k${i}`, now))
    await w.clock.advance(10)
    expect(raw.closed).toBe(true)
    expect(alice.events.of('link-error')).toEqual([expect.objectContaining({ code: 'FLOOD' })])
    expect(alice.node.members().length).toBeLessThanOrEqual(20)
  })

  it('names go through the cleaning hello names get', async () => {
    const { w, alice, raw } = await hostile()
    raw.send(signedHere(CAROL, 'car\u202eol\u200b', w.clock.now()))
    await w.clock.advance(10)
    const name = alice.node.members().find((m) => m.peer.id === CAROL)?.peer.name
    expect(name).toBeDefined()
    expect(name).not.toMatch(/[\u202e\u200b]/)
  })
})

describe('a node relaying presence', () => {
  const key = (i: number) => (0x2000000000000000n + BigInt(i)).toString(16)

  it('never relays more presence to a neighbour than that neighbour takes, whatever its other neighbours send', async () => {
    const w = nodeWorld()
    const bob = signing(w, 'bob', B, BOB)
    const alice = aliceBesideRaw(w, { peers: [B] })
    await bob.node.start()
    await alice.node.start()
    await w.clock.advance(100)
    // Two neighbours of alice, each within its own link's allowance (burst 600): 2 × 400 presences at once.
    const raws: RawPeer[] = []
    for (const [n, host] of [
      [0, '127.0.0.7'],
      [1, '127.0.0.8'],
    ] as const) {
      const id = n === 0 ? 'eeeeeeeeeeeeeee0' : 'eeeeeeeeeeeeeee1'
      raws.push(await hereNeighbour(w, host, id, `raw${n}`))
    }
    await w.clock.advance(10)
    const now = w.clock.now()
    for (let i = 0; i < 400; i++) {
      raws[0]!.send(signedHere(key(i), `k${i}`, now))
      raws[1]!.send(signedHere(key(1000 + i), `j${i}`, now))
    }
    await w.clock.advance(10)
    // Neither sender went past its allowance: alice keeps them...
    expect(raws.map((r) => r.closed)).toEqual([false, false])
    // ...and bob, an honest neighbour, must not find alice flooding it.
    expect(bob.events.of('link-error')).toEqual([])
    expect(alice.events.of('link-error')).toEqual([])
    expect(alice.node.members().find((m) => m.peer.id === BOB)).toMatchObject({ connected: true })
  })

  it('a link that opens after the room is full, then more presence at the rate: the neighbour keeps the link', async () => {
    const w = nodeWorld()
    const alice = aliceBesideRaw(w)
    await alice.node.start()
    const raw = await hereNeighbour(w, '127.0.0.7', 'eeeeeeeeeeeeeee0')
    await w.clock.advance(10)
    // 590 members' presence, within raw's allowance.
    for (let i = 0; i < 590; i++) raw.send(signedHere(key(i), `k${i}`, w.clock.now()))
    await w.clock.advance(60_000)
    // Bob links now: alice sends him her own and the 500 freshest presences.
    const bob = signing(w, 'bob', B, BOB, { peers: [A] })
    await bob.node.start()
    await w.clock.advance(100)
    // Raw goes on at 20 a second for 20 s: within its allowance, which refilled to its burst meanwhile.
    for (let i = 0; i < 400; i++) {
      raw.send(signedHere(key(2000 + i), `n${i}`, w.clock.now()))
      await w.clock.advance(50)
    }
    expect(raw.closed).toBe(false)
    expect(bob.events.of('link-error')).toEqual([])
  })
})

describe('a hostile neighbour that fills the member table', () => {
  it('cannot make a member that left look there again by evicting it, then replaying its older presence', async () => {
    const { w, alice, raw } = await hostile({ maxOrigins: 20 })
    const t = await carolCameAndLeft(w, alice, raw)
    // Throwaway keys take every place: carol, silent since she left, goes first.
    const key = (i: number) => (0x3000000000000000n + BigInt(i)).toString(16)
    for (let i = 0; i < 40; i++) raw.send(signedHere(key(i), `k${i}`, w.clock.now()))
    await w.clock.advance(10)
    // Carol's `here` from before she left, again: still within the expiry, but older than her `gone`.
    raw.send(signedHere(CAROL, 'carol', t))
    await w.clock.advance(10)
    expect(alice.node.members().find((m) => m.peer.id === CAROL)?.present ?? false).toBe(false)
    expect(alice.events.of('member').filter((e) => e.peer.id === CAROL)).toHaveLength(1)
  })
})

describe('a hostile neighbour that keeps the member table full', () => {
  // A member known only by its presence takes only a free place, unvouched: throwaway keys cannot push a
  // vouched lurker off the table, to have it forgotten and announced again at every refresh.
  it('does not make an honest lurker announced again and again', async () => {
    const { w, alice } = await startLine({ deadAfterMs: 3_600_000, maxOrigins: 30 })
    const raw = await hereNeighbour(w, '127.0.0.9')
    // Both neighbours vouch for what they relay.
    await w.clock.advance(70_000)
    const key = (i: number) => (0x4000000000000000n + BigInt(i)).toString(16)
    // One throwaway key a second, well under the rate, for 15 minutes.
    let n = 0
    for (let s = 0; s < 900; s++) {
      raw.send(signedHere(key(n), `k${n}`, w.clock.now()))
      n++
      await w.clock.advance(1_000)
    }
    expect(raw.closed).toBe(false)
    const arrivals = alice.events.of('member').filter((e) => e.peer.id === CAROL)
    expect(arrivals.length).toBeLessThanOrEqual(1)
  })

  it('does not keep a member that only listens, two hops away, from being shown: it takes a place of those keys', async () => {
    // alice - bob - carol, and raw, linked to alice, whose throwaway keys took every free place first.
    const w = nodeWorld()
    const alice = aliceBesideRaw(w, { maxOrigins: 50 })
    const bob = signing(w, 'bob', B, BOB, { peers: [A] })
    await alice.node.start()
    await bob.node.start()
    await w.clock.advance(1000)
    const raw = await hereNeighbour(w, '127.0.0.9')
    await w.clock.advance(10)
    const key = (i: number) => (0x5000000000000000n + BigInt(i)).toString(16)
    // 48 keys take every free place, each said again every 2 minutes (under 1 a second).
    const fill = () => {
      for (let i = 0; i < 48; i++) raw.send(signedHere(key(i), `t${i}`, w.clock.now()))
    }
    fill()
    await w.clock.advance(1000)
    expect(alice.node.members()).toHaveLength(50)
    const carol = signing(w, 'carol', C, CAROL, { peers: [B] })
    await carol.node.start()
    for (let m = 0; m < 15; m++) {
      if (m % 2 === 0) fill()
      await w.clock.advance(60_000)
    }
    expect(raw.closed).toBe(false)
    expect(alice.node.members().find((m) => m.peer.id === CAROL)?.present).toBe(true)
    expect(alice.events.of('member').filter((e) => e.peer.id === CAROL)).toHaveLength(1)
    // The keys keep the other places: one went, and does not come back in carol's.
    const keys = alice.node.members().filter((m) => m.peer.id.startsWith('5')).length
    expect(keys).toBe(47)
    expect(alice.node.members()).toHaveLength(50)
  })
})

describe('a hostile neighbour that reconnects in a loop', () => {
  const MALLORY = '5555555555555555'
  const key = (i: number) => (0x6000000000000000n + BigInt(i)).toString(16)

  async function aliceCounting(extra: Partial<NodeOptions> = {}) {
    const w = nodeWorld()
    const auth = fakeAuth(ALICE)
    const alice = w.node('alice', A, { id: ALICE, auth, ...extra })
    await alice.node.start()
    await w.clock.advance(1000)
    const link = async (id = MALLORY) => {
      const m = new RawPeer(await w.network.transport('127.0.0.9', id).dial(A))
      m.hello(id, id.slice(0, 4), [ROOM_CAP, HERE_CAP])
      await w.clock.advance(0)
      m.send({ type: 'ack', upTo: 0, base: 0 })
      return m
    }
    return { w, auth, alice, link }
  }

  it('costs no signature check for presences of members the full member table has no place for', async () => {
    const { w, auth, link } = await aliceCounting({ maxOrigins: 50 })
    const first = await link()
    for (let i = 0; i < 60; i++) first.send(signedHere(key(i), `t${i}`, w.clock.now()))
    await w.clock.advance(10)
    first.link.destroy()
    await w.clock.advance(10)
    const replay = Array.from({ length: 590 }, (_, i) => signedHere(key(1000 + i), `r${i}`, w.clock.now()))
    const before = auth.verified
    for (let r = 0; r < 10; r++) {
      const m = await link()
      for (const frame of replay) m.send(frame)
      await w.clock.advance(10)
      expect(m.closed).toBe(false)
      m.link.destroy()
      await w.clock.advance(90)
    }
    expect(auth.verified - before).toBe(0)
  })

  it('has its presences read within one allowance across its links, not a fresh burst on each', async () => {
    const { w, auth, link } = await aliceCounting({ maxOrigins: 50 })
    // Its throwaway keys hold every place, and each link brings newer presences of them, each checked.
    const first = await link()
    for (let i = 0; i < 49; i++) first.send(signedHere(key(i), `t${i}`, w.clock.now()))
    await w.clock.advance(10)
    first.link.destroy()
    await w.clock.advance(10)
    const before = auth.verified
    let ts = w.clock.now()
    for (let r = 0; r < 10; r++) {
      const m = await link()
      for (let i = 0; i < 590; i++) m.send(signedHere(key(i % 49), `t${i % 49}`, ++ts))
      await w.clock.advance(10)
      // Past the allowance of its key, frames are dropped; its link is kept (an earlier release resends).
      expect(m.closed).toBe(false)
      m.link.destroy()
      await w.clock.advance(90)
    }
    // One allowance: a burst of 600 and 10 a second, whatever the number of links.
    expect(auth.verified - before).toBeLessThan(PRESENCE_DEFAULTS.rate.burst + 20)
  })

  it('is sent the presences held within one allowance across its links, not all of them on each', async () => {
    const { w, link } = await aliceCounting()
    // 400 members in the room, said by an honest relay.
    const relay = await link('7777777777777777')
    for (let i = 0; i < 400; i++) relay.send(signedHere(key(i), `m${i}`, w.clock.now()))
    await w.clock.advance(100)
    const sent: number[] = []
    for (let r = 0; r < 10; r++) {
      const m = await link()
      await w.clock.advance(10)
      sent.push(m.received.filter((f) => f.type === 'here').length)
      m.link.destroy()
      await w.clock.advance(90)
    }
    // The first link is sent all 400 and alice's own; later ones what refilled, and her own.
    expect(sent[0]).toBe(401)
    expect(sent.reduce((a, b) => a + b, 0)).toBeLessThan(600)
  })
})
