import { afterEach, describe, expect, it } from 'vitest'
import { fakeAuth } from '../test/fake-auth.js'
import { closeNodes, nodeWorld, type TestNode } from '../test/node-world.js'
import { RawPeer } from '../test/raw-peer.js'
import type { Address } from './address.js'
import { type JournalRecord, restore } from './journal.js'
import { makeHello } from './link-machine.js'
import type { NodeOptions } from './node-types.js'
import { MEMBER_DEFAULTS, MemberRoom, Roster } from './roster.js'
import { Sessions } from './sessions.js'

const ALICE = '0000000000000000'
const BOB = 'b0b0b0b0b0b0b0b0'
const CAROL = 'ca01ca01ca01ca01'
const DAVE = 'da7eda7eda7eda7e'
const A: Address = '127.0.0.1:4001'
const B: Address = '127.0.0.1:4002'
const C: Address = '127.0.0.1:4003'
const D: Address = '127.0.0.1:4004'
const VOUCH_MS = 60_000

afterEach(closeNodes)

function world() {
  const base = nodeWorld()
  const { network, clock } = base
  const node = (name: string, listen: Address, extra: Partial<NodeOptions> = {}): TestNode =>
    base.node(name, listen, { memberVouchMs: VOUCH_MS, ...extra })
  /** A throwaway key that dials alice, says `lines` (seq 1 up) and leaves. */
  const throwaway = async (
    id: string,
    lines: string[],
    options: { instance?: string; from?: number } = {},
  ) => {
    const peer = new RawPeer(await network.transport(`127.0.1.${(lines.length % 200) + 1}`).dial(A))
    peer.send(makeHello({ id, name: `t-${id.slice(-4)}`, instance: options.instance ?? 'raw-1' }, []))
    await clock.advance(0)
    peer.send({ type: 'ack', upTo: 0, base: 0 })
    lines.forEach((body, i) => {
      const seq = (options.from ?? 1) + i
      peer.send({ type: 'msg', id: `${id}-${seq}`, seq, ts: 0, from: id, body })
    })
    await clock.advance(0)
    peer.link.destroy()
    await clock.advance(0)
  }
  return { network, clock, node, throwaway }
}

const throwawayId = (i: number) => `f${i.toString(16).padStart(15, '0')}`
const bodies = (n: TestNode) => n.events.events.flatMap((e) => (e.type === 'message' ? [e.body] : []))
const refusals = (n: TestNode) =>
  n.events.events.filter((e) => e.type === 'link-error' && e.code === 'TOO_MANY_ORIGINS')

/** Alice with room for `cap` members, and bob, a neighbour that has stayed connected long enough to vouch. */
async function aliceWithBob(cap: number, extra: Partial<NodeOptions> = {}) {
  const w = world()
  const alice = w.node('alice', A, { id: ALICE, maxOrigins: cap, ...extra })
  await alice.node.start()
  const bob = w.node('bob', B, { id: BOB, peers: [A] })
  await bob.node.start()
  await w.clock.advance(VOUCH_MS)
  return { ...w, alice, bob }
}

/** Carol, reached by alice only through bob, says `body`. */
async function carolSays(w: Awaited<ReturnType<typeof aliceWithBob>>, body: string) {
  const carol = w.node('carol', C, { id: CAROL, peers: [B] })
  await carol.node.start()
  await w.clock.advance(0)
  carol.node.send(body)
  await w.clock.advance(0)
  return carol
}

