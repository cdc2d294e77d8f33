import { describe, expect, it } from 'vitest'
import { fakeAuth, signedWriter as writer } from '../test/fake-auth.js'
import type { PeerInfo } from './peer-machine.js'
import { type MessageAuth, type Refusal, Room, type RoomEffect, type RoomOptions } from './room.js'
import type { Msg } from './schema.js'

const id = (c: string) => c.repeat(64)
const ALICE: PeerInfo = { id: id('a'), name: 'alice' }
const BOB: PeerInfo = { id: id('b'), name: 'bob' }
const CAROL: PeerInfo = { id: id('c'), name: 'carol' }
const DAVE: PeerInfo = { id: id('d'), name: 'dave' }
const EVE: PeerInfo = { id: id('e'), name: 'eve' }

/** The origin's side: a Room that composes and seals messages, as a node does. */
function author(peer: PeerInfo, auth?: MessageAuth) {
  const room = new Room({ self: peer, ...(auth ? { auth } : {}) })
  let n = 0
  return {
    /** One burst: every message but the last is unsigned, the last carries the signature. */
    burst(...bodies: string[]): Msg[] {
      for (const body of bodies) room.compose({ id: `${peer.name}-${++n}`, ts: n, body, name: peer.name })
      const sealed = room.seal()
      room.ownDurable(room.nextSeq - 1)
      return sealed
    },
  }
}

/** The relaying node under test, with neighbours already linked and resumed. */
function relay(options: Partial<RoomOptions> = {}, neighbors: PeerInfo[] = [ALICE, CAROL]) {
  const room = new Room({ self: BOB, ...options })
  for (const n of neighbors) {
    room.linkOpened(n.id, { name: n.name, relays: true })
    room.onAck(n.id, { type: 'ack', upTo: 0 })
  }
  return room
}

/** The room's effects, gathered by kind, with the opening ack's maps merged. */
function outcomeOf(effects: RoomEffect[]) {
  const accepted: Msg[] = []
  const joined: PeerInfo[] = []
  const jumps: { peer: PeerInfo; seq: number }[] = []
  const refusals: Refusal[] = []
  let base: number | undefined
  const have: Record<string, number> = {}
  const bases: Record<string, number> = {}
  for (const effect of effects) {
    if (effect.type === 'accept') accepted.push(effect.msg)
    else if (effect.type === 'join') joined.push(effect.peer)
    else if (effect.type === 'jump') jumps.push({ peer: effect.peer, seq: effect.seq })
    else if (effect.type === 'refuse') refusals.push(effect.refusal)
    else if (effect.type === 'send') {
      base ??= effect.message.base
      Object.assign(have, effect.message.have)
      Object.assign(bases, effect.message.bases)
    }
  }
  return { accepted, joined, jumps, refusals, base, have, bases }
}

/** Accepts and shows, as the node does once the journal has the messages. */
function take(room: Room, from: string, msgs: Msg[], trusted = false) {
  const accepted: Msg[] = []
  const refusals: string[] = []
  for (const msg of msgs) {
    const out = outcomeOf(room.receive(from, msg, trusted))
    accepted.push(...out.accepted)
    refusals.push(...out.refusals.map((r) => `${r.code}:${r.neighbor.slice(0, 1)}`))
    for (const m of out.accepted) room.markShown(m.from, m.seq)
  }
  return { bodies: accepted.map((m) => m.body), refusals }
}

const sent = (room: Room, to: string) =>
  [...room.outgoing(to)].map((o) =>
    o.kind === 'msg' ? `${o.msg.body}@${o.msg.hops ?? '-'}` : `base ${o.seq}`,
  )

