/**
 * A neighbour that takes another name while its link is open: the rename is announced (a `member` event
 * with `renamedFrom`), the room and its session go by the new name, and messages that waited in its outbox
 * under the old name do not rename it back.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { closeNodes, nodeWorld, type TestNode } from '../test/node-world.js'
import { RawPeer } from '../test/raw-peer.js'
import type { Address } from './address.js'

afterEach(closeNodes)

const A: Address = '127.0.0.1:4001'
const B: Address = '127.0.0.1:4002'
const ALICE = '1111111111111111'
const BOB = 'eeeeeeeeeeeeeeee'

/** The names alice was told bob went by, in order, and the names each of his messages was shown under. */
function seenOfBob(alice: TestNode) {
  const renames = alice.events
    .of('member')
    .filter((e) => e.peer.id === BOB && e.renamedFrom !== undefined)
    .map((e) => `${e.renamedFrom} -> ${e.peer.name}`)
  const shownAs = alice.events.of('message').map((m) => `${m.from.name}: ${m.body}`)
  return { renames, shownAs }
}

describe('a neighbour renamed during its session', () => {
  /** Alice and bob linked, bob dialing her (and she him, with `aliceDials`), and bob's first line sent. */
  async function aliceAndBob(aliceDials: boolean, first: string) {
    const w = nodeWorld()
    const alice = w.node('alice', A, { id: ALICE, ...(aliceDials ? { peers: [B] } : {}) })
    const bob = w.node('bob', B, { id: BOB, peers: [A] })
    await alice.node.start()
    await bob.node.start()
    await w.clock.advance(100)
    bob.node.send(first)
    return { w, alice, bob }
  }

  it('is announced under its new name, listed under it, and its leaving and redials are told under it', async () => {
    const { w, alice, bob } = await aliceAndBob(true, 'hi')
    await w.clock.advance(10)
    bob.node.rename('robert')
    bob.node.send('now I am robert')
    await w.clock.advance(10)

    expect(seenOfBob(alice)).toEqual({
      renames: ['bob -> robert'],
      shownAs: ['bob: hi', 'robert: now I am robert'],
    })
    expect(alice.node.members().map((m) => m.peer.name)).toEqual(['robert'])
    await bob.node.close()
    await w.clock.advance(10)
    expect(alice.events.of('disconnected').map((e) => e.peer.name)).toEqual(['robert'])
    const redials = alice.events.of('peer-state').filter((e) => e.state.status === 'reconnecting')
    expect(redials.map((e) => (e.state.status === 'reconnecting' ? e.state.peer.name : ''))).toEqual([
      'robert',
    ])
  })

  it('is not renamed back by messages written under its old name that reach us after its new hello', async () => {
    const { w, alice, bob } = await aliceAndBob(false, 'm1')
    await w.clock.advance(10)
    // Bob loses alice, writes one more line as bob, then renames: that line waits in his outbox.
    w.network.partition(A)
    await w.clock.advance(10)
    bob.node.send('m2')
    bob.node.rename('robert')
    w.network.heal(A)
    for (let i = 0; i < 30 && alice.events.of('message').length < 2; i++) await w.clock.advance(1_000)
    bob.node.send('m3')
    await w.clock.advance(10)

    // Told once, as the new link opened under the new name; m2 then goes by it too.
    expect(seenOfBob(alice)).toEqual({
      renames: ['bob -> robert'],
      shownAs: ['bob: m1', 'robert: m2', 'robert: m3'],
    })
    expect(alice.node.members().map((m) => m.peer.name)).toEqual(['robert'])
  })

  it('shows under its announced name what it claims it wrote before its hello, whatever name that carries', async () => {
    const w = nodeWorld()
    const alice = w.node('alice', A, { id: ALICE })
    await alice.node.start()
    const mallory = new RawPeer(await w.network.transport('127.0.0.1', BOB).dial(A))
    // Its hello claims that its first message was written before it.
    mallory.hello(BOB, 'mallory', ['named:1'])
    await w.clock.advance(0)
    mallory.send({ type: 'ack', upTo: 0, base: 0 })
    mallory.send({ type: 'msg', id: 'm1', seq: 1, ts: 0, from: BOB, body: 'trust me', name: 'carol' })
    await w.clock.advance(0)
    expect(seenOfBob(alice)).toEqual({ renames: [], shownAs: ['mallory: trust me'] })
    // Past its claim, a name of its own choosing is a rename, told as one.
    mallory.send({ type: 'msg', id: 'm2', seq: 2, ts: 0, from: BOB, body: 'really', name: 'carol' })
    await w.clock.advance(0)
    expect(seenOfBob(alice)).toEqual({
      renames: ['mallory -> carol'],
      shownAs: ['mallory: trust me', 'carol: really'],
    })
  })

  /** Alice, and mallory (id BOB) dialing her raw, past its hello (with `caps`) and opening ack. */
  async function malloryWith(caps: string[]) {
    const w = nodeWorld()
    const alice = w.node('alice', A, { id: ALICE })
    await alice.node.start()
    const mallory = new RawPeer(await w.network.transport('127.0.0.1', BOB).dial(A))
    mallory.hello(BOB, 'mallory', caps)
    await w.clock.advance(0)
    mallory.send({ type: 'ack', upTo: 0, base: 0 })
    const say = (seq: number, name: string, body: string) =>
      mallory.send({ type: 'msg', id: `m${seq}`, seq, ts: 0, from: BOB, body, name })
    return { w, alice, say }
  }

  it('announces every name a read of its messages shows, before the first message under it', async () => {
    const { w, alice, say } = await malloryWith(['named:0'])
    say(1, 'alice', 'as alice')
    say(2, 'mallory', 'as mallory')
    await w.clock.advance(0)
    expect(seenOfBob(alice)).toEqual({
      renames: ['mallory -> alice', 'alice -> mallory'],
      shownAs: ['alice: as alice', 'mallory: as mallory'],
    })
    // Each rename came before the first message shown under the new name.
    const order = alice.events.events
      .filter((e) => (e.type === 'member' && e.renamedFrom !== undefined) || e.type === 'message')
      .map((e) => (e.type === 'message' ? e.body : `is ${e.type === 'member' ? e.peer.name : ''}`))
    expect(order).toEqual(['is alice', 'as alice', 'is mallory', 'as mallory'])
  })

  it('shows what came before its hello under the hello name, in the same read as its renames', async () => {
    const { w, alice, say } = await malloryWith(['named:1'])
    say(1, 'x', 'before the hello')
    say(2, 'x', 'signed x')
    say(3, 'y', 'signed y')
    await w.clock.advance(0)
    expect(seenOfBob(alice)).toEqual({
      renames: ['mallory -> x', 'x -> y'],
      shownAs: ['mallory: before the hello', 'x: signed x', 'y: signed y'],
    })
  })

  it('goes by the hello name of a neighbour from an earlier release, which does not say what came before it', async () => {
    const { w, alice, say } = await malloryWith([])
    say(1, 'bob', 'waited in its outbox')
    say(2, 'carol', 'a name it never announced')
    await w.clock.advance(0)
    expect(seenOfBob(alice)).toEqual({
      renames: [],
      shownAs: ['mallory: waited in its outbox', 'mallory: a name it never announced'],
    })
  })

  it('keeps the name of a newer hello when a message taken before it is shown late (its append was slow)', async () => {
    const w = nodeWorld()
    // A disk that takes its time: each append lands only when the test lets it.
    const held: (() => void)[] = []
    const journal = { append: () => new Promise<void>((resolve) => held.push(resolve)) }
    const alice = w.node('alice', A, { id: ALICE, journal })
    await alice.node.start()
    const link = async (name: string, named: number) => {
      const peer = new RawPeer(await w.network.transport('127.0.0.1', BOB).dial(A))
      peer.hello(BOB, name, [`named:${named}`])
      await w.clock.advance(0)
      peer.send({ type: 'ack', upTo: 0, base: 0 })
      await w.clock.advance(0)
      return peer
    }
    const first = await link('bob', 0)
    first.send({ type: 'msg', id: 'm1', seq: 1, ts: 0, from: BOB, body: 'signed x', name: 'x' })
    await w.clock.advance(0)
    first.link.destroy()
    await w.clock.advance(0)
    await link('robert', 1)
    for (let i = 0; i < 10 && held.length > 0; i++) {
      for (const land of held.splice(0)) land()
      await w.clock.advance(0)
    }
    // Shown as signed, each name announced before its message, and back to the hello's name after it.
    expect(seenOfBob(alice)).toEqual({
      renames: ['bob -> robert', 'robert -> x', 'x -> robert'],
      shownAs: ['x: signed x'],
    })
    expect(alice.node.members().map((m) => m.peer.name)).toEqual(['robert'])
    expect(alice.node.sessionsSnapshot().map((s) => s.peer.name)).toEqual(['robert'])
  })
})
