/**
 * A member first seen in old messages a relay catches a newcomer up with is announced as having written in
 * the room (`lastSent`); its presence, when it comes through the mesh, then says it is there now: told once.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { fakeAuth, signedHere, signedMsgs } from '../test/fake-auth.js'
import { A, ALICE, aliceBehindRawRelay, B, BOB, C, CAROL, closeNodes, nodeWorld } from '../test/node-world.js'
import type { Address } from './address.js'
import { PRESENCE_DEFAULTS } from './presence.js'
import { RELAYED_RECENT_MS } from './roster.js'

afterEach(closeNodes)

/** Alice, an hour in, linked to a relay that takes presence; `told()` lists her `member` events of carol. */
async function aliceBehindRelay() {
  const { w, alice, raw } = await aliceBehindRawRelay(3_600_000)
  const told = () => alice.events.of('member').filter((e) => e.peer.id === CAROL)
  return { w, alice, raw, told }
}

describe('a member first seen in old relayed messages', () => {
  it('is told to be in the room when it comes back, over a mesh of nodes', async () => {
    const w = nodeWorld({}, 3_600_000)
    const signing = (name: string, at: Address, id: string, peers: Address[] = []) =>
      w.node(name, at, { id, peers, auth: fakeAuth(id) })
    const bob = signing('bob', B, BOB)
    const carol = signing('carol', C, CAROL, [B])
    await bob.node.start()
    await carol.node.start()
    await w.clock.advance(100)
    carol.node.send('hi')
    await w.clock.advance(100)
    const sent = bob.events.of('message').map((m) => m.ts)
    expect(sent).toHaveLength(1)
    await carol.node.close('quit')
    // Ten minutes later alice joins through bob, who catches her up with carol's message.
    await w.clock.advance(600_000)
    const alice = signing('alice', A, ALICE, [B])
    await alice.node.start()
    await w.clock.advance(100)
    expect(alice.events.bodies()).toEqual(['hi'])
    const told = () => alice.events.of('member').filter((e) => e.peer.id === CAROL)
    expect(told()).toEqual([expect.objectContaining({ via: 'relay', lastSent: sent[0] })])
    // Carol comes back: her presence reaches alice through bob.
    const back = signing('carol', C, CAROL, [B])
    await back.node.start()
    await w.clock.advance(100)
    expect(told()).toHaveLength(2)
    expect(told()[1]).toEqual({
      type: 'member',
      peer: { id: CAROL, name: 'carol' },
      via: 'relay',
      hereAt: expect.any(Number),
    })
    await w.clock.advance(PRESENCE_DEFAULTS.everyMs * 2)
    expect(told()).toHaveLength(2)
  })

  it('is told to be in the room when its presence comes, once', async () => {
    const { w, alice, raw, told } = await aliceBehindRelay()
    const t = w.clock.now()
    const sent = t - 10 * 60_000
    for (const msg of signedMsgs(CAROL, ['carol', sent, 'hi'])) raw.send(msg)
    await w.clock.advance(10)
    expect(alice.events.bodies()).toEqual(['hi'])
    expect(told()).toEqual([
      { type: 'member', peer: { id: CAROL, name: 'carol' }, via: 'relay', lastSent: sent },
    ])
    raw.send(signedHere(CAROL, 'carol', t + 10))
    await w.clock.advance(10)
    expect(told().slice(1)).toEqual([
      { type: 'member', peer: { id: CAROL, name: 'carol' }, via: 'relay', hereAt: t + 10 },
    ])
    // Her next presences say nothing new.
    raw.send(signedHere(CAROL, 'carol', t + 20))
    await w.clock.advance(60_000)
    raw.send(signedHere(CAROL, 'carol', w.clock.now()))
    await w.clock.advance(10)
    expect(told()).toHaveLength(2)
    expect(raw.closed).toBe(false)
  })

  it('is not told to be there by a presence dated before its old messages, which a relay held back', async () => {
    const { w, alice, raw, told } = await aliceBehindRelay()
    const t = w.clock.now()
    const sent = t - 5 * 60_000
    for (const msg of signedMsgs(CAROL, ['carol', sent, 'hi'])) raw.send(msg)
    await w.clock.advance(10)
    // Still within presence's expiry, yet older than the message that was too old to say she is there.
    raw.send(signedHere(CAROL, 'carol', t - 9 * 60_000))
    await w.clock.advance(10)
    raw.send(signedHere(CAROL, 'carol', sent))
    await w.clock.advance(10)
    expect(alice.node.members().map((m) => m.peer.id)).toContain(CAROL)
    expect(told()).toEqual([
      { type: 'member', peer: { id: CAROL, name: 'carol' }, via: 'relay', lastSent: sent },
    ])
    // One dated after them says she is there.
    raw.send(signedHere(CAROL, 'carol', sent + 1))
    await w.clock.advance(10)
    expect(told().slice(1)).toEqual([
      { type: 'member', peer: { id: CAROL, name: 'carol' }, via: 'relay', hereAt: sent + 1 },
    ])
    expect(raw.closed).toBe(false)
  })

  it('is told with its new name, and that it is there, when its presence renames it', async () => {
    const { w, raw, told } = await aliceBehindRelay()
    const t = w.clock.now()
    for (const msg of signedMsgs(CAROL, ['carol', t - 10 * 60_000, 'hi'])) raw.send(msg)
    await w.clock.advance(10)
    raw.send(signedHere(CAROL, 'caroline', t + 10))
    await w.clock.advance(10)
    expect(told().map((e) => [e.peer.name, e.renamedFrom, e.hereAt])).toEqual([
      ['carol', undefined, undefined],
      ['caroline', 'carol', t + 10],
    ])
  })
})