describe('a full member table', () => {
  it('throwaway keys that dial in, say one line and leave (cap 20, 22 keys) never lock out a member who joins later', async () => {
    const w = await aliceWithBob(20)
    for (let i = 0; i < 22; i++) await w.throwaway(throwawayId(i), [`spam ${i}`])
    expect(bodies(w.alice)).toHaveLength(22)
    await carolSays(w, 'hi from carol')
    expect(bodies(w.alice)).toContain('hi from carol')
    expect(refusals(w.alice)).toEqual([])
    // Bob, the honest relay, was never dropped, and the table stays within its cap.
    expect(w.alice.events.events.filter((e) => e.type === 'disconnected')).toHaveLength(22)
    expect(w.alice.node.members().length).toBeLessThanOrEqual(20)
    expect(w.alice.node.members().map((m) => m.peer.id)).toEqual(expect.arrayContaining([BOB, CAROL]))
  })

  it('forgets throwaway keys before a member a long-lived neighbour relayed, even one that spoke first', async () => {
    const w = await aliceWithBob(5)
    await carolSays(w, 'carol was here first')
    for (let i = 0; i < 12; i++) await w.throwaway(throwawayId(i), [`spam ${i}`])
    const ids = w.alice.node.members().map((m) => m.peer.id)
    expect(ids).toEqual(expect.arrayContaining([BOB, CAROL]))
    expect(ids).toHaveLength(5)
    expect(refusals(w.alice)).toEqual([])
  })

  it('a vouch lapses with inactivity: a member silent longer than memberIdleMs goes before a fresh newcomer', async () => {
    const w = await aliceWithBob(3, { memberIdleMs: 120_000 })
    await carolSays(w, 'carol, long ago')
    await w.clock.advance(130_000)
    await w.throwaway(throwawayId(1), ['fresh'])
    expect(
      w.alice.node
        .members()
        .map((m) => m.peer.id)
        .sort(),
    ).toEqual([BOB, CAROL, throwawayId(1)].sort())
    // Dave, relayed by bob, needs a place: carol has been silent too long, the stranger spoke just now.
    const dave = w.node('dave', D, { id: DAVE, peers: [B] })
    await dave.node.start()
    await w.clock.advance(0)
    dave.node.send('hi from dave')
    await w.clock.advance(0)
    expect(bodies(w.alice)).toContain('hi from dave')
    expect(
      w.alice.node
        .members()
        .map((m) => m.peer.id)
        .sort(),
    ).toEqual([BOB, DAVE, throwawayId(1)].sort())
  })

  it('never forgets a member whose link is open or a peer it dials', async () => {
    const w = world()
    const alice = w.node('alice', A, { id: ALICE, maxOrigins: 2, peers: [B] })
    const bob = w.node('bob', B, { id: BOB })
    await bob.node.start()
    await alice.node.start()
    await w.clock.advance(0)
    // Bob is dialed by alice but not yet long-lived; the strangers come and go.
    for (let i = 0; i < 5; i++) await w.throwaway(throwawayId(i), [`spam ${i}`])
    expect(alice.node.members().map((m) => m.peer.id)).toContain(BOB)
    bob.node.send('still here')
    await w.clock.advance(0)
    expect(bodies(alice)).toContain('still here')
  })
})

describe('a forgotten member that comes back', () => {
  it('is not shown what it said before it was forgotten, only what is new', async () => {
    const w = await aliceWithBob(5)
    const returning = throwawayId(999)
    await w.throwaway(returning, ['one'])
    for (let i = 0; i < 8; i++) await w.throwaway(throwawayId(i), [`spam ${i}`])
    expect(w.alice.node.members().map((m) => m.peer.id)).not.toContain(returning)
    await w.throwaway(returning, ['one', 'two'])
    expect(bodies(w.alice).filter((b) => b === 'one' || b === 'two')).toEqual(['one', 'two'])
    // Its name was announced once: coming back is not a new arrival.
    expect(w.alice.events.events.filter((e) => e.type === 'member' && e.peer.id === returning)).toHaveLength(
      1,
    )
  })

  it('is heard from seq 1 again when it restarted without its journal (a new epoch)', async () => {
    const w = await aliceWithBob(5)
    const returning = throwawayId(999)
    await w.throwaway(returning, ['before'])
    for (let i = 0; i < 8; i++) await w.throwaway(throwawayId(i), [`spam ${i}`])
    await w.throwaway(returning, ['after a fresh start'], { instance: 'raw-2' })
    expect(bodies(w.alice)).toContain('after a fresh start')
  })
})

