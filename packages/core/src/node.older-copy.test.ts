/**
 * A data dir restored from an older copy: its numbering goes back behind what a peer has seen, so the
 * messages it sends next would repeat seqs the peer already has. They must stay in the outbox, never be
 * reported delivered, and the user must be told, in that run and the next.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { A, ALICE, B, BOB, bodies, C, CAROL, durable, say } from '../test/durable-world.js'
import { closeNodes, nodeWorld, type TestNode } from '../test/node-world.js'
import type { JournalRecord } from './journal.js'

afterEach(closeNodes)

/** Bob, and durable alice dialing him: she says `lines` to him, then stops. */
async function saidThenStopped(lines: string[]) {
  const w = nodeWorld()
  const bob = w.node('bob', B, { id: BOB })
  await bob.node.start()
  const alice = durable(w, 'alice', ALICE, A)
  const a = await alice.start({ peers: [B] })
  await w.clock.advance(100)
  await say(w, a, lines)
  await a.node.close()
  return { w, bob, alice }
}

/** Alice sends `first`, her journal is copied, she sends `second` and `third`, then the copy is put back. */
async function restoredFromOlderCopy() {
  const { w, bob, alice } = await saidThenStopped(['first'])
  const copy: JournalRecord[] = [...alice.records]
  const a = await alice.start({ peers: [B] })
  await w.clock.advance(100)
  await say(w, a, ['second', 'third'])
  expect(a.node.pending).toBe(0)
  await a.node.close()
  alice.records.splice(0, alice.records.length, ...copy)
  return { w, bob, alice }
}

const delivered = (n: TestNode) => n.events.of('delivered').map((e) => e.seq)

describe('a data dir restored from an older copy', () => {
  it('keeps what it sends next in the outbox, undelivered, when it was written before the peer answered', async () => {
    const { w, bob, alice } = await restoredFromOlderCopy()
    const a = await alice.start({ peers: [B] })
    for (const text of ['after 1', 'after 2', 'after 3']) a.node.send(text)
    await w.clock.advance(100)
    await w.clock.advance(1_000)
    expect(bodies(bob)).toEqual(['first', 'second', 'third'])
    expect(delivered(a)).toEqual([])
    expect(a.node.pending).toBe(3)
    expect(a.events.of('forked')).toEqual([
      { type: 'forked', peer: { id: BOB, name: 'bob' }, upTo: 3, newest: 4, pending: 3 },
    ])
    await a.node.close()
    expect(alice.outbox()).toEqual(['after 1', 'after 2', 'after 3'])
  })

  it('sends nothing more of its own once the peer said it has more of its stream than it made', async () => {
    const { w, bob, alice } = await restoredFromOlderCopy()
    const a = await alice.start({ peers: [B] })
    await w.clock.advance(100)
    expect(a.events.of('forked')).toMatchObject([{ upTo: 3, newest: 1, pending: 0 }])
    await say(w, a, ['after 1', 'after 2', 'after 3'])
    await w.clock.advance(1_000)
    expect(bodies(bob)).toEqual(['first', 'second', 'third'])
    expect(delivered(a)).toEqual([])
    expect(a.node.pending).toBe(3)
  })

  it('holds back only the peer that saw more, and keeps them in the outbox while it waits for that peer', async () => {
    const { w, bob, alice } = await restoredFromOlderCopy()
    const carol = w.node('carol', C, { id: CAROL })
    await carol.node.start()
    const a = await alice.start({ peers: [B, C] })
    await w.clock.advance(100)
    await say(w, a, ['after 1', 'after 2', 'after 3'])
    await w.clock.advance(1_000)
    expect(bodies(carol)).toEqual(['first', 'after 1', 'after 2', 'after 3'])
    expect(bodies(bob)).toEqual(['first', 'second', 'third'])
    expect(a.events.of('delivered').map((e) => e.to.name)).toEqual(['carol', 'carol', 'carol'])
    expect(a.events.of('forked').map((e) => e.peer.name)).toEqual(['bob'])
    expect(a.node.pending).toBe(3)
  })

  it('still holds them back in the next run, when its newest seq is past what the peer has', async () => {
    const { w, bob, alice } = await restoredFromOlderCopy()
    let a = await alice.start({ peers: [B] })
    for (const text of ['after 1', 'after 2', 'after 3']) a.node.send(text)
    await w.clock.advance(100)
    await a.node.close()
    a = await alice.start({ peers: [B] })
    await w.clock.advance(100)
    await w.clock.advance(1_000)
    expect(bodies(bob)).toEqual(['first', 'second', 'third'])
    expect(delivered(a)).toEqual([])
    expect(a.node.pending).toBe(3)
    expect(a.events.of('forked')).toMatchObject([{ upTo: 3, newest: 4 }])
  })

  it('is not told apart from a node restarted with its whole journal when none was restored', async () => {
    const { w, bob, alice } = await saidThenStopped(['first', 'second'])
    const a = await alice.start({ peers: [B] })
    await w.clock.advance(100)
    await say(w, a, ['third'])
    expect(bodies(bob)).toEqual(['first', 'second', 'third'])
    expect(delivered(a)).toEqual([3])
    expect(a.events.of('forked')).toEqual([])
  })
})
