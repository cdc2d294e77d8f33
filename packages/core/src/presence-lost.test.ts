/**
 * A member killed two hops away (its link to its only neighbour broken, no `gone`): that neighbour's
 * signed notice (`lost`) tells the members behind it that it may have left, and a member that is there
 * after all answers with a fresh presence, which brings it back.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { fakeAuth, signedHere, signedLost } from '../test/fake-auth.js'
import { A, ALICE, B, BOB, C, CAROL, closeNodes, nodeWorld, rawNeighbour } from '../test/node-world.js'
import { RawPeer } from '../test/raw-peer.js'
import type { Address } from './address.js'
import { HERE_CAP, LOST_CAP, ROOM_CAP } from './links.js'
import type { NodeOptions } from './node-types.js'
import { PRESENCE_DEFAULTS } from './presence.js'
import type { Lost } from './schema.js'

afterEach(closeNodes)

const D: Address = '127.0.0.1:4004'
const DAVE = '4444444444444444'
const MALLORY = '5555555555555555'

type World = ReturnType<typeof nodeWorld>

const signing = (w: World, name: string, at: Address, id: string, extra: Partial<NodeOptions> = {}) =>
  w.node(name, at, { id, auth: fakeAuth(id), ...extra })

const present = (node: { members(): { peer: { id: string }; present?: boolean }[] }, id: string) =>
  node.members().find((m) => m.peer.id === id)?.present

/** A line alice - bob - carol: bob dials carol, so cutting carol's address cuts only that link. */
async function line() {
  const w = nodeWorld()
  const bob = signing(w, 'bob', B, BOB, { peers: [C] })
  const carol = signing(w, 'carol', C, CAROL)
  const alice = signing(w, 'alice', A, ALICE, { peers: [B] })
  await carol.node.start()
  await bob.node.start()
  await alice.node.start()
  await w.clock.advance(100)
  return { w, alice, bob, carol }
}

describe('a member whose only link breaks without a goodbye', () => {
  it('is told as having maybe left at the members behind its neighbour, and no longer shown there', async () => {
    const { w, alice, bob } = await line()
    expect(present(alice.node, CAROL)).toBe(true)
    const hereAt = alice.node.members().find((m) => m.peer.id === CAROL)?.hereAt
    w.network.partition(C)
    await w.clock.advance(100)
    // Told once it had the time to answer, if it could.
    expect(alice.events.of('member-lost')).toEqual([])
    expect(present(alice.node, CAROL)).toBe(true)
    await w.clock.advance(PRESENCE_DEFAULTS.lostGraceMs)
    expect(alice.events.of('member-lost')).toEqual([
      {
        type: 'member-lost',
        peer: { id: CAROL, name: 'carol' },
        by: { id: BOB, name: 'bob' },
        at: hereAt,
      },
    ])
    expect(present(alice.node, CAROL)).toBe(false)
    // Its neighbour tells its own loss by its link (`disconnected`), and holds it as not there either.
    expect(bob.events.of('member-lost')).toEqual([])
    expect(present(bob.node, CAROL)).toBe(false)
    expect(alice.events.of('member-left')).toEqual([])
  })

  it('is not told so when it said it left before its link ended', async () => {
    const { w, alice, carol } = await line()
    await carol.node.close('quit')
    await w.clock.advance(PRESENCE_DEFAULTS.lostGraceMs + 100)
    expect(alice.events.of('member-left').map((e) => e.peer.id)).toEqual([CAROL])
    expect(alice.events.of('member-lost')).toEqual([])
  })

  it('answers with a fresh presence when it is there through another path, and is shown there again', async () => {
    // alice - bob - carol, and carol - dave - alice: bob loses carol, who is still linked to dave.
    const w = nodeWorld()
    const carol = signing(w, 'carol', C, CAROL, { peers: [D] })
    const dave = signing(w, 'dave', D, DAVE)
    const bob = signing(w, 'bob', B, BOB, { peers: [C] })
    const alice = signing(w, 'alice', A, ALICE, { peers: [B, D] })
    for (const n of [dave, carol, bob, alice]) await n.node.start()
    await w.clock.advance(100)
    expect(present(alice.node, CAROL)).toBe(true)
    const before = alice.events.of('member').length
    w.network.partition(C)
    await w.clock.advance(PRESENCE_DEFAULTS.lostGraceMs + 100)
    // Dave, linked to carol, passed bob's notice on to her alone; her answer came back through him in
    // time: alice tells nothing (and carol's own notice about bob, answered by bob, neither).
    expect(alice.events.of('member-lost')).toEqual([])
    expect(dave.events.of('member-lost')).toEqual([])
    expect(alice.events.of('member').length).toBe(before)
    expect(present(alice.node, CAROL)).toBe(true)
    expect(present(alice.node, BOB)).toBe(true)
    // Bob, which lost its link to her, is told she is there after all.
    const back = bob.events.of('member').filter((e) => e.peer.id === CAROL && e.hereAt !== undefined)
    expect(back).toEqual([
      { type: 'member', peer: { id: CAROL, name: 'carol' }, via: 'relay', hereAt: expect.any(Number) },
    ])
    expect(present(bob.node, CAROL)).toBe(true)
  })
})

