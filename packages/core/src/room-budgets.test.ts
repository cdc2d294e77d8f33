import { describe, expect, it } from 'vitest'
import { fakeAuth } from '../test/fake-auth.js'
import { WATERMARK_ENTRY_BYTES } from './link-table.js'
import type { PeerInfo } from './peer-machine.js'
import {
  ACK_ENTRY_RATE,
  MAX_GAPS,
  type MessageAuth,
  Room,
  type RoomEffect,
  type RoomOptions,
  weigh,
} from './room.js'
import { cutLevel } from './room-types.js'
import { MemberRoom } from './roster.js'
import type { Msg } from './schema.js'

const id = (c: string) => c.repeat(64)
const ALICE: PeerInfo = { id: id('a'), name: 'alice' }
const BOB: PeerInfo = { id: id('b'), name: 'bob' }
const CAROL: PeerInfo = { id: id('c'), name: 'carol' }
const DAVE: PeerInfo = { id: id('d'), name: 'dave' }
const EVE: PeerInfo = { id: id('e'), name: 'eve' }

/** An origin's messages, chained and signed at the end of each burst. */
function author(peer: PeerInfo, auth?: MessageAuth) {
  const room = new Room({ self: peer, ...(auth ? { auth } : {}) })
  let n = 0
  return (...bodies: string[]): Msg[] => {
    for (const body of bodies) room.compose({ id: `${peer.name}-${++n}`, ts: n, body, name: peer.name })
    const sealed = room.seal()
    room.ownDurable(room.nextSeq - 1)
    return sealed
  }
}

/** Bob's room, with neighbours linked and resumed. */
function bob(options: Partial<RoomOptions> = {}, neighbors: PeerInfo[] = [ALICE, CAROL]) {
  const room = new Room({ self: BOB, ...options })
  for (const n of neighbors) {
    room.linkOpened(n.id, { name: n.name, relays: true })
    room.onAck(n.id, { type: 'ack', upTo: 0 })
  }
  return room
}

const refusals = (effects: RoomEffect[]) =>
  effects.flatMap((e) => (e.type === 'refuse' ? [`${e.refusal.code}:${e.refusal.neighbor.slice(0, 1)}`] : []))
const accepted = (effects: RoomEffect[]) => effects.flatMap((e) => (e.type === 'accept' ? [e.msg.body] : []))
const heldBy = (room: Room, peer: PeerInfo) => room.held().links.find((l) => l.peer === peer.id)

/** `n` origins that nobody in the room knows, as an ack's map names them. */
const strangers = (n: number, from = 0) =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [(from + i).toString(16).padStart(64, '0'), 5]))

