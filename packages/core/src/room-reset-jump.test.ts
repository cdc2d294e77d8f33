import { describe, expect, it } from 'vitest'
import { fakeAuth, signedWriter as writer } from '../test/fake-auth.js'
import type { PeerInfo } from './peer-machine.js'
import { Room } from './room.js'
import type { Msg } from './schema.js'

const id = (c: string) => c.repeat(64)
const ALICE: PeerInfo = { id: id('a'), name: 'alice' }
const BOB: PeerInfo = { id: id('b'), name: 'bob' }
const CAROL: PeerInfo = { id: id('c'), name: 'carol' }

/** Feeds `msgs` from neighbour `from`; the bodies accepted, as the node shows them. */
function take(room: Room, from: string, msgs: Msg[], trusted = false): string[] {
  const bodies: string[] = []
  for (const msg of msgs)
    for (const effect of room.receive(from, msg, trusted))
      if (effect.type === 'accept') {
        bodies.push(effect.msg.body)
        room.markShown(effect.msg.from, effect.msg.seq)
      }
  return bodies
}

describe('a member that restarted without its journal, while its own link is awaited', () => {
  it("is not jumped ahead by a relay's window of its old numbering: its new messages at those seqs are not lost", () => {
    const room = new Room({ self: BOB, auth: fakeAuth(BOB.id) })
    for (const n of [ALICE, CAROL]) {
      room.linkOpened(n.id, { name: n.name, relays: true })
      room.onAck(n.id, { type: 'ack', upTo: 0 })
    }
    const alice = writer(ALICE, 1_000)
    expect(take(room, ALICE.id, alice('old 1', 'old 2', 'old 3'), true)).toEqual(['old 1', 'old 2', 'old 3'])
    // Alice's link drops; what she writes next only carol gets. Then she restarts without her journal
    // and her new link goes before she says anything to us.
    const unseen = alice('old 4', 'old 5')
    room.linkClosed(ALICE.id)
    room.peerRestarted(ALICE.id)
    room.linkOpened(ALICE.id, { name: 'alice', relays: true })
    room.linkClosed(ALICE.id)
    // Carol (a hostile relay, or one that only trimmed its window) says her window of alice starts after
    // seq 3, and passes on the old numbering's 4 and 5: written after all we held of alice.
    room.onAck(CAROL.id, { type: 'ack', upTo: 0, bases: { [ALICE.id]: 3 } })
    take(room, CAROL.id, unseen)
    // Alice's new numbering, written after all of the old, reaches us through carol.
    const fresh = writer(ALICE, 2_000)('NEW 1', 'NEW 2', 'NEW 3', 'NEW 4', 'NEW 5', 'NEW 6')
    take(room, CAROL.id, fresh)
    const shown = room.logOf(ALICE.id).map((m) => m.body)
    expect(shown).toEqual(['NEW 1', 'NEW 2', 'NEW 3', 'NEW 4', 'NEW 5', 'NEW 6'])
  })
})

describe("a relay's window that starts later than what is held", () => {
  it('is jumped to when its first message was written in the same millisecond as the newest held', () => {
    const room = new Room({ self: BOB, auth: fakeAuth(BOB.id) })
    for (const n of [ALICE, CAROL]) {
      room.linkOpened(n.id, { name: n.name, relays: true })
      room.onAck(n.id, { type: 'ack', upTo: 0 })
    }
    // Alice sends a long paste in parts, all written in one millisecond; her link drops after the first.
    const writing = new Room({ self: ALICE, auth: fakeAuth(ALICE.id) })
    const parts = ['part 1', 'part 2', 'part 3', 'part 4', 'part 5'].flatMap((body, i) => {
      writing.compose({ id: `alice-${i}`, ts: 5_000, body, name: 'alice' })
      const sealed = writing.seal()
      writing.ownDurable(writing.nextSeq - 1)
      return sealed
    })
    expect(take(room, ALICE.id, parts.slice(0, 1), true)).toEqual(['part 1'])
    room.linkClosed(ALICE.id)
    // Carol's window of alice starts after part 3 (the rest left it): she passes on parts 4 and 5.
    room.onAck(CAROL.id, { type: 'ack', upTo: 0, bases: { [ALICE.id]: 3 } })
    expect(take(room, CAROL.id, parts.slice(3))).toEqual(['part 4', 'part 5'])
  })
})