const IN = 'dddddddddddddddd'
const OUT = 'eeeeeeeeeeeeeeee'
const OLD = 'ffffffffffffffff'
const CAPS = [ROOM_CAP, HERE_CAP, LOST_CAP]

/** Alice between two raw neighbours that take presence and notices of lost links, at an hour in. */
async function aliceBetweenRaw(extra: Partial<NodeOptions> = {}) {
  const w = nodeWorld()
  const alice = signing(w, 'alice', A, ALICE, { deadAfterMs: 3_600_000, ...extra })
  await w.clock.advance(3_600_000)
  await alice.node.start()
  const from = await rawNeighbour(w, A, { host: '127.0.0.8', id: IN, caps: CAPS })
  const to = await rawNeighbour(w, A, { host: '127.0.0.9', id: OUT, caps: CAPS })
  await w.clock.advance(10)
  const lostTo = () => to.received.filter((m): m is Lost => m.type === 'lost')
  return { w, alice, from, to, lostTo }
}

describe("a neighbour's notice that it lost a member", () => {
  it('is passed on as signed, and tells the member as having maybe left', async () => {
    const { w, alice, from, lostTo } = await aliceBetweenRaw()
    const t = w.clock.now()
    from.send(signedHere(CAROL, 'carol', t))
    await w.clock.advance(10)
    from.send(signedLost(IN, CAROL, t))
    await w.clock.advance(10)
    expect(lostTo()).toEqual([signedLost(IN, CAROL, t)])
    await w.clock.advance(PRESENCE_DEFAULTS.lostGraceMs)
    expect(alice.events.of('member-lost').map((e) => [e.peer.id, e.by.id, e.at])).toEqual([[CAROL, IN, t]])
    expect(present(alice.node, CAROL)).toBe(false)
    // The same notice again, or another neighbour's about the same presence, goes no further.
    from.send(signedLost(IN, CAROL, t))
    from.send(signedLost(OUT, CAROL, t))
    await w.clock.advance(PRESENCE_DEFAULTS.lostGraceMs)
    expect(lostTo()).toHaveLength(1)
    expect(alice.events.of('member-lost')).toHaveLength(1)
    // Her next presence says she is there now.
    from.send(signedHere(CAROL, 'carol', t + 10))
    await w.clock.advance(10)
    expect(present(alice.node, CAROL)).toBe(true)
    expect(
      alice.events
        .of('member')
        .filter((e) => e.peer.id === CAROL)
        .at(-1),
    ).toEqual({
      type: 'member',
      peer: { id: CAROL, name: 'carol' },
      via: 'relay',
      hereAt: t + 10,
    })
    expect(from.closed).toBe(false)
  })

  it('is ignored when a newer presence of the member is held', async () => {
    const { w, alice, from, lostTo } = await aliceBetweenRaw()
    const t = w.clock.now()
    from.send(signedHere(CAROL, 'carol', t + 5))
    from.send(signedLost(IN, CAROL, t))
    await w.clock.advance(PRESENCE_DEFAULTS.lostGraceMs + 10)
    expect(lostTo()).toEqual([])
    expect(alice.events.of('member-lost')).toEqual([])
    expect(present(alice.node, CAROL)).toBe(true)
    expect(from.closed).toBe(false)
  })

  it('naming a presence newer than the one held, marks the one held only, and a presence after it still brings the member back', async () => {
    const { w, alice, from } = await aliceBetweenRaw()
    const t = w.clock.now()
    from.send(signedHere(CAROL, 'carol', t))
    from.send(signedLost(IN, CAROL, t + 60_000))
    await w.clock.advance(PRESENCE_DEFAULTS.lostGraceMs + 10)
    expect(alice.events.of('member-lost').map((e) => e.at)).toEqual([t])
    // The ts it named holds nothing back: a presence older than it, yet newer than the one held, counts.
    from.send(signedHere(CAROL, 'carol', t + 1))
    await w.clock.advance(10)
    expect(present(alice.node, CAROL)).toBe(true)
  })

  it('is dropped when its signer is not a member held, and about a member of whom no presence is held', async () => {
    const { w, alice, from, lostTo } = await aliceBetweenRaw()
    const t = w.clock.now()
    from.send(signedHere(CAROL, 'carol', t))
    from.send(signedLost(MALLORY, CAROL, t))
    from.send(signedLost(IN, DAVE, t))
    await w.clock.advance(PRESENCE_DEFAULTS.lostGraceMs + 10)
    expect(lostTo()).toEqual([])
    expect(alice.events.of('member-lost')).toEqual([])
    expect(alice.node.members().map((m) => m.peer.id)).not.toContain(MALLORY)
    expect(alice.node.members().map((m) => m.peer.id)).not.toContain(DAVE)
    expect(from.closed).toBe(false)
  })

  it('costs the neighbour its link when the signature is not its signer’s', async () => {
    const { w, alice, from, lostTo } = await aliceBetweenRaw()
    const t = w.clock.now()
    from.send(signedHere(CAROL, 'carol', t))
    const forged: Lost = { ...signedLost(IN, CAROL, t), from: OUT }
    from.send(forged)
    await w.clock.advance(PRESENCE_DEFAULTS.lostGraceMs + 10)
    expect(from.closed).toBe(true)
    expect(from.received.at(-1)).toMatchObject({ type: 'bye', code: 'FORGED' })
    expect(lostTo()).toEqual([])
    expect(alice.events.of('member-lost')).toEqual([])
    expect(present(alice.node, CAROL)).toBe(true)
  })

  it('about this node, is answered with a fresh presence, within an allowance', async () => {
    const { w, from, to } = await aliceBetweenRaw()
    const heres = () => to.received.filter((m) => m.type === 'here' && m.from === ALICE).length
    const before = heres()
    const t = w.clock.now()
    for (let i = 0; i < 50; i++) from.send(signedLost(IN, ALICE, t - i))
    await w.clock.advance(10)
    expect(heres() - before).toBeGreaterThan(0)
    expect(heres() - before).toBeLessThanOrEqual(5)
    expect(from.closed).toBe(false)
  })

  it('goes on for a member at most as often as its presence does, however often a neighbour says so', async () => {
    const { w, from, lostTo } = await aliceBetweenRaw()
    const t = w.clock.now()
    for (let i = 1; i <= 40; i++) {
      from.send(signedHere(CAROL, 'carol', t + i))
      from.send(signedLost(IN, CAROL, t + i))
    }
    await w.clock.advance(10)
    expect(lostTo().length).toBeGreaterThan(0)
    expect(lostTo().length).toBeLessThanOrEqual(6)
    expect(from.closed).toBe(false)
  })

  it('is never sent to a neighbour that does not announce the lost cap', async () => {
    const { w, bob } = await line()
    const old = await rawNeighbour(w, B, { host: '127.0.0.7', id: OLD, caps: [ROOM_CAP, HERE_CAP] })
    const fresh = await rawNeighbour(w, B, { host: '127.0.0.8', id: IN, caps: CAPS })
    await w.clock.advance(100)
    expect(old.received.some((m) => m.type === 'here' && m.from === CAROL)).toBe(true)
    w.network.partition(C)
    await w.clock.advance(PRESENCE_DEFAULTS.lostGraceMs + 100)
    expect(bob.events.of('disconnected').map((e) => e.peer.id)).toContain(CAROL)
    expect(fresh.received.filter((m) => m.type === 'lost').map((m) => [m.from, m.member])).toEqual([
      [BOB, CAROL],
    ])
    expect(old.types()).not.toContain('lost')
    // Nor, on opening, the presence of a member lost: alone it would say the member is there.
    const late = await rawNeighbour(w, B, { host: '127.0.0.6', id: MALLORY, caps: [ROOM_CAP, HERE_CAP] })
    await w.clock.advance(100)
    expect(late.received.some((m) => m.type === 'here' && m.from === CAROL)).toBe(false)
    expect(late.types()).not.toContain('lost')
  })

  it('is not sent about a member of an earlier release, which could not answer it while still there', async () => {
    const { w, alice } = await line()
    const old = await rawNeighbour(w, B, { host: '127.0.0.7', id: OLD, caps: [ROOM_CAP, HERE_CAP] })
    const fresh = await rawNeighbour(w, B, { host: '127.0.0.8', id: IN, caps: CAPS })
    await w.clock.advance(10)
    old.send(signedHere(OLD, 'old', w.clock.now()))
    fresh.send(signedHere(IN, 'fresh', w.clock.now()))
    await w.clock.advance(10)
    expect([present(alice.node, OLD), present(alice.node, IN)]).toEqual([true, true])
    old.link.destroy()
    fresh.link.destroy()
    await w.clock.advance(PRESENCE_DEFAULTS.lostGraceMs + 100)
    expect(alice.events.of('member-lost').map((e) => e.peer.id)).toEqual([IN])
    expect([present(alice.node, OLD), present(alice.node, IN)]).toEqual([true, false])
  })
})

