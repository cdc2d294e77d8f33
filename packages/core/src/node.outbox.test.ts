/**
 * What stays in the outbox across restarts: every message a peer we dial has not acknowledged, never a
 * message only a stranger that dialed in once and left did not acknowledge.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { A, ALICE, B, BOB, bodies, C, CAROL, durable, lines, say } from '../test/durable-world.js'
import { closeNodes, nodeWorld } from '../test/node-world.js'

afterEach(closeNodes)

describe('the outbox across restarts', () => {
  it('is not pinned by a stranger that dialed in once and left', async () => {
    const w = nodeWorld()
    const alice = durable(w, 'alice', ALICE, A)
    const bob = w.node('bob', B, { id: BOB })
    await bob.node.start()
    let a = await alice.start({ peers: [B] })
    const carol = w.node('carol', C, { id: CAROL, peers: [A] })
    await carol.node.start()
    await w.clock.advance(100)
    await say(w, a, ['m1'])
    expect(bodies(carol)).toEqual(['m1'])
    await carol.node.close()
    await w.clock.advance(100)
    await say(w, a, lines(2, 2_500))
    expect(bodies(bob)).toEqual(lines(1, 2_500))
    await a.node.close()
    // Carol acknowledged m1 only, but alice does not dial her: nothing waits for her.
    expect(alice.outbox()).toEqual([])
    a = await alice.start({ peers: [B] })
    expect(a.node.pending).toBe(0)
  })

  it('keeps for a peer we dial, offline across a restart, what a stranger acknowledged meanwhile', async () => {
    const w = nodeWorld()
    const alice = durable(w, 'alice', ALICE, A)
    const bob = durable(w, 'bob', BOB, B)
    let b = await bob.start()
    let a = await alice.start({ peers: [B] })
    await w.clock.advance(100)
    await say(w, a, ['m1'])
    expect(bodies(b)).toEqual(['m1'])
    await b.node.close()
    await a.node.close()
    // Alice comes back while bob is away: her dial does not know it is bob until he answers.
    a = await alice.start({ peers: [B] })
    const carol = w.node('carol', C, { id: CAROL, peers: [A] })
    await carol.node.start()
    await w.clock.advance(100)
    await say(w, a, lines(2, 1_501))
    expect(bodies(carol)).toEqual(lines(1, 1_501))
    await a.node.close()
    expect(alice.outbox()).toEqual(lines(2, 1_501))
    // And in the next run, bob gets every line once, in order, though carol is still there.
    a = await alice.start({ peers: [B] })
    await w.clock.advance(100)
    await say(w, a, ['m1502'])
    b = await bob.start()
    for (let i = 0; i < 20 && bodies(b).length < 1_501; i++) await w.clock.advance(1_000)
    expect(bodies(b)).toEqual(lines(2, 1_502))
  })

  it('keeps for a peer we dial, within one run after a restart, what a stranger acknowledged before he answered', async () => {
    const w = nodeWorld()
    const alice = durable(w, 'alice', ALICE, A)
    const bob = durable(w, 'bob', BOB, B)
    let b = await bob.start()
    let a = await alice.start({ peers: [B] })
    await w.clock.advance(100)
    await say(w, a, ['m1'])
    await b.node.close()
    await a.node.close()
    a = await alice.start({ peers: [B] })
    const carol = w.node('carol', C, { id: CAROL, peers: [A] })
    await carol.node.start()
    await w.clock.advance(100)
    await say(w, a, lines(2, 1_501))
    expect(bodies(carol)).toEqual(lines(1, 1_501))
    b = await bob.start()
    for (let i = 0; i < 20 && bodies(b).length < 1_500; i++) await w.clock.advance(1_000)
    expect(bodies(b)).toEqual(lines(2, 1_501))
  })
})