describe('what a neighbour makes the room hold, against its budgets', () => {
  describe('reorder buffers, in bytes', () => {
    it('counts each message waiting to be shown against the link that sent it, and releases it once shown', () => {
      const room = bob()
      const msgs = author(DAVE)('one', 'two', 'three')
      room.receive(ALICE.id, msgs[2]!, false)
      room.receive(ALICE.id, msgs[1]!, false)
      expect(heldBy(room, ALICE)?.buffered).toBe(weigh(msgs[2]!) + weigh(msgs[1]!))
      expect(room.held().total).toBe(weigh(msgs[2]!) + weigh(msgs[1]!))
      expect(accepted(room.receive(CAROL.id, msgs[0]!, false))).toEqual(['one', 'two', 'three'])
      expect(heldBy(room, ALICE)?.buffered).toBe(0)
    })

    it('closes a link past its byte budget, though under the message cap, and the room goes on', () => {
      const body = 'x'.repeat(10_000)
      const msgs = author(DAVE)(...Array.from({ length: 10 }, () => body))
      const room = bob({ budgets: { buffered: 4 * weigh(msgs[1]!) } })
      for (const msg of msgs.slice(1, 5)) expect(refusals(room.receive(ALICE.id, msg, false))).toEqual([])
      expect(refusals(room.receive(ALICE.id, msgs[5]!, false))).toEqual(['OVER_BUDGET:a'])
      expect(heldBy(room, ALICE)?.buffered).toBe(0)
      expect(room.waitingCount).toBe(0)
      const shown = msgs.flatMap((m) => accepted(room.receive(CAROL.id, m, false)))
      expect(shown).toHaveLength(10)
    })

    it('counts a second copy of the same seq from the same link instead of the first, and leaves nothing behind when it does not fit', () => {
      const msgs = author(DAVE)('1', '2', '3')
      const room = bob({ budgets: { buffered: weigh(msgs[2]!) + 100 } })
      expect(refusals(room.receive(ALICE.id, msgs[2]!, false))).toEqual([])
      expect(refusals(room.receive(ALICE.id, msgs[2]!, false))).toEqual([])
      expect(heldBy(room, ALICE)?.buffered).toBe(weigh(msgs[2]!))
      const longer = { ...msgs[2]!, body: 'y'.repeat(500) }
      expect(refusals(room.receive(ALICE.id, longer, false))).toEqual(['OVER_BUDGET:a'])
      expect(room.waitingCount).toBe(0)
      expect(msgs.flatMap((m) => accepted(room.receive(CAROL.id, m, false)))).toEqual(['1', '2', '3'])
    })

    it('closes the link that would take all links past the total, and keeps the others', () => {
      const msgs = author(DAVE)('a', 'b', 'c', 'd')
      const one = weigh(msgs[1]!)
      const room = bob({ budgets: { buffered: 2 * one, total: 3 * one + 1 } })
      expect(refusals(room.receive(ALICE.id, msgs[1]!, false))).toEqual([])
      expect(refusals(room.receive(ALICE.id, msgs[2]!, false))).toEqual([])
      expect(refusals(room.receive(CAROL.id, msgs[3]!, false))).toEqual([])
      const over = room.receive(CAROL.id, msgs[2]!, false)
      expect(refusals(over)).toEqual(['OVER_BUDGET:c'])
      expect(over.find((e) => e.type === 'refuse')).toMatchObject({
        refusal: { message: expect.stringContaining('all links') },
      })
      expect(heldBy(room, ALICE)?.buffered).toBe(2 * one)
    })

    it('makes room when all links are full by closing the link that holds the most, not one that holds little', () => {
      const msgs = author(DAVE)('a', 'b', 'c', 'd')
      const one = weigh(msgs[1]!)
      const room = bob({ budgets: { buffered: 2 * one, total: 2 * one + 1 } })
      room.receive(ALICE.id, msgs[1]!, false)
      room.receive(ALICE.id, msgs[2]!, false)
      const out = room.receive(CAROL.id, msgs[3]!, false)
      expect(refusals(out)).toEqual(['OVER_BUDGET:a'])
      expect(out.find((e) => e.type === 'refuse')).toMatchObject({
        refusal: { message: expect.stringContaining('held the most buffered messages') },
      })
      expect(heldBy(room, ALICE)?.buffered).toBe(0)
      expect(heldBy(room, CAROL)?.buffered).toBe(one)
      expect(accepted(room.receive(CAROL.id, msgs[0]!, false))).toEqual(['a'])
    })

    it('keeps the copy that made room, even when the closed link was all that spoke of its origin', () => {
      const msgs = author(DAVE)(...['a', 'b', 'c'].map((c) => c.repeat(1_000)))
      const one = weigh(msgs[1]!)
      // Room for the watermark entries the accepted messages add, not for a third message.
      const room = bob({ budgets: { buffered: 2 * one, total: 2 * one + 3 * WATERMARK_ENTRY_BYTES } })
      room.receive(ALICE.id, msgs[1]!, false)
      room.receive(ALICE.id, msgs[2]!, false)
      expect(refusals(room.receive(CAROL.id, msgs[2]!, false))).toEqual(['OVER_BUDGET:a'])
      expect(heldBy(room, CAROL)?.buffered).toBe(one)
      const shown = [msgs[0]!, msgs[1]!].flatMap((m) => accepted(room.receive(CAROL.id, m, false)))
      expect(shown.map((body) => body[0])).toEqual(['a', 'b', 'c'])
      expect(heldBy(room, CAROL)?.buffered).toBe(0)
    })

    it('releases everything a link held when it closes', () => {
      const room = bob()
      room.receive(ALICE.id, author(DAVE)('1', '2')[1]!, false)
      room.onAck(ALICE.id, { type: 'ack', upTo: 0, have: strangers(10) })
      expect(room.held().total).toBeGreaterThan(0)
      room.linkClosed(ALICE.id)
      expect(heldBy(room, ALICE)).toBeUndefined()
      expect(room.held().total).toBe(heldBy(room, CAROL)!.watermarks)
    })
  })

  describe('watermarks and acks', () => {
    it('counts each origin a neighbour names in its acks once, however often it names it', () => {
      const room = bob()
      room.onAck(ALICE.id, { type: 'ack', upTo: 0, have: strangers(3), bases: strangers(2) })
      room.onAck(ALICE.id, { type: 'ack', upTo: 0, have: strangers(3) })
      expect(heldBy(room, ALICE)?.watermarks).toBe(5 * WATERMARK_ENTRY_BYTES)
    })

    it('closes a neighbour whose acks name more origins than its watermark budget holds', () => {
      const room = bob({ budgets: { watermarks: 600 * WATERMARK_ENTRY_BYTES } })
      const out: RoomEffect[] = []
      for (let i = 0; i < 3 && out.length === 0; i++)
        room.onAck(ALICE.id, { type: 'ack', upTo: 0, have: strangers(256, i * 256) }, out)
      expect(refusals(out)).toEqual(['OVER_BUDGET:a'])
      expect(heldBy(room, ALICE)!.watermarks).toBeLessThanOrEqual(600 * WATERMARK_ENTRY_BYTES)
      room.linkClosed(ALICE.id)
      expect(room.held().total).toBe(heldBy(room, CAROL)!.watermarks)
    })

    it('closes a neighbour that names origins in its acks faster than the allowance, and lets a slower one be', () => {
      const room = bob({ budgets: { watermarks: 1 << 30, total: 1 << 30 } })
      const acks = ACK_ENTRY_RATE.burst / 256
      for (let i = 0; i < acks; i++) {
        const out = room.onAck(ALICE.id, { type: 'ack', upTo: 0, have: strangers(256, i * 256) }, [], 1_000)
        expect(refusals(out)).toEqual([])
      }
      const later = 1_000 + (256 * 1000) / ACK_ENTRY_RATE.perSecond
      expect(
        refusals(room.onAck(ALICE.id, { type: 'ack', upTo: 0, bases: strangers(256, 1e6) }, [], later)),
      ).toEqual([])
      expect(
        refusals(room.onAck(ALICE.id, { type: 'ack', upTo: 0, have: strangers(1, 2e6) }, [], later)),
      ).toEqual(['OVER_BUDGET:a'])
    })

    it('forgets an origin restarted without its journal from every neighbour, releasing the entries', () => {
      const room = bob({}, [ALICE, CAROL, DAVE])
      room.onAck(ALICE.id, { type: 'ack', upTo: 0, have: { [DAVE.id]: 3 } })
      room.onAck(CAROL.id, { type: 'ack', upTo: 0, have: { [DAVE.id]: 3 } })
      room.peerRestarted(DAVE.id)
      expect(heldBy(room, ALICE)?.watermarks).toBe(0)
      expect(heldBy(room, CAROL)?.watermarks).toBe(0)
    })
  })

  describe('forgotten members', () => {
    it('releases what each neighbour held of a member the room forgets, so a relay of many never runs out', () => {
      const room = new MemberRoom({ self: BOB, budgets: { watermarks: 4 * WATERMARK_ENTRY_BYTES } })
      for (const n of [ALICE, CAROL]) {
        room.linkOpened(n.id, { name: n.name, relays: true })
        room.onAck(n.id, { type: 'ack', upTo: 0 })
      }
      const before = heldBy(room, CAROL)!.watermarks
      for (let i = 0; i < 50; i++) {
        const member: PeerInfo = { id: i.toString(16).padStart(64, '9'), name: `m${i}` }
        const out = room.receive(ALICE.id, author(member)('hello')[0]!, true)
        // Carol says it has the member's line and where its window starts: two entries on her link.
        room.onAck(
          CAROL.id,
          { type: 'ack', upTo: 0, have: { [member.id]: 1 }, bases: { [member.id]: 0 } },
          out,
        )
        expect(refusals(out)).toEqual([])
        expect(heldBy(room, CAROL)!.watermarks).toBeGreaterThan(before)
        expect(room.forget(member.id)).toMatchObject({ peer: member, received: 1 })
        expect(heldBy(room, CAROL)!.watermarks).toBe(before)
      }
    })
  })

  describe('neighbours', () => {
    it('refuses one more neighbour that dialed in past the cap, but never one it dialed or one already linked', () => {
      const room = bob({ maxNeighbors: 2 })
      expect(room.admitNeighbor(EVE.id, false)).toMatchObject({
        code: 'TOO_MANY_NEIGHBORS',
        neighbor: EVE.id,
      })
      expect(room.admitNeighbor(EVE.id, true)).toBeUndefined()
      expect(room.admitNeighbor(ALICE.id, false)).toBeUndefined()
      room.linkClosed(ALICE.id)
      expect(room.admitNeighbor(EVE.id, false)).toBeUndefined()
    })
  })
})