describe('a neighbour that links, says it is there and breaks its link, ten times a second', () => {
  it('has the notices of its lost links go on at its own rate, never crowding out the other members’ presences', async () => {
    // carol - alice - dave; mallory links to alice over and over, and each break makes alice sign a notice.
    const w = nodeWorld()
    const carol = signing(w, 'carol', C, CAROL, { peers: [A] })
    const dave = signing(w, 'dave', D, DAVE, { peers: [A] })
    const alice = signing(w, 'alice', A, ALICE, { deadAfterMs: 3_600_000 })
    for (const n of [alice, carol, dave]) await n.node.start()
    const watcher = await rawNeighbour(w, A, { host: '127.0.0.8', id: IN, caps: CAPS })
    await w.clock.advance(1000)
    const shownGone: number[] = []
    for (let s = 0; s < 1500; s++) {
      for (let i = 0; i < 10; i++) {
        const mallory = new RawPeer(await w.network.transport('127.0.0.9', MALLORY).dial(A))
        mallory.hello(MALLORY, 'mallory', CAPS)
        await w.clock.advance(0)
        mallory.send({ type: 'ack', upTo: 0, base: 0 })
        mallory.send(signedHere(MALLORY, 'mallory', w.clock.now()))
        await w.clock.advance(1)
        mallory.link.destroy() // a broken link, no bye
        await w.clock.advance(99)
      }
      if (present(dave.node, CAROL) !== true) shownGone.push(s)
    }
    expect(shownGone).toEqual([])
    // Its burst, one burst of debt, then about one per refill (1500 s at one per 144 s): not one per break.
    const notices = watcher.received.filter((m) => m.type === 'lost' && m.member === MALLORY).length
    expect(notices).toBeGreaterThan(0)
    expect(notices).toBeLessThan(30)
    expect(watcher.closed).toBe(false)
  }, 120_000)
})