describe('a member that restarted without its journal and reaches us only through a relay', () => {
  /** Bob held alice's old 1–3; she restarted, and her new link went after `onLink` happened on it. */
  function resetBehindCarol(onLink: (room: Room) => void, restartedAt = 2_000) {
    const room = new Room({ self: BOB, auth: fakeAuth(BOB.id) })
    for (const n of [ALICE, CAROL]) {
      room.linkOpened(n.id, { name: n.name, relays: true })
      room.onAck(n.id, { type: 'ack', upTo: 0 })
    }
    const alice = writer(ALICE, 1_000)
    take(room, ALICE.id, alice('old 1', 'old 2', 'old 3'), true)
    const unseen = alice('old 4', 'old 5')
    room.linkClosed(ALICE.id)
    room.peerRestarted(ALICE.id)
    room.linkOpened(ALICE.id, { name: 'alice', relays: true })
    onLink(room)
    room.linkClosed(ALICE.id)
    // Carol's window of alice starts after seq 3.
    room.onAck(CAROL.id, { type: 'ack', upTo: 0, bases: { [ALICE.id]: 3 } })
    const fresh = writer(ALICE, restartedAt)('NEW 1', 'NEW 2', 'NEW 3', 'NEW 4', 'NEW 5', 'NEW 6')
    return { room, unseen, fresh }
  }

  it("is shown from a relay's later window start once its reset link brought a presence older than it", () => {
    const { room, fresh } = resetBehindCarol((r) => r.ownPresence(ALICE.id, 1_500))
    expect(take(room, CAROL.id, fresh.slice(3))).toEqual(['NEW 4', 'NEW 5', 'NEW 6'])
  })

  it('takes nothing of its old numbering from that window, dated after all we held but before that presence', () => {
    const { room, unseen, fresh } = resetBehindCarol((r) => r.ownPresence(ALICE.id, 1_500))
    expect(take(room, CAROL.id, unseen)).toEqual([])
    expect(take(room, CAROL.id, fresh.slice(3))).toEqual(['NEW 4', 'NEW 5', 'NEW 6'])
  })

  it('waits for its own link when that presence is dated before the newest held of its old numbering', () => {
    // Its clock went back across its restart: the date says nothing of which numbering a message is of.
    const { room, fresh } = resetBehindCarol((r) => r.ownPresence(ALICE.id, 800), 800)
    expect(take(room, CAROL.id, fresh.slice(3))).toEqual([])
  })

  it('waits for its own link when no presence came on the link that announced the reset', () => {
    const { room, fresh } = resetBehindCarol(() => {})
    // A presence on a later link, or after that link closed, may have waited in a relay since before it.
    room.ownPresence(ALICE.id, 1_500)
    room.linkOpened(ALICE.id, { name: 'alice', relays: true })
    room.ownPresence(ALICE.id, 1_500)
    room.linkClosed(ALICE.id)
    expect(take(room, CAROL.id, fresh.slice(3))).toEqual([])
  })

  it('goes on with what a relay buffered once the presence comes', () => {
    const room = new Room({ self: BOB, auth: fakeAuth(BOB.id) })
    for (const n of [ALICE, CAROL]) {
      room.linkOpened(n.id, { name: n.name, relays: true })
      room.onAck(n.id, { type: 'ack', upTo: 0 })
    }
    take(room, ALICE.id, writer(ALICE, 1_000)('old 1', 'old 2', 'old 3'), true)
    room.linkClosed(ALICE.id)
    room.peerRestarted(ALICE.id)
    room.linkOpened(ALICE.id, { name: 'alice', relays: true })
    room.onAck(CAROL.id, { type: 'ack', upTo: 0, bases: { [ALICE.id]: 3 } })
    const fresh = writer(ALICE, 2_000)('NEW 1', 'NEW 2', 'NEW 3', 'NEW 4', 'NEW 5', 'NEW 6')
    expect(take(room, CAROL.id, fresh.slice(3))).toEqual([])
    const bodies = room.ownPresence(ALICE.id, 1_500).flatMap((e) => (e.type === 'accept' ? [e.msg.body] : []))
    expect(bodies).toEqual(['NEW 4', 'NEW 5', 'NEW 6'])
  })
})
