/**
 * The catch-up a node serves when links open (what a neighbour's opening ack says it lacks of each window)
 * is held to allowances over time: per peer key, per source and in all. A peer that reconnects in a loop,
 * under its key or under throwaway ones, is served the allowance, not every window each time; the rest of
 * an honest neighbour's catch-up waits and then goes, each message once and in order; news goes at once.
 */
import { describe, expect, it } from 'vitest'
import type { CatchUpBudget } from './link-table.js'
import { pump } from './outbound.js'
import type { PeerInfo } from './peer-machine.js'
import { Room, type RoomOptions, weigh } from './room.js'
import type { Msg } from './schema.js'

const id = (c: string, n = 0) => `${c}${n.toString(16).padStart(63, '0')}`
const BOB: PeerInfo = { id: id('b'), name: 'bob' }
const CAROL: PeerInfo = { id: id('c'), name: 'carol' }
const ALICE: PeerInfo = { id: id('a'), name: 'alice' }
/** Members whose windows bob keeps: carol relayed their messages. */
const MEMBERS: PeerInfo[] = Array.from({ length: 4 }, (_, i) => ({ id: id('d', i), name: `member${i}` }))
const PER_MEMBER = 20
const BODY = 'x'.repeat(1_000)

const BUDGET: CatchUpBudget = {
  perKey: { perSecond: 10_000, burst: 20_000 },
  perSource: { perSecond: 20_000, burst: 40_000 },
  total: { perSecond: 40_000, burst: 80_000 },
}

const msgOf = (from: PeerInfo, seq: number, body = BODY): Msg => ({
  type: 'msg',
  id: `${from.name}-${seq}`,
  seq,
  ts: seq,
  from: from.id,
  body,
  name: from.name,
})

/** Bob's room, carol linked, holding PER_MEMBER messages of each member in its windows. */
function bob(options: Partial<RoomOptions> = {}): Room {
  const room = new Room({ self: BOB, budgets: { catchUp: BUDGET }, ...options })
  room.linkOpened(CAROL.id, { name: CAROL.name, relays: true })
  room.onAck(CAROL.id, { type: 'ack', upTo: 0 })
  for (const member of MEMBERS)
    for (let seq = 1; seq <= PER_MEMBER; seq++) take(room, CAROL, msgOf(member, seq))
  return room
}

function take(room: Room, neighbor: PeerInfo, msg: Msg): void {
  for (const effect of room.receive(neighbor.id, msg, msg.from === neighbor.id))
    if (effect.type === 'accept') room.markShown(effect.msg.from, effect.msg.seq)
}

const WINDOWS = MEMBERS.reduce(
  (sum, member) =>
    sum + Array.from({ length: PER_MEMBER }, (_, i) => weigh(msgOf(member, i + 1))).reduce((a, b) => a + b),
  0,
)
const LONGEST = weigh(msgOf(MEMBERS[0]!, PER_MEMBER))

/** A neighbour links, says it has nothing (or what `have` says), and is given what the room sends now. */
function link(
  room: Room,
  peer: PeerInfo,
  now: number,
  source?: string,
  have?: Record<string, number>,
): Msg[] {
  room.linkOpened(peer.id, { name: peer.name, relays: true, source })
  room.onAck(peer.id, { type: 'ack', upTo: 0, ...(have ? { have } : {}) }, [], now)
  return drain(room, peer, now)
}

function drain(room: Room, peer: PeerInfo, now: number, only?: string): Msg[] {
  return [...room.outgoing(peer.id, only, now)].flatMap((o) => (o.kind === 'msg' ? [o.msg] : []))
}

const bytesOf = (msgs: Msg[]) => msgs.reduce((sum, m) => sum + weigh(m), 0)

/** Each member's seqs as the neighbour got them, in the order it got them. */
function seqsByMember(msgs: Msg[]): Record<string, number[]> {
  const out: Record<string, number[]> = {}
  for (const m of msgs) {
    out[m.from] ??= []
    out[m.from]!.push(m.seq)
  }
  return out
}