describe('notices about a member proved wrong', () => {
  it('make the neighbour that passed one on doubted about that member for 10 minutes, not about others, and not for good', async () => {
    const { w, alice, from } = await aliceBetweenRaw()
    const SIGNER = '6000000000000001'
    const t = w.clock.now()
    for (const [id, name] of [
      [CAROL, 'carol'],
      [DAVE, 'dave'],
      [SIGNER, 'signer'],
    ] as const)
      from.send(signedHere(id, name, t))
    await w.clock.advance(10)
    // A mistaken notice, passed on by `from`, that carol answers in time.
    from.send(signedLost(SIGNER, CAROL, t))
    await w.clock.advance(1000)
    from.send(signedHere(CAROL, 'carol', w.clock.now()))
    await w.clock.advance(PRESENCE_DEFAULTS.lostGraceMs + 10)
    expect(present(alice.node, CAROL)).toBe(true)
    // Its notices about carol are not believed for a while, whoever signed them; about dave they are.
    from.send(signedLost(IN, CAROL, alice.node.members().find((m) => m.peer.id === CAROL)?.hereAt ?? 0))
    from.send(signedLost(IN, DAVE, t))
    await w.clock.advance(PRESENCE_DEFAULTS.lostGraceMs + 10)
    expect(alice.events.of('member-lost').map((e) => e.peer.id)).toEqual([DAVE])
    expect(present(alice.node, CAROL)).toBe(true)
    // Ten minutes on (carol's presence refreshed meanwhile), it is believed again: her real departure is told.
    await w.clock.advance(PRESENCE_DEFAULTS.expiryMs / 2)
    const refreshed = w.clock.now()
    from.send(signedHere(CAROL, 'carol', refreshed))
    await w.clock.advance(PRESENCE_DEFAULTS.expiryMs / 2)
    from.send(signedLost(IN, CAROL, refreshed))
    await w.clock.advance(PRESENCE_DEFAULTS.lostGraceMs + 10)
    expect(alice.events.of('member-lost').map((e) => e.peer.id)).toEqual([DAVE, CAROL])
    expect(present(alice.node, CAROL)).toBe(false)
    expect(from.closed).toBe(false)
  })
})