describe('catch-up that a false bases claim cannot censor', () => {
  const signed = (neighbors = [ALICE, CAROL]) => bob({ auth: fakeAuth(BOB.id) }, neighbors)

  it('skips on a relay’s word but keeps the gap open: a later neighbour’s copy is shown, late', () => {
    const room = signed([ALICE])
    const dave = author(DAVE, fakeAuth(DAVE.id))
    const [one] = dave('withheld')
    const [two] = dave('after')
    room.onAck(ALICE.id, { type: 'ack', upTo: 0, bases: { [DAVE.id]: 1 } })
    expect(accepted(room.receive(ALICE.id, two!, false))).toEqual(['after'])
    room.markShown(DAVE.id, 2)

    // Carol links up later: she is not told Dave's seq 1 is here, so she sends it, and it is shown.
    const opening = room.linkOpened(CAROL.id, { name: 'carol', relays: true })
    const have = Object.assign({}, ...opening.map((e) => (e.type === 'send' ? e.message.have : {})))
    expect(have).not.toHaveProperty(DAVE.id)
    room.onAck(CAROL.id, { type: 'ack', upTo: 0 })
    const late = room.receive(CAROL.id, one!, false)
    expect(accepted(late)).toEqual(['withheld'])
    expect(refusals(late)).toEqual([])
    // Once filled, the gap is closed: another copy is a plain duplicate.
    expect(accepted(room.receive(CAROL.id, one!, false))).toEqual([])
    expect(heldBy(room, CAROL)?.buffered).toBe(0)
  })

  it('refuses a copy of a skipped message that does not chain to the signed run after it', () => {
    const room = signed()
    const dave = author(DAVE, fakeAuth(DAVE.id))
    const [one] = dave('withheld')
    const [two] = dave('after')
    room.onAck(ALICE.id, { type: 'ack', upTo: 0, bases: { [DAVE.id]: 1 } })
    room.receive(ALICE.id, two!, false)
    const forged = room.receive(CAROL.id, { ...one!, body: 'not what dave said' }, false)
    expect(refusals(forged)).toEqual(['FORGED:c'])
    expect(accepted(forged)).toEqual([])
    expect(accepted(room.receive(ALICE.id, one!, false))).toEqual(['withheld'])
  })

  it('fills the top of a gap from a neighbour whose window starts inside it, and keeps the rest open', () => {
    const room = signed()
    const dave = author(DAVE, fakeAuth(DAVE.id))
    const early = dave('1', '2', '3', '4')
    const [five] = dave('5')
    room.onAck(ALICE.id, { type: 'ack', upTo: 0, bases: { [DAVE.id]: 4 } })
    expect(accepted(room.receive(ALICE.id, five!, false))).toEqual(['5'])
    expect(early.slice(2).flatMap((m) => accepted(room.receive(CAROL.id, m, false)))).toEqual(['3', '4'])
    expect(early.slice(0, 2).flatMap((m) => accepted(room.receive(ALICE.id, m, false)))).toEqual(['1', '2'])
  })

  it('takes the origin’s own word for where its stream starts, with no gap kept', () => {
    const room = signed([ALICE, DAVE])
    const dave = author(DAVE, fakeAuth(DAVE.id))
    const [one] = dave('settled long ago')
    const [two] = dave('new')
    room.onAck(DAVE.id, { type: 'ack', upTo: 0, base: 1 })
    expect(accepted(room.receive(DAVE.id, two!, true))).toEqual(['new'])
    expect(accepted(room.receive(ALICE.id, one!, false))).toEqual([])
  })

  it('keeps at most MAX_GAPS gaps open: one more closes the oldest', () => {
    const room = signed()
    const origins = Array.from({ length: MAX_GAPS + 1 }, (_, i) => {
      const peer = { id: (i + 1).toString(16).padStart(64, '0'), name: `o${i}` }
      const say = author(peer, fakeAuth(peer.id))
      const [one] = say('withheld')
      const [two] = say('after')
      room.onAck(ALICE.id, { type: 'ack', upTo: 0, bases: { [peer.id]: 1 } })
      expect(accepted(room.receive(ALICE.id, two!, false))).toEqual(['after'])
      return one!
    })
    expect(accepted(room.receive(CAROL.id, origins[0]!, false))).toEqual([])
    expect(accepted(room.receive(CAROL.id, origins[1]!, false))).toEqual(['withheld'])
    expect(accepted(room.receive(CAROL.id, origins[MAX_GAPS]!, false))).toEqual(['withheld'])
  })

  it('keeps only the newest seqs of a long skip open, a burst’s worth', () => {
    const room = signed()
    const dave = author(DAVE, fakeAuth(DAVE.id))
    const old = Array.from({ length: 150 }, (_, i) => dave(`${i + 1}`)[0]!)
    const [next] = dave('151')
    room.onAck(ALICE.id, { type: 'ack', upTo: 0, bases: { [DAVE.id]: 150 } })
    room.receive(ALICE.id, next!, false)
    room.markShown(DAVE.id, 151)
    const fills = old.flatMap((m) => accepted(room.receive(CAROL.id, m, false)))
    expect(fills).toEqual(old.slice(50).map((m) => m.body))
  })
})

