import { describe, expect, it } from 'vitest'
import { dueAcks } from './outbound.js'
import type { PeerInfo } from './peer-machine.js'
import { Room } from './room.js'
import type { Msg } from './schema.js'

const id = (c: string) => c.repeat(64)
const ALICE: PeerInfo = { id: id('a'), name: 'alice' }
const BOB: PeerInfo = { id: id('b'), name: 'bob' }
const CAROL: PeerInfo = { id: id('c'), name: 'carol' }
const DAVE: PeerInfo = { id: id('d'), name: 'dave' }

const msg = (from: PeerInfo, seq: number): Msg => ({
  type: 'msg',
  id: `${from.name}-${seq}`,
  seq,
  ts: seq,
  from: from.id,
  body: `${from.name} ${seq}`,
})

/** Bob, linked to Alice and Carol, who both relay. */
function bob() {
  const room = new Room({ self: BOB })
  for (const n of [ALICE, CAROL]) {
    room.linkOpened(n.id, { name: n.name, relays: true })
    room.onAck(n.id, { type: 'ack', upTo: 0 })
  }
  return room
}

function take(room: Room, neighbor: PeerInfo, m: Msg): void {
  for (const effect of room.receive(neighbor.id, m, m.from === neighbor.id))
    if (effect.type === 'accept') room.markShown(effect.msg.from, effect.msg.seq)
}

describe('acks', () => {
  it('acks what a neighbour sent of its own stream, each seq once', () => {
    const room = bob()
    take(room, ALICE, msg(ALICE, 1))
    expect(dueAcks(room, ALICE.id)).toEqual([{ type: 'ack', upTo: 1 }])
    expect(dueAcks(room, ALICE.id)).toEqual([])
    take(room, ALICE, msg(ALICE, 2))
    expect(dueAcks(room, ALICE.id)).toEqual([{ type: 'ack', upTo: 2 }])
  })

  it('sends no ack for a copy of a message it already had: it would tell the sender nothing', () => {
    const room = bob()
    take(room, ALICE, msg(DAVE, 1))
    expect(dueAcks(room, ALICE.id)).toEqual([])
    // Carol's copy crossed ours: she sent it, so she knows we have it.
    take(room, CAROL, msg(DAVE, 1))
    expect(dueAcks(room, CAROL.id)).toEqual([])
  })

  it('claims a relayed message to a neighbour that was neither sent it nor sent it to us', () => {
    const room = bob()
    take(room, ALICE, msg(DAVE, 1))
    take(room, CAROL, msg(CAROL, 1))
    expect(dueAcks(room, CAROL.id)).toEqual([{ type: 'ack', upTo: 1, have: { [DAVE.id]: 1 } }])
  })

  it('tells its upTo again once the link drained, since acks written while it was blocked were dropped', () => {
    const room = bob()
    take(room, ALICE, msg(ALICE, 1))
    expect(dueAcks(room, ALICE.id)).toEqual([{ type: 'ack', upTo: 1 }])
    room.acksDropped(ALICE.id)
    expect(dueAcks(room, ALICE.id)).toEqual([{ type: 'ack', upTo: 1 }])
  })

  it('tells its upTo again on a new link', () => {
    const room = bob()
    take(room, ALICE, msg(ALICE, 1))
    expect(dueAcks(room, ALICE.id)).toEqual([{ type: 'ack', upTo: 1 }])
    room.linkClosed(ALICE.id)
    room.linkOpened(ALICE.id, { name: 'alice', relays: true })
    room.onAck(ALICE.id, { type: 'ack', upTo: 0 })
    expect(dueAcks(room, ALICE.id)).toEqual([])
    take(room, ALICE, msg(ALICE, 2))
    expect(dueAcks(room, ALICE.id)).toEqual([{ type: 'ack', upTo: 2 }])
  })
})
