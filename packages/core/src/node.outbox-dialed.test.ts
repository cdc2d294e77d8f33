/**
 * The outbox waits for an address this node dials until it answers: a first contact, or a neighbour the
 * member table forgot to make room while it was away, is never settled past.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { A, ALICE, B, BOB, bodies, C, CAROL, D, DAVE, durable, lines, say } from '../test/durable-world.js'
import { closeNodes, nodeWorld } from '../test/node-world.js'

afterEach(closeNodes)

describe('the outbox and dialed addresses that have not answered', () => {
  it('first contact: a dialed peer never met yet, away while a stranger acks', async () => {
    const w = nodeWorld()
    const alice = durable(w, 'alice', ALICE, A)
    const a = await alice.start({ peers: [B] })
    const carol = w.node('carol', C, { id: CAROL, peers: [A] })
    await carol.node.start()
    await w.clock.advance(100)
    await say(w, a, lines(1, 1_500))
    expect(bodies(carol)).toEqual(lines(1, 1_500))
    // alice dials B and bob has not answered yet: nothing should count as delivered to him
    const pendingBeforeBob = a.node.pending
    const bob = w.node('bob', B, { id: BOB })
    await bob.node.start()
    for (let i = 0; i < 20 && bodies(bob).length < 1_500; i++) await w.clock.advance(1_000)
    expect({ pendingBeforeBob, bob: bodies(bob).length, first: bodies(bob)[0] }).toEqual({
      pendingBeforeBob: 1_500,
      bob: 1_500,
      first: 'm1',
    })
  })

  it('after a restart, a dialed neighbour not answered yet is forgotten to make room, and settled past', async () => {
    const w = nodeWorld()
    const alice = durable(w, 'alice', ALICE, A, { maxOrigins: 2, windowSize: 10 })
    const bob = durable(w, 'bob', BOB, B)
    let b = await bob.start()
    let a = await alice.start({ peers: [B] })
    await w.clock.advance(100)
    await say(w, a, ['m1'])
    expect(bodies(b)).toEqual(['m1'])
    await b.node.close()
    await a.node.close()
    a = await alice.start({ peers: [B] })
    const carol = w.node('carol', C, { id: CAROL, peers: [A] })
    await carol.node.start()
    const dave = w.node('dave', D, { id: DAVE, peers: [A] })
    await dave.node.start()
    await w.clock.advance(100)
    await say(w, a, lines(2, 50))
    expect(bodies(carol)).toEqual(lines(1, 50))
    const pendingWhileBobAway = a.node.pending
    await a.node.close()
    const outboxOnDisk = alice.outbox().length
    a = await alice.start({ peers: [B] })
    b = await bob.start()
    for (let i = 0; i < 20 && bodies(b).length < 50; i++) await w.clock.advance(1_000)
    expect({ pendingWhileBobAway, outboxOnDisk, bob: bodies(b) }).toEqual({
      pendingWhileBobAway: 49,
      outboxOnDisk: 49,
      bob: lines(2, 50),
    })
  })

  it('a dialed address that turned out to be this node itself holds nothing back', async () => {
    const w = nodeWorld()
    const alice = durable(w, 'alice', ALICE, A)
    // A typo or a copied command: alice also dials her own address, which she gives up on.
    const a = await alice.start({ peers: [A] })
    const carol = w.node('carol', C, { id: CAROL, peers: [A] })
    await carol.node.start()
    await w.clock.advance(100)
    await say(w, a, lines(1, 3))
    expect(bodies(carol)).toEqual(lines(1, 3))
    for (let i = 0; i < 5 && a.node.pending > 0; i++) await w.clock.advance(1_000)
    expect(a.node.pending).toBe(0)
  })

  it('nor does one connected to later, at the prompt', async () => {
    const w = nodeWorld()
    const alice = durable(w, 'alice', ALICE, A)
    const a = await alice.start()
    const carol = w.node('carol', C, { id: CAROL, peers: [A] })
    await carol.node.start()
    await w.clock.advance(100)
    // Said while that dial is still on its way: it may be anyone until it answers.
    a.node.connect(A)
    await say(w, a, lines(1, 3))
    expect(bodies(carol)).toEqual(lines(1, 3))
    for (let i = 0; i < 5 && a.node.pending > 0; i++) await w.clock.advance(1_000)
    expect(a.node.pending).toBe(0)
  })

  it('nor one given up on before any neighbour came', async () => {
    const w = nodeWorld()
    const alice = durable(w, 'alice', ALICE, A)
    const a = await alice.start()
    a.node.connect(A)
    await w.clock.advance(1_000)
    await say(w, a, lines(1, 3))
    const carol = w.node('carol', C, { id: CAROL, peers: [A] })
    await carol.node.start()
    for (let i = 0; i < 5 && bodies(carol).length < 3; i++) await w.clock.advance(1_000)
    expect(bodies(carol)).toEqual(lines(1, 3))
    for (let i = 0; i < 5 && a.node.pending > 0; i++) await w.clock.advance(1_000)
    expect(a.node.pending).toBe(0)
  })
})