describe('a restart', () => {
  it('does not bring back a full table: a member who joins after the restart gets in, and no old line is shown twice', async () => {
    const records: JournalRecord[] = []
    const journal = { append: async (r: readonly JournalRecord[]) => void records.push(...r) }
    const w = await aliceWithBob(20, { journal })
    for (let i = 0; i < 22; i++) await w.throwaway(throwawayId(i), [`spam ${i}`])
    w.bob.node.send('bob, after the strangers')
    await w.clock.advance(0)
    await w.alice.node.close()
    const restored = restore(records, { id: ALICE, name: 'alice' })
    expect(restored.peers.size).toBeGreaterThan(20)

    const again = w.node('alice', A, { id: ALICE, maxOrigins: 20, journal, restored })
    // The table is trimmed before the node starts, the members that spoke least recently first.
    expect(again.node.members()).toHaveLength(20)
    expect(again.node.members().map((m) => m.peer.id)).toContain(BOB)
    await again.node.start()
    await w.clock.advance(1_000)
    // Every stranger comes back to repeat itself: none of it is shown again.
    for (let i = 0; i < 22; i++) await w.throwaway(throwawayId(i), [`spam ${i}`])
    expect(bodies(again)).toEqual([])
    const carol = w.node('carol', C, { id: CAROL, peers: [B] })
    await carol.node.start()
    await w.clock.advance(0)
    carol.node.send('hi after the restart')
    await w.clock.advance(0)
    expect(bodies(again)).toEqual(['hi after the restart'])
    expect(refusals(again)).toEqual([])
    expect(again.node.members().length).toBeLessThanOrEqual(20)
  })
})

describe('what the roster keeps', () => {
  it('stays bounded by the member table when a relay keeps inventing members it then drops', () => {
    const cap = 8
    const room = new MemberRoom({
      self: { id: 'b'.repeat(64), name: 'bob' },
      maxOrigins: cap,
      auth: fakeAuth('b'),
    })
    const sessions = new Sessions(() => ({ tokens: 0, bytes: 0, refilledAt: 0 }))
    const roster = new Roster(room, sessions, {
      vouchAfterMs: VOUCH_MS,
      idleMs: MEMBER_DEFAULTS.idleMs,
      dials: () => false,
      now: () => 0,
      reachOf: () => undefined,
    })
    const relay = 'a'.repeat(64)
    for (let round = 0; round < 100; round++) {
      room.linkOpened(relay, { name: 'relay', relays: true })
      room.onAck(relay, { type: 'ack', upTo: 0 })
      for (let i = 0; i < 20; i++) {
        const from = (round * 20 + i).toString(16).padStart(64, 'f')
        // A message past a gap, of a member nobody knows: held unchecked, and dropped with the link.
        room.receive(
          relay,
          { type: 'msg', id: `x-${round}-${i}`, seq: 3, ts: 0, from, body: 'made up' },
          false,
        )
        expect(room.holds(from)).toBe(true)
        roster.relayed(from, relay)
      }
      room.linkClosed(relay)
    }
    expect(room.memberCount).toBeLessThanOrEqual(cap)
    // Per member: its name, when it was seen and active, who relayed it; forgotten ones up to ten a place.
    expect(roster.held).toBeLessThanOrEqual(4 * (2 * cap + 16) + cap * MEMBER_DEFAULTS.forgottenPerPlace)
  })
})

describe('places of members known only by their presence', () => {
  const here = (from: string) => {
    const frame = { type: 'here' as const, from, name: `m-${from.slice(-2)}`, ts: 1, state: 'here' as const }
    return { ts: 1, state: 'here' as const, frame, heldAt: 1 }
  }
  const member = (i: number) => i.toString(16).padStart(64, 'e')

  it('are counted as they stand: a member brought by a presence and known otherwise since no longer counts', () => {
    const room = new MemberRoom({ self: { id: 'b'.repeat(64), name: 'bob' }, maxOrigins: 4 })
    const [relayA, relayB] = ['a'.repeat(64), 'c'.repeat(64)]
    // Neighbour A brings three members by their presence alone; the table (four places) is then full.
    for (const i of [1, 2, 3]) expect(room.holdHere(member(i), 'm', here(member(i)), relayA)).toBe(true)
    expect(room.holdHere(member(4), 'm', here(member(4)), relayA)).toBe(true)
    // A neighbour holding none may take one of A's four (it brought at least two more).
    expect(room.presencePlaceFor(relayB)).toBe(member(1))
    // Three of them link to this node once: known beyond their presence, they hold no such place now.
    for (const i of [1, 2, 3]) {
      room.linkOpened(member(i), { name: 'm', relays: true })
      room.linkClosed(member(i))
      expect(room.knownBeyondPresence(member(i))).toBe(true)
    }
    // A holds one such place: not two more than B's none, so it keeps it.
    expect(room.presencePlaceFor(relayB)).toBeUndefined()
  })
})
