/**
 * A member known only through a relay is announced with when its newest message was sent: messages a
 * neighbour relays to a node that joins later say the member wrote in the room, not that it is there now.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { A, ALICE, B, BOB, C, CAROL, closeNodes, nodeWorld } from '../test/node-world.js'

afterEach(closeNodes)

describe('a member known through a relay', () => {
  it('is announced with the send time of the newest message it was first seen in', async () => {
    const w = nodeWorld()
    const bob = w.node('bob', B, { id: BOB })
    // A carol that says nothing of her presence (an earlier release): she is known by her messages only.
    const carol = w.node('carol', C, { id: CAROL, peers: [B], presence: false })
    await bob.node.start()
    await carol.node.start()
    await w.clock.advance(100)
    carol.node.send('first')
    await w.clock.advance(1_000)
    carol.node.send('second')
    await w.clock.advance(100)
    const sent = bob.events.of('message').map((m) => m.ts)
    expect(sent).toHaveLength(2)
    // Ten minutes later alice joins through bob, who relays carol's messages to her.
    await w.clock.advance(600_000)
    const alice = w.node('alice', A, { id: ALICE, peers: [B] })
    await alice.node.start()
    await w.clock.advance(100)
    expect(alice.events.of('message').map((m) => m.body)).toEqual(['first', 'second'])
    const announced = alice.events.of('member').filter((e) => e.peer.id === CAROL)
    // Announced on the first of its messages to arrive; the second came in a later read.
    expect(announced).toEqual([expect.objectContaining({ via: 'relay', lastSent: sent[0] })])
  })
})