describe('a member already said to be in the room', () => {
  it('is not told again when its presence follows its recent relayed messages', async () => {
    const { w, raw, told } = await aliceBehindRelay()
    const t = w.clock.now()
    const sent = t - RELAYED_RECENT_MS + 1_000
    for (const msg of signedMsgs(CAROL, ['carol', sent, 'hi'])) raw.send(msg)
    await w.clock.advance(10)
    raw.send(signedHere(CAROL, 'carol', t + 10))
    await w.clock.advance(10)
    expect(told()).toEqual([
      { type: 'member', peer: { id: CAROL, name: 'carol' }, via: 'relay', lastSent: sent },
    ])
  })

  it('is told again as it comes back after it said it left, as a member that is there', async () => {
    const { w, alice, raw, told } = await aliceBehindRelay()
    const t = w.clock.now()
    raw.send(signedHere(CAROL, 'carol', t))
    await w.clock.advance(10)
    raw.send(signedHere(CAROL, 'carol', t + 20, 'gone'))
    await w.clock.advance(10)
    expect(alice.events.of('member-left').map((e) => [e.peer.id, e.at])).toEqual([[CAROL, t + 20]])
    raw.send(signedHere(CAROL, 'carol', t + 30))
    await w.clock.advance(10)
    expect(told()).toEqual([
      { type: 'member', peer: { id: CAROL, name: 'carol' }, via: 'relay' },
      { type: 'member', peer: { id: CAROL, name: 'carol' }, via: 'relay' },
    ])
  })

  it('is told there once when, seen in old messages, it leaves and comes back', async () => {
    const { w, alice, raw, told } = await aliceBehindRelay()
    const t = w.clock.now()
    const sent = t - 10 * 60_000
    for (const msg of signedMsgs(CAROL, ['carol', sent, 'hi'])) raw.send(msg)
    await w.clock.advance(10)
    raw.send(signedHere(CAROL, 'carol', t + 10, 'gone'))
    await w.clock.advance(10)
    expect(alice.events.of('member-left')).toHaveLength(1)
    raw.send(signedHere(CAROL, 'carol', t + 20))
    await w.clock.advance(10)
    raw.send(signedHere(CAROL, 'carol', t + 30))
    await w.clock.advance(10)
    expect(told()).toEqual([
      { type: 'member', peer: { id: CAROL, name: 'carol' }, via: 'relay', lastSent: sent },
      { type: 'member', peer: { id: CAROL, name: 'carol' }, via: 'relay' },
    ])
  })
})
