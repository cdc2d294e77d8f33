/**
 * A member that restarted without its journal, whose link to us went before it said anything, reaches us
 * only through a relay whose window of it starts later: it is shown from there, dated by the presence it
 * sent on the link that announced its reset.
 */
import { afterEach, expect, it } from 'vitest'
import { fakeAuth } from '../test/fake-auth.js'
import { A, ALICE, B, BOB, C, CAROL, closeNodes, nodeWorld } from '../test/node-world.js'

afterEach(closeNodes)

it('shows a reset member reached only through a relay whose window of it starts later', async () => {
  const w = nodeWorld()
  // Links prove the keys at both ends, as the secure transport's do.
  const opt = (id: string) => ({ id, auth: fakeAuth(id), transport: w.network.transport('127.0.0.1', id) })
  // A triangle where each link is cut by itself: alice dials bob, bob dials carol, carol dials alice.
  const bob = w.node('bob', B, { ...opt(BOB), peers: [C] })
  const carol = w.node('carol', C, { ...opt(CAROL), peers: [A], windowSize: 3 })
  const first = w.node('alice', A, { ...opt(ALICE), peers: [B] })
  for (const n of [bob, carol, first]) await n.node.start()
  await w.clock.advance(1_000)
  for (const body of ['old 1', 'old 2', 'old 3']) first.node.send(body)
  await w.clock.advance(1_000)
  expect(bob.events.bodies()).toEqual(['old 1', 'old 2', 'old 3'])
  // Alice restarts without her journal: a new numbering. Her link to bob goes before she says anything.
  await first.node.close('restart')
  await w.clock.advance(1_000)
  const alice = w.node('alice', A, { ...opt(ALICE), peers: [B] })
  await alice.node.start()
  await w.clock.advance(1_000)
  expect(bob.node.members().find((m) => m.peer.id === ALICE)?.connected).toBe(true)
  w.network.partition(B)
  // What she writes next only carol gets, while bob's link to carol is down too; carol keeps the last 3.
  w.network.partition(C)
  await w.clock.advance(1_000)
  w.network.heal(A)
  await w.clock.advance(30_000)
  for (const body of ['NEW 1', 'NEW 2', 'NEW 3', 'NEW 4', 'NEW 5', 'NEW 6']) alice.node.send(body)
  await w.clock.advance(1_000)
  expect(carol.events.bodies().slice(-3)).toEqual(['NEW 4', 'NEW 5', 'NEW 6'])
  // Bob reaches carol again, never alice: carol's window of her starts after NEW 3.
  w.network.heal(C)
  await w.clock.advance(60_000)
  expect(bob.events.bodies()).toEqual(['old 1', 'old 2', 'old 3', 'NEW 4', 'NEW 5', 'NEW 6'])
})