const everySeq = () => Array.from({ length: PER_MEMBER }, (_, i) => i + 1)

describe('catch-up served when links open, against its allowances', () => {
  it('serves a key its allowance at once, the rest as it refills, each message once and in order', () => {
    const room = bob()
    const peer = { id: id('e'), name: 'eve' }
    let now = 1_000
    const got = link(room, peer, now, '10.0.0.1')
    expect(bytesOf(got)).toBeLessThanOrEqual(BUDGET.perKey.burst)
    expect(bytesOf(got)).toBeGreaterThan(BUDGET.perKey.burst - LONGEST)
    let waits = 0
    for (
      let wait = room.catchUpWait(peer.id, now);
      wait !== undefined;
      wait = room.catchUpWait(peer.id, now)
    ) {
      expect(wait).toBeGreaterThan(0)
      now += wait
      const more = drain(room, peer, now)
      expect(more.length).toBeGreaterThan(0)
      got.push(...more)
      if (++waits > 100) throw new Error('catch-up never ends')
    }
    // Everything it lacked, each once, in order per member.
    const seqs = seqsByMember(got)
    for (const member of MEMBERS) expect(seqs[member.id]).toEqual(everySeq())
    expect(bytesOf(got)).toBe(WINDOWS)
    // What went after the burst came at the key's rate, not faster.
    expect(bytesOf(got)).toBeLessThanOrEqual(
      BUDGET.perKey.burst + ((now - 1_000) * BUDGET.perKey.perSecond) / 1_000,
    )
    expect(drain(room, peer, now + 60_000)).toEqual([])
  })

  it('finds a key’s allowance still spent when it reconnects', () => {
    const room = bob()
    const peer = { id: id('e'), name: 'eve' }
    const first = link(room, peer, 1_000, '10.0.0.1')
    room.linkClosed(peer.id)
    const again = link(room, peer, 1_000, '10.0.0.1')
    expect(bytesOf(first) + bytesOf(again)).toBeLessThanOrEqual(BUDGET.perKey.burst)
    // Without the allowance each link would get every window again.
    expect(WINDOWS).toBeGreaterThan(2 * BUDGET.perKey.burst)
  })

  it('shares one allowance among throwaway keys from one source', () => {
    const room = bob()
    let served = 0
    for (let i = 0; i < 10; i++)
      served += bytesOf(link(room, { id: id('f', i), name: `throwaway${i}` }, 1_000, '10.0.0.9'))
    expect(served).toBeLessThanOrEqual(BUDGET.perSource.burst)
    expect(served).toBeGreaterThan(BUDGET.perSource.burst - LONGEST)
    // Ten links from there, each lacking every window: ten times the windows without the allowance.
    expect(10 * WINDOWS).toBeGreaterThan(10 * served)
  })

  it('shares one allowance among keys from many sources, and among keys the node dialed', () => {
    const room = bob()
    let served = 0
    for (let i = 0; i < 10; i++)
      served += bytesOf(
        link(room, { id: id('f', i), name: `k${i}` }, 1_000, i < 5 ? `10.0.1.${i}` : undefined),
      )
    expect(served).toBeLessThanOrEqual(BUDGET.total.burst)
    expect(served).toBeGreaterThan(BUDGET.total.burst - LONGEST)
    expect(room.catchUpServed).toBe(served)
  })

  it('sends news at once while catch-up waits: to the neighbour that waits, and to one caught up', () => {
    const room = bob()
    // Alice linked before: caught up, as any neighbour is once its catch-up went.
    room.linkOpened(ALICE.id, { name: ALICE.name, relays: true, source: '10.0.0.2' })
    room.onAck(
      ALICE.id,
      { type: 'ack', upTo: 0, have: Object.fromEntries(MEMBERS.map((m) => [m.id, PER_MEMBER])) },
      [],
      1_000,
    )
    expect(drain(room, ALICE, 1_000)).toEqual([])
    // Throwaway keys spend every allowance that applies to alice too (the one for all).
    for (let i = 0; i < 10; i++) link(room, { id: id('f', i), name: `k${i}` }, 1_000, `10.0.1.${i}`)
    const eve = { id: id('e'), name: 'eve' }
    link(room, eve, 1_000, '10.0.2.1')
    expect(room.catchUpWait(eve.id, 1_000)).toBeGreaterThan(0)
    // A member's news, and a new member's, accepted after the links resumed.
    const newcomer = { id: id('9'), name: 'newcomer' }
    take(room, CAROL, msgOf(newcomer, 1, 'hello'))
    take(room, CAROL, msgOf(MEMBERS[0]!, PER_MEMBER + 1, 'news'))
    expect(drain(room, eve, 1_000, newcomer.id).map((m) => m.body)).toEqual(['hello'])
    expect(
      drain(room, ALICE, 1_000)
        .map((m) => m.body)
        .sort(),
    ).toEqual(['hello', 'news'])
    // Eve's news of member0 comes after her catch-up of member0, in order.
    expect(drain(room, eve, 1_000, MEMBERS[0]!.id)).toEqual([])
  })

  it('serves a reconnect that lacks what was said meanwhile at once, whole', () => {
    const room = bob()
    const have = Object.fromEntries(MEMBERS.map((m) => [m.id, PER_MEMBER - 3]))
    const got = link(room, ALICE, 1_000, '10.0.0.2', have)
    expect(got.map((m) => m.seq)).toEqual(MEMBERS.flatMap(() => [PER_MEMBER - 2, PER_MEMBER - 1, PER_MEMBER]))
    expect(room.catchUpWait(ALICE.id, 1_000)).toBeUndefined()
  })

  it('gives back what it took for a message the link did not take, so nothing is counted twice', () => {
    const room = bob()
    const peer = { id: id('e'), name: 'eve' }
    room.linkOpened(peer.id, { name: peer.name, relays: true, source: '10.0.0.1' })
    room.onAck(peer.id, { type: 'ack', upTo: 0 }, [], 1_000)
    const written: Msg[] = []
    let roomFor = 3
    const target = {
      writable: () => roomFor > 0,
      write: (m: Msg | { type: string }) => {
        roomFor--
        if (m.type === 'msg') written.push(m as Msg)
      },
    }
    pump(room, peer.id, target, undefined, 1_000)
    expect(written).toHaveLength(3)
    expect(room.catchUpServed).toBe(bytesOf(written))
    // The link drains: the rest goes as the allowance allows, from where it stopped.
    roomFor = Number.POSITIVE_INFINITY
    pump(room, peer.id, target, undefined, 1_000)
    expect(room.catchUpServed).toBe(bytesOf(written))
    expect(bytesOf(written)).toBeLessThanOrEqual(BUDGET.perKey.burst)
    const seqs = seqsByMember(written)
    for (const member of MEMBERS) {
      const got = seqs[member.id] ?? []
      expect(got).toEqual(everySeq().slice(0, got.length))
    }
  })

  it('counts our own messages everyone has as catch-up, and the outbox not', () => {
    const ample = { perSecond: 1, burst: 1 << 20 }
    const room = new Room({
      self: BOB,
      budgets: { catchUp: { perKey: ample, perSource: ample, total: ample } },
    })
    for (let n = 1; n <= 30; n++) room.compose({ id: `own-${n}`, ts: n, body: `${n} ${BODY}` })
    room.seal()
    room.ownDurable(30)
    room.settleOwn(20)
    const got = link(room, { id: id('e'), name: 'eve' }, 1_000, '10.0.0.1')
    expect(got.map((m) => m.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1))
    expect(room.catchUpServed).toBe(bytesOf(got.slice(0, 20)))
  })

  it('counts nothing for a neighbour that restarted without its journal: it gets only what is new', () => {
    const room = bob()
    room.peerRestarted(ALICE.id)
    expect(link(room, ALICE, 1_000, '10.0.0.2')).toEqual([])
    expect(room.catchUpServed).toBe(0)
    expect(room.catchUpWait(ALICE.id, 1_000)).toBeUndefined()
  })
})