describe('Room: one room across the mesh', () => {
  describe('names', () => {
    /** Who each message of `msgs`, relayed by carol, is shown as sent by. */
    const shownAs = (room: Room, msgs: Msg[]) =>
      msgs.flatMap((msg) => {
        const effects = room.receive(CAROL.id, msg, false)
        for (const e of effects) if (e.type === 'accept') room.markShown(e.msg.from, e.msg.seq)
        return effects.flatMap((e) => (e.type === 'accept' ? [`${e.from.name}: ${e.msg.body}`] : []))
      })

    it("keeps what an origin wrote before its latest hello under that hello's name, once its link is gone too", () => {
      const room = relay({ auth: fakeAuth(BOB.id) }, [CAROL])
      // Dave linked to us as "david", saying his first two messages were written before that hello.
      room.linkOpened(DAVE.id, { name: 'david', relays: true, namedUpTo: 2 })
      room.linkClosed(DAVE.id)
      const dave = author(DAVE, fakeAuth(DAVE.id))
      // Both signed "dave", relayed by carol: the older name; the third, written after, renames him.
      expect(shownAs(room, dave.burst('one', 'two'))).toEqual(['david: one', 'david: two'])
      expect(shownAs(room, dave.burst('three'))).toEqual(['dave: three'])
    })
  })

  describe('without a MessageAuth', () => {
    it('shows a message once however many neighbours send it', () => {
      const room = relay()
      const [m1] = author(DAVE).burst('hi')
      expect(take(room, ALICE.id, [m1!]).bodies).toEqual(['hi'])
      expect(take(room, CAROL.id, [m1!]).bodies).toEqual([])
      expect(take(room, ALICE.id, [m1!]).bodies).toEqual([])
    })

    it('holds a message that arrives early and shows it in the origin’s order once the gap fills', () => {
      const room = relay()
      const msgs = author(DAVE).burst('one', 'two', 'three')
      expect(take(room, ALICE.id, [msgs[2]!, msgs[1]!]).bodies).toEqual([])
      expect(room.waitingCount).toBe(2)
      expect(take(room, CAROL.id, [msgs[0]!]).bodies).toEqual(['one', 'two', 'three'])
      expect(room.waitingCount).toBe(0)
    })

    it('never takes back its own messages from a relay', () => {
      const room = relay()
      const own = author(BOB).burst('mine')
      expect(take(room, ALICE.id, own).bodies).toEqual([])
    })
  })

  describe('forwarding', () => {
    it('forwards a shown message to every neighbour but the one it came from and its origin', () => {
      const room = relay({}, [ALICE, CAROL, DAVE])
      const [m] = author(DAVE).burst('from dave')
      take(room, ALICE.id, [m!])
      expect(sent(room, ALICE.id)).toEqual([])
      expect(sent(room, DAVE.id)).toEqual([])
      expect(sent(room, CAROL.id)).toEqual(['from dave@63'])
      // Written once on a link, never again.
      expect(sent(room, CAROL.id)).toEqual([])
    })

    it('forwards a checked message before it is durable, but claims it in acks only once shown', () => {
      const room = relay()
      const [m] = author(DAVE).burst('not durable yet')
      expect(outcomeOf(room.receive(ALICE.id, m!, false)).accepted).toHaveLength(1)
      // The neighbour that sent it keeps it until we ack it, so it may go on before the journal has it.
      expect(sent(room, CAROL.id)).toEqual(['not durable yet@63'])
      expect(room.shownOf(DAVE.id)).toBe(0)
      room.linkOpened(EVE.id, { name: 'eve', relays: true })
      expect(room.haveDelta(EVE.id)).toEqual({})
      room.markShown(DAVE.id, 1)
      expect(room.haveDelta(EVE.id)).toEqual({ [DAVE.id]: 1 })
      expect(sent(room, CAROL.id)).toEqual([])
    })

    it('keeps its own messages back until they are durable', () => {
      const room = relay()
      room.compose({ id: 'own-1', ts: 1, body: 'mine', name: 'bob' })
      room.seal()
      expect(sent(room, CAROL.id)).toEqual([])
      room.ownDurable(1)
      expect(sent(room, CAROL.id)).toEqual(['mine@-'])
    })

    it('skips what a neighbour said it has, and resumes a new link where the ack on that link says', () => {
      const room = relay()
      const msgs = author(DAVE).burst('1', '2', '3')
      take(room, ALICE.id, msgs)
      room.onAck(CAROL.id, { type: 'ack', upTo: 0, have: { [DAVE.id]: 2 } })
      expect(sent(room, CAROL.id)).toEqual(['3@63'])

      room.linkClosed(CAROL.id)
      room.linkOpened(CAROL.id, { name: 'carol', relays: true })
      expect(sent(room, CAROL.id)).toEqual([])
      room.onAck(CAROL.id, { type: 'ack', upTo: 0, have: { [DAVE.id]: 1 }, more: true })
      expect(sent(room, CAROL.id)).toEqual([])
      room.onAck(CAROL.id, { type: 'ack', upTo: 0 })
      // What it said on the old link went with that link: a resent copy is dropped by its seq.
      expect(sent(room, CAROL.id)).toEqual(['2@63', '3@63'])
    })

    it('sends a neighbour that does not speak the room protocol only our own messages', () => {
      const room = new Room({ self: BOB })
      room.linkOpened(CAROL.id, { name: 'carol', relays: false })
      room.onAck(CAROL.id, { type: 'ack', upTo: 0 })
      room.linkOpened(ALICE.id, { name: 'alice', relays: true })
      room.onAck(ALICE.id, { type: 'ack', upTo: 0 })
      take(room, ALICE.id, author(DAVE).burst('relayed'))
      room.compose({ id: 'b1', ts: 1, body: 'own' })
      room.seal()
      room.ownDurable(1)
      expect(sent(room, CAROL.id)).toEqual(['own@-'])
    })

    it('tells each neighbour what changed since its last ack, and everything on a new link', () => {
      const room = relay()
      take(room, ALICE.id, author(DAVE).burst('d1', 'd2'))
      expect(room.haveDelta(CAROL.id)).toEqual({ [DAVE.id]: 2 })
      expect(room.haveDelta(CAROL.id)).toEqual({})
      take(room, CAROL.id, author(EVE).burst('e1'))
      // Carol sent it, and Alice was sent it: neither is told what she knows already.
      expect(room.haveDelta(CAROL.id)).toEqual({})
      expect([...room.outgoing(ALICE.id)]).toHaveLength(1)
      expect(room.haveDelta(ALICE.id)).toEqual({})
      // Nobody is told about its own stream.
      expect(room.haveDelta(DAVE.id)).toEqual({})
      const opening = outcomeOf(room.linkOpened(CAROL.id, { name: 'carol', relays: true }))
      expect(opening.have).toEqual({ [DAVE.id]: 2, [EVE.id]: 1 })
    })
  })

  describe('hop limit', () => {
    it('forwards with one hop fewer and stops when none is left', () => {
      const room = relay()
      const [m1, m2] = author(DAVE).burst('far', 'near')
      take(room, ALICE.id, [
        { ...m1!, hops: 1 },
        { ...m2!, hops: 2 },
      ])
      expect(sent(room, CAROL.id)).toEqual(['near@1'])
    })

    it('counts the shorter path when a second copy has more hops left', () => {
      const room = relay()
      const [m] = author(DAVE).burst('late copy')
      take(room, ALICE.id, [{ ...m!, hops: 1 }])
      take(room, DAVE.id, [m!])
      expect(sent(room, CAROL.id)).toEqual(['late copy@63'])
    })

    it('caps what a message claims at the hop limit', () => {
      const room = relay({ hopLimit: 3 })
      take(room, ALICE.id, [{ ...author(DAVE).burst('x')[0]!, hops: 200 }])
      expect(sent(room, CAROL.id)).toEqual(['x@2'])
    })
  })

  describe('memory of idle links', () => {
    it('holds per-origin entries linear in its neighbours, not one per pair, once their links resumed', () => {
      const room = new Room({ self: BOB })
      const hub = Array.from({ length: 200 }, (_, i) => ({
        id: i.toString(16).padStart(64, '0'),
        name: `n${i}`,
      }))
      for (const n of hub) {
        room.linkOpened(n.id, { name: n.name, relays: true })
        room.onAck(n.id, { type: 'ack', upTo: 0 })
      }
      const { neighbors } = room as unknown as { neighbors: Map<string, Record<string, unknown>> }
      expect(neighbors.size).toBe(hub.length)
      let entries = 0
      for (const neighbor of neighbors.values())
        for (const value of Object.values(neighbor)) if (value instanceof Map) entries += value.size
      // Each link opened while up to 199 others were known: held per pair, that would be about 20,000.
      expect(entries).toBeLessThanOrEqual(2 * hub.length)
    })
  })

  describe('window and catch-up', () => {
    it('keeps the newest windowSize messages per origin and says where its window starts on a new link', () => {
      const room = relay({ windowSize: 3 }, [ALICE])
      take(room, ALICE.id, author(DAVE).burst('1', '2', '3', '4', '5'))
      expect(room.logOf(DAVE.id).map((m) => m.body)).toEqual(['3', '4', '5'])
      const opening = outcomeOf(room.linkOpened(EVE.id, { name: 'eve', relays: true }))
      expect(opening.bases).toEqual({ [DAVE.id]: 2 })
      room.onAck(EVE.id, { type: 'ack', upTo: 0 })
      expect(sent(room, EVE.id)).toEqual(['3@63', '4@63', '5@63'])
    })

    it('catches up a neighbour that has part of the window, from where it stopped', () => {
      const room = relay({ windowSize: 3 })
      take(room, ALICE.id, author(DAVE).burst('1', '2', '3', '4', '5'))
      room.onAck(CAROL.id, { type: 'ack', upTo: 0, have: { [DAVE.id]: 4 } })
      expect(sent(room, CAROL.id)).toEqual(['5@63'])
    })

    it('jumps past what left every window once the neighbour sends what follows, and persists the jump', () => {
      const room = relay()
      const dave = author(DAVE)
      take(room, ALICE.id, dave.burst('1'))
      const later = dave.burst('2', '3', '4')
      room.onAck(CAROL.id, { type: 'ack', upTo: 0, bases: { [DAVE.id]: 2 } })
      expect(room.receivedOf(DAVE.id)).toBe(1)
      const out = outcomeOf(room.receive(CAROL.id, later[1]!, false))
      expect(out.jumps).toEqual([{ peer: expect.objectContaining({ id: DAVE.id }), seq: 2 }])
      expect(out.accepted.map((m) => m.body)).toEqual(['3'])
      expect(outcomeOf(room.receive(ALICE.id, later[0]!, false)).accepted).toEqual([])
    })

    it('holds messages a connected neighbour still needs, up to twice the window', () => {
      const room = relay({ windowSize: 2 }, [ALICE, CAROL])
      take(room, ALICE.id, author(DAVE).burst('1', '2', '3', '4'))
      expect(room.logOf(DAVE.id)).toHaveLength(4)
      expect(sent(room, CAROL.id)).toEqual(['1@63', '2@63', '3@63', '4@63'])
      expect(room.logOf(DAVE.id).map((m) => m.body)).toEqual(['3', '4'])
    })

    it('tells a neighbour that falls further behind than that to jump', () => {
      const room = relay({ windowSize: 2 }, [ALICE, CAROL])
      // Carol's link carries nothing (she does not read) while the window moves on.
      take(room, ALICE.id, author(DAVE).burst('1', '2', '3', '4', '5', '6'))
      const out = [...room.outgoing(CAROL.id)].map((o) => (o.kind === 'msg' ? o.msg.seq : `base ${o.seq}`))
      expect(out).toEqual(['base 2', 3, 4, 5, 6])
    })

    it('lists the outbox between two seqs without settled messages or ones past the range', () => {
      const room = new Room({ self: BOB, windowSize: 3 })
      for (const body of ['1', '2', '3', '4', '5', '6']) room.compose({ id: body, ts: 0, body })
      room.seal()
      room.ownDurable(6)
      room.settleOwn(2)
      const bodies = (after: number, upTo: number) => room.outboxBetween(after, upTo).map((m) => m.body)
      expect(bodies(0, 6)).toEqual(['3', '4', '5', '6'])
      expect(bodies(3, 5)).toEqual(['4', '5'])
      expect(bodies(5, 9)).toEqual(['6'])
      expect(bodies(4, 4)).toEqual([])
      expect(bodies(6, 6)).toEqual([])
      room.settleOwn(6)
      expect(bodies(0, 6)).toEqual([])
      expect(new Room({ self: BOB }).outboxBetween(0, 5)).toEqual([])
    })

    it('gives a new neighbour our recent messages, but one that restarted without its journal only the outbox', () => {
      const room = new Room({ self: BOB })
      room.linkOpened(ALICE.id, { name: 'alice', relays: true })
      room.onAck(ALICE.id, { type: 'ack', upTo: 0 })
      take(room, ALICE.id, author(DAVE).burst('d1'))
      for (const body of ['1', '2']) room.compose({ id: body, ts: 0, body })
      room.seal()
      room.ownDurable(2)
      room.settleOwn(1)
      expect(room.outbox.map((m) => m.body)).toEqual(['2'])
      expect(room.pending).toBe(1)

      expect(outcomeOf(room.linkOpened(CAROL.id, { name: 'carol', relays: true }))).toMatchObject({
        base: 0,
        bases: {},
      })
      room.onAck(CAROL.id, { type: 'ack', upTo: 0 })
      expect(sent(room, CAROL.id)).toEqual(['1@-', '2@-', 'd1@63'])

      room.peerRestarted(CAROL.id)
      const opening = outcomeOf(room.linkOpened(CAROL.id, { name: 'carol', relays: true }))
      expect(opening).toMatchObject({ base: 1, bases: { [DAVE.id]: 1 } })
      room.onAck(CAROL.id, { type: 'ack', upTo: 0 })
      expect(sent(room, CAROL.id)).toEqual(['2@-'])
    })
  })

  describe('signed origins', () => {
    const signedRelay = (neighbors = [ALICE, CAROL, EVE]) => relay({ auth: fakeAuth(BOB.id) }, neighbors)

    it('signs only the last message of a burst, and chains every message to the one before', () => {
      const auth = fakeAuth(DAVE.id)
      const dave = author(DAVE, auth)
      const first = dave.burst('a', 'b', 'c')
      const second = dave.burst('d')
      expect(first.map((m) => m.sig !== undefined)).toEqual([false, false, true])
      expect(second[0]?.sig).toBeDefined()
      expect(auth.signed).toBe(2)
      expect(first[0]?.prev).toBe(auth.genesis(DAVE.id))
      expect(first[1]?.prev).toBe(auth.chain(first[0]!.prev!, first[0]!))
      expect(second[0]?.prev).toBe(auth.chain(first[2]!.prev!, first[2]!))
    })

    it('holds relayed messages unshown until a signed message of their origin vouches for them', () => {
      const room = signedRelay()
      const msgs = author(DAVE, fakeAuth(DAVE.id)).burst('a', 'b', 'c')
      expect(take(room, ALICE.id, msgs.slice(0, 2)).bodies).toEqual([])
      expect(sent(room, CAROL.id)).toEqual([])
      expect(take(room, ALICE.id, msgs.slice(2)).bodies).toEqual(['a', 'b', 'c'])
      expect(sent(room, CAROL.id)).toEqual(['a@63', 'b@63', 'c@63'])
    })

    it('shows a message straight from its origin at once, and relays it once its burst is signed', () => {
      const room = signedRelay([ALICE, CAROL, DAVE])
      const msgs = author(DAVE, fakeAuth(DAVE.id)).burst('a', 'b')
      expect(take(room, DAVE.id, msgs.slice(0, 1), true).bodies).toEqual(['a'])
      expect(sent(room, CAROL.id)).toEqual([])
      expect(take(room, DAVE.id, msgs.slice(1), true).bodies).toEqual(['b'])
      expect(sent(room, CAROL.id)).toEqual(['a@63', 'b@63'])
    })

    it('closes a relay that altered a body, drops what it sent, and takes the honest copy', () => {
      const room = signedRelay()
      const msgs = author(DAVE, fakeAuth(DAVE.id)).burst('pay alice', 'thanks')
      const altered = [{ ...msgs[0]!, body: 'pay eve' }, msgs[1]!]
      const fromEve = take(room, EVE.id, altered)
      expect(fromEve).toEqual({ bodies: [], refusals: ['FORGED:e'] })
      expect(room.waitingCount).toBe(0)
      expect(take(room, ALICE.id, msgs).bodies).toEqual(['pay alice', 'thanks'])
    })

    it('keeps the honest copy that arrived while a forged one was waiting for the same seq', () => {
      const room = signedRelay()
      const msgs = author(DAVE, fakeAuth(DAVE.id)).burst('one', 'two')
      take(room, EVE.id, [{ ...msgs[0]!, body: 'forged one' }])
      take(room, ALICE.id, [msgs[0]!])
      const last = take(room, EVE.id, [msgs[1]!])
      expect(last.refusals).toEqual(['FORGED:e'])
      expect(take(room, ALICE.id, [msgs[1]!]).bodies).toEqual(['one', 'two'])
    })

    it('closes a relay that invents a message of a member, and forgets an origin only it spoke of', () => {
      const room = signedRelay()
      take(room, ALICE.id, author(DAVE, fakeAuth(DAVE.id)).burst('real'))
      const invented: Msg = {
        type: 'msg',
        id: 'x',
        seq: 2,
        ts: 0,
        from: DAVE.id,
        body: 'I owe eve',
        prev: 'ab',
        sig: 'sig:forged',
      }
      expect(take(room, EVE.id, [invented]).refusals).toEqual(['FORGED:e'])
      const ghost: Msg = { ...invented, from: id('f'), seq: 1, body: 'who am I' }
      expect(take(room, EVE.id, [ghost]).refusals).toEqual(['FORGED:e'])
      expect(room.members().map((m) => m.peer.name)).not.toContain('f'.repeat(8))
      expect(room.peerOf(id('f'))).toBeUndefined()
    })

    it('closes a relay whose messages break the chain even when each would sign', () => {
      const room = signedRelay()
      const dave = author(DAVE, fakeAuth(DAVE.id))
      const [a] = dave.burst('a')
      const [b] = dave.burst('b')
      const [c] = dave.burst('c')
      take(room, ALICE.id, [a!])
      // A relay that drops b and renumbers c as 2 breaks the seqs the signature covers.
      expect(take(room, EVE.id, [{ ...c!, seq: 2 }]).refusals).toEqual(['FORGED:e'])
      expect(take(room, ALICE.id, [b!, c!]).bodies).toEqual(['b', 'c'])
    })

    it('takes a signed chain that does not extend the head it knew: the origin restarted, not a forgery', () => {
      const room = signedRelay()
      take(room, ALICE.id, author(DAVE, fakeAuth(DAVE.id)).burst('1', '2'))
      const reborn = author(DAVE, fakeAuth(DAVE.id))
      reborn.burst('old 1', 'old 2')
      expect(take(room, ALICE.id, reborn.burst('3')).bodies).toEqual(['3'])
    })

    it('reports an origin whose own signature fails, but keeps what it said over its authenticated link', () => {
      const room = signedRelay([ALICE, CAROL, DAVE])
      const [m] = author(DAVE, fakeAuth(DAVE.id)).burst('signed badly')
      const out = take(room, DAVE.id, [{ ...m!, sig: 'sig:nonsense' }], true)
      expect(out).toEqual({ bodies: ['signed badly'], refusals: ['FORGED:d'] })
      expect(sent(room, CAROL.id)).toEqual([])
    })

    describe('with nobody to relay to', () => {
      /** Bob's only neighbour is Dave, the origin; Carol links later. */
      const alone = (windowSize?: number) => {
        const auth = fakeAuth(BOB.id)
        const room = relay({ auth, ...(windowSize ? { windowSize } : {}) }, [DAVE])
        const carolLinks = () => {
          const opening = outcomeOf(room.linkOpened(CAROL.id, { name: 'carol', relays: true }))
          room.onAck(CAROL.id, { type: 'ack', upTo: 0 })
          return opening.refusals.map((r) => `${r.code}:${r.neighbor.slice(0, 1)}`)
        }
        return { room, auth, carolLinks }
      }

      it('shows the origin’s words without hashing or verifying them', () => {
        const { room, auth } = alone()
        const out = take(room, DAVE.id, author(DAVE, fakeAuth(DAVE.id)).burst('1', '2', '3'), true)
        expect(out).toEqual({ bodies: ['1', '2', '3'], refusals: [] })
        expect(auth.verified).toBe(0)
      })

      it('checks them once a neighbour that relays links, and then relays them', () => {
        const { room, auth, carolLinks } = alone()
        const dave = author(DAVE, fakeAuth(DAVE.id))
        take(room, DAVE.id, [...dave.burst('1', '2'), ...dave.burst('3')], true)
        expect(carolLinks()).toEqual([])
        expect(auth.verified).toBe(1)
        expect(sent(room, CAROL.id)).toEqual(['1@63', '2@63', '3@63'])
        // From now on each message is checked as it comes.
        take(room, DAVE.id, dave.burst('4'), true)
        expect(auth.verified).toBe(2)
        expect(sent(room, CAROL.id)).toEqual(['4@63'])
      })

      it('refuses the origin when a neighbour links and its signature does not check, and relays none of it', () => {
        const { room, carolLinks } = alone()
        const [m] = author(DAVE, fakeAuth(DAVE.id)).burst('signed badly')
        expect(take(room, DAVE.id, [{ ...m!, sig: 'sig:nonsense' }], true).refusals).toEqual([])
        expect(carolLinks()).toEqual(['FORGED:d'])
        expect(sent(room, CAROL.id)).toEqual([])
      })

      it('refuses the origin when a neighbour links and its chain is broken', () => {
        const { room, carolLinks } = alone()
        const msgs = author(DAVE, fakeAuth(DAVE.id)).burst('1', '2', '3')
        take(room, DAVE.id, [msgs[0]!, { ...msgs[1]!, prev: msgs[0]!.prev! }, msgs[2]!], true)
        expect(carolLinks()).toEqual(['FORGED:d'])
        expect(sent(room, CAROL.id)).toEqual([])
      })

      it('keeps only its window of them, and a neighbour that links later gets that window', () => {
        const { room, carolLinks } = alone(3)
        const dave = author(DAVE, fakeAuth(DAVE.id))
        for (let i = 1; i <= 10; i++) take(room, DAVE.id, dave.burst(String(i)), true)
        expect(carolLinks()).toEqual([])
        expect(room.logOf(DAVE.id).map((m) => m.body)).toEqual(['8', '9', '10'])
        expect(sent(room, CAROL.id)).toEqual(['8@63', '9@63', '10@63'])
      })
    })

    it('shows what a neighbour that does not sign (an older parley) says itself, and never relays it', () => {
      const room = signedRelay([ALICE, CAROL, DAVE])
      const out = take(room, DAVE.id, author(DAVE).burst('from an old version'), true)
      expect(out).toEqual({ bodies: ['from an old version'], refusals: [] })
      expect(sent(room, CAROL.id)).toEqual([])
    })

    it('refuses a relayed message without a chain hash, which nothing could vouch for', () => {
      const room = signedRelay()
      const [m] = author(DAVE).burst('no signature')
      expect(take(room, ALICE.id, [m!])).toEqual({ bodies: [], refusals: ['FORGED:a'] })
    })

    it('forgets what a closed link left waiting', () => {
      const room = signedRelay()
      const msgs = author(DAVE, fakeAuth(DAVE.id)).burst('a', 'b')
      take(room, ALICE.id, msgs.slice(0, 1))
      expect(room.waitingCount).toBe(1)
      room.linkClosed(ALICE.id)
      expect(room.waitingCount).toBe(0)
      expect(room.members().map((m) => m.peer.name)).toEqual(['alice', 'carol', 'eve'])
    })
  })

  describe('bounds', () => {
    it('refuses a relay that introduces a member beyond maxOrigins', () => {
      const room = relay({ maxOrigins: 3 })
      take(room, ALICE.id, author(DAVE).burst('d'))
      expect(take(room, ALICE.id, author(EVE).burst('e')).refusals).toEqual(['TOO_MANY_ORIGINS:a'])
    })

    it('refuses a relay that floods the buffer with messages it cannot show', () => {
      const room = relay({ waitingCap: 3 })
      const msgs = author(DAVE).burst('1', '2', '3', '4', '5', '6')
      expect(take(room, ALICE.id, msgs.slice(1, 4)).refusals).toEqual([])
      expect(take(room, ALICE.id, msgs.slice(4, 5)).refusals).toEqual(['FLOOD:a'])
      expect(room.waitingCount).toBe(0)
      // Nothing of the refused message is left behind: the rest of the room goes on.
      expect(take(room, CAROL.id, msgs).bodies).toEqual(['1', '2', '3', '4', '5', '6'])
    })
  })

  describe('members', () => {
    it('lists neighbours as direct and relayed origins as reachable while a relaying neighbour is up', () => {
      const room = relay()
      take(room, ALICE.id, author(DAVE).burst('hi'))
      room.linkClosed(CAROL.id)
      expect(room.members()).toEqual([
        { peer: ALICE, direct: true, connected: true },
        // Its link is down, while alice relays: its messages may come that way.
        { peer: CAROL, direct: true, connected: false, throughMesh: true },
        { peer: DAVE, direct: false, connected: true },
      ])
    })

    it('does not say a neighbour restored from the journal is reached through the mesh: it has not linked since', () => {
      const dave = author(DAVE).burst('d1')
      const room = new Room(
        { self: BOB },
        { nextSeq: 1, outbox: [], origins: [{ peer: DAVE, received: 1, log: dave, neighbor: true }] },
      )
      room.linkOpened(ALICE.id, { name: 'alice', relays: true })
      room.onAck(ALICE.id, { type: 'ack', upTo: 0 })
      expect(room.members().find((m) => m.peer.id === DAVE.id)).toEqual({
        peer: DAVE,
        direct: true,
        connected: false,
      })
      // Its next message, through alice, says the mesh reaches it.
      const later = author(DAVE)
      later.burst('d1')
      expect(outcomeOf(room.receive(ALICE.id, later.burst('d2')[0]!, false)).accepted).toHaveLength(1)
      expect(room.members().find((m) => m.peer.id === DAVE.id)).toMatchObject({ throughMesh: true })
      // As after a link of its own that dropped without a leaving bye.
      room.linkOpened(DAVE.id, { name: 'dave', relays: true })
      room.linkClosed(DAVE.id)
      expect(room.members().find((m) => m.peer.id === DAVE.id)).toMatchObject({ throughMesh: true })
    })

    it('reports a relayed member once, with the name it signed', () => {
      const room = relay()
      const dave = author(DAVE)
      expect(outcomeOf(room.receive(ALICE.id, dave.burst('1')[0]!, false)).joined).toEqual([DAVE])
      expect(outcomeOf(room.receive(ALICE.id, dave.burst('2')[0]!, false)).joined).toEqual([])
    })
  })

  describe('restored from the journal', () => {
    it('continues its own chain, and relays restored history to a neighbour that lacks it', () => {
      const auth = fakeAuth(BOB.id)
      const before = new Room({ self: BOB, auth })
      before.compose({ id: 'b1', ts: 1, body: 'before' })
      const [last] = before.seal()
      const dave = author(DAVE, fakeAuth(DAVE.id)).burst('d1', 'd2')
      const room = new Room(
        { self: BOB, auth },
        {
          nextSeq: 2,
          outbox: [],
          lastSent: last!,
          // The journal keeps messages as they go on: hops already lowered.
          origins: [{ peer: DAVE, received: 2, log: dave.map((m) => ({ ...m, hops: 63 })), neighbor: false }],
        },
      )
      const next = room.compose({ id: 'b2', ts: 2, body: 'after' })
      expect(next.prev).toBe(auth.chain(last!.prev!, last!))
      room.linkOpened(CAROL.id, { name: 'carol', relays: true })
      room.onAck(CAROL.id, { type: 'ack', upTo: 0 })
      expect(sent(room, CAROL.id)).toEqual(['d1@63', 'd2@63'])
    })

    it('checks restored messages before relaying them: a bad signature in the journal is never sent on', () => {
      const dave = author(DAVE, fakeAuth(DAVE.id)).burst('d1', 'd2')
      const forged = dave.map((m, i) => ({ ...m, hops: 63, ...(i === 1 ? { sig: 'sig:nonsense' } : {}) }))
      const room = new Room(
        { self: BOB, auth: fakeAuth(BOB.id) },
        { nextSeq: 1, outbox: [], origins: [{ peer: DAVE, received: 2, log: forged, neighbor: true }] },
      )
      const opening = outcomeOf(room.linkOpened(CAROL.id, { name: 'carol', relays: true }))
      room.onAck(CAROL.id, { type: 'ack', upTo: 0 })
      expect(opening.refusals.map((r) => r.code)).toEqual(['FORGED'])
      expect(sent(room, CAROL.id)).toEqual([])
    })
  })

  describe('an origin that restarted without its journal', () => {
    const bob = () => relay({ auth: fakeAuth(BOB.id) }, [ALICE, CAROL])

    /** Bob took alice's first three messages from her own link; she comes back with a new numbering. */
    function aliceRestarted() {
      const room = bob()
      const old = writer(ALICE, 1_000)('old 1', 'old 2', 'old 3')
      expect(take(room, ALICE.id, old, true).bodies).toEqual(['old 1', 'old 2', 'old 3'])
      room.peerRestarted(ALICE.id)
      room.linkOpened(ALICE.id, { name: 'alice', relays: true })
      return { room, old }
    }

    /**
     * Bob restarted, his journal recalling that alice restarted (and, with `resetAfter`, when her old
     * numbering ended), then linked to alice and carol again.
     */
    function bobRestarted(recalled: { resetAfter?: number } = {}) {
      const room = new Room(
        { self: BOB, auth: fakeAuth(BOB.id) },
        {
          nextSeq: 1,
          outbox: [],
          origins: [{ peer: ALICE, received: 0, log: [], neighbor: true, reset: true, ...recalled }],
        },
      )
      for (const n of [ALICE, CAROL]) {
        room.linkOpened(n.id, { name: n.name, relays: true })
        room.onAck(n.id, { type: 'ack', upTo: 0 })
      }
      return room
    }

    it("takes its new numbering from its own link, not a relay's copies of the old one", () => {
      const { room, old } = aliceRestarted()
      // Carol (honest, or not) passes on what she has of the old numbering.
      expect(take(room, CAROL.id, old).bodies).toEqual([])
      const fresh = writer(ALICE, 2_000)('NEW 1', 'NEW 2', 'NEW 3')
      expect(take(room, ALICE.id, fresh, true).bodies).toEqual(['NEW 1', 'NEW 2', 'NEW 3'])
      // The old ones again, after the new numbering began: stale, and the relay is not blamed.
      const late = take(room, CAROL.id, old)
      expect(late).toEqual({ bodies: [], refusals: [] })
      expect(room.logOf(ALICE.id).map((m) => m.body)).toEqual(['NEW 1', 'NEW 2', 'NEW 3'])
    })

    it('refuses a relayed fork older than the newest message held, and takes a newer one', () => {
      const room = bob()
      const fresh = writer(ALICE, 2_000)('NEW 1', 'NEW 2')
      const old = writer(ALICE, 1_000)('old 1', 'old 2', 'old 3', 'old 4')
      expect(take(room, ALICE.id, fresh, true).bodies).toEqual(['NEW 1', 'NEW 2'])
      // Old 3 and 4 follow seq 2, but not its chain, and were written before it.
      expect(take(room, CAROL.id, old.slice(2))).toEqual({ bodies: [], refusals: [] })
      // A relayed member that restarted: its new numbering is newer than all the room held of it.
      const dave = writer(DAVE, 1_000)('d1', 'd2')
      expect(take(room, CAROL.id, dave).bodies).toEqual(['d1', 'd2'])
      const daveAgain = writer(DAVE, 3_000)('d1 again', 'd2 again', 'd3 again')
      expect(take(room, CAROL.id, daveAgain).bodies).toEqual(['d3 again'])
    })

    it('takes its new numbering from a relay once its own link is gone, when it was written after the old', () => {
      const { room } = aliceRestarted()
      // Her link goes again before she says anything to us.
      room.linkClosed(ALICE.id)
      // What she writes then reaches us only through carol: written after all we hold of her, it is hers.
      const fresh = writer(ALICE, 2_000)('NEW 1', 'NEW 2')
      expect(take(room, CAROL.id, fresh).bodies).toEqual(['NEW 1', 'NEW 2'])
    })

    it('keeps waiting for its own link after a restart of this node, as the journal recalls', () => {
      const old = writer(ALICE, 1_000)('old 1', 'old 2')
      const room = bobRestarted()
      expect(take(room, CAROL.id, old).bodies).toEqual([])
      expect(take(room, ALICE.id, writer(ALICE, 2_000)('NEW 1'), true).bodies).toEqual(['NEW 1'])
    })

    it('after a restart of this node, takes through relays what it wrote after its old numbering, as the journal recalls', () => {
      const old = writer(ALICE, 1_000)('old 1', 'old 2')
      const room = bobRestarted({ resetAfter: 1_002 })
      expect(take(room, CAROL.id, old).bodies).toEqual([])
      expect(take(room, CAROL.id, writer(ALICE, 2_000)('NEW 1', 'NEW 2')).bodies).toEqual(['NEW 1', 'NEW 2'])
    })
  })
})