describe('the windows other members keep, in bytes', () => {
  it('keeps each window within its bytes and all of them within their total, cutting the largest first', () => {
    const room = bob({ windowBytes: { each: 20_000, total: 400_000 } })
    const bytesOf = (peer: PeerInfo) => room.logOf(peer.id).reduce((sum, m) => sum + weigh(m), 0)
    // carol, a neighbour, says twenty short lines: all of them stay.
    for (const m of author(CAROL)(...Array.from({ length: 20 }, (_, i) => `line ${i}`))) {
      room.receive(CAROL.id, m, false)
      room.markShown(CAROL.id, m.seq)
    }
    expect(room.logOf(CAROL.id)).toHaveLength(20)
    // alice relays forty members made up with throwaway keys, each with twenty of the longest messages.
    const long = 'x'.repeat(5_000)
    let last: PeerInfo | undefined
    for (let i = 0; i < 40; i++) {
      last = { id: (i + 1).toString(16).padStart(64, '0'), name: `m${i}` }
      for (const m of author(last)(...Array.from({ length: 20 }, () => long))) {
        room.receive(ALICE.id, m, false)
        room.markShown(last.id, m.seq)
        expect(bytesOf(last)).toBeLessThanOrEqual(20_000)
        expect(room.held().windows).toBeLessThanOrEqual(400_000)
      }
    }
    // The sums the room keeps are the windows' own.
    const members = [
      CAROL,
      ...Array.from({ length: 40 }, (_, i) => ({ id: (i + 1).toString(16).padStart(64, '0'), name: '' })),
    ]
    expect(members.reduce((sum, p) => sum + bytesOf(p), 0)).toBe(room.held().windows)
    // The largest were cut: carol's small window is whole, the newest member keeps its newest message.
    expect(room.logOf(CAROL.id)).toHaveLength(20)
    expect(room.logOf(last!.id).at(-1)?.seq).toBe(20)
  })

  it('stops counting the window of a neighbour that restarted without its journal', () => {
    const room = bob({ windowBytes: { each: 20_000, total: 400_000 } })
    const long = 'w'.repeat(5_000)
    // carol comes back ten times with a new data dir, three long messages each time.
    for (let life = 0; life < 10; life++) {
      for (const m of author(CAROL)(long, long, long)) {
        room.receive(CAROL.id, m, false)
        room.markShown(CAROL.id, m.seq)
      }
      const held = room.logOf(CAROL.id).reduce((sum, m) => sum + weigh(m), 0)
      expect(room.held().windows).toBe(held)
      room.peerRestarted(CAROL.id)
      expect(room.held().windows).toBe(0)
    }
  })

  it('cuts a window restored from the journal to its bytes as well', () => {
    const long = 'y'.repeat(5_000)
    const log = author(DAVE)(...Array.from({ length: 30 }, () => long))
    const room = new Room(
      { self: BOB, windowBytes: { each: 20_000, total: 100_000 } },
      { nextSeq: 1, outbox: [], origins: [{ peer: DAVE, received: 30, log, neighbor: false }] },
    )
    expect(room.logOf(DAVE.id).map((m) => m.seq)).toEqual([28, 29, 30])
    expect(room.held().windows).toBe(room.logOf(DAVE.id).reduce((sum, m) => sum + weigh(m), 0))
  })
})

describe('a neighbour that never signs', () => {
  it('is refused past twice a burst of unsigned messages, as they could never leave its window', () => {
    const room = bob({ auth: fakeAuth(BOB.id) })
    // carol chains 250 messages and signs only the last: no parley node writes a burst that long.
    const msgs = author(CAROL, fakeAuth(CAROL.id))(...Array.from({ length: 250 }, (_, i) => `m${i}`))
    const refused = msgs.map((m) => refusals(room.receive(CAROL.id, m, true)))
    expect(refused.findIndex((r) => r.length > 0)).toBe(200)
    expect(refused[200]).toEqual(['FORGED:c'])
  })

  it('lets an honest one through, which signs every burst of at most 100', () => {
    const room = bob({ auth: fakeAuth(BOB.id) })
    const say = author(CAROL, fakeAuth(CAROL.id))
    for (let burst = 0; burst < 10; burst++) {
      for (const m of say(...Array.from({ length: 100 }, (_, i) => `b${burst}-${i}`)))
        expect(refusals(room.receive(CAROL.id, m, true))).toEqual([])
    }
  })
})

describe('cutLevel', () => {
  it('cuts the largest to one level, so that all come to the target', () => {
    // 10 + 40 + 50 = 100 to 70: the two largest are cut to 30 (10 + 30 + 30).
    expect(cutLevel([50, 40, 10], 70)).toBe(30)
    // Already under it: the largest stays as it is.
    expect(cutLevel([50, 40, 10], 200)).toBeGreaterThanOrEqual(50)
    expect(cutLevel([], 10)).toBe(0)
  })
})
