/**
 * A peer that refuses this node after the handshake, because it holds another key for the address this
 * node announces (its known_peers, a pin), says why in its bye: the dialing node tells it once as a
 * refusal of its key and stops dialing, as for a handshake refused by an allowlist, instead of redialing
 * in silence until its wait ends.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { A, B, closeNodes, nodeWorld } from '../test/node-world.js'

afterEach(closeNodes)

describe('a peer that refuses the address this node announces', () => {
  it('is told as a refusal of this node, once, and not dialed again', async () => {
    const w = nodeWorld()
    const why = 'peer announcing 127.0.0.1:4001: WARNING: THE KEY OF PEER 127.0.0.1:4001 HAS CHANGED!'
    const bob = w.node('bob', B, { checkPeer: (_id, listen) => (listen === A ? why : undefined) })
    await bob.node.start()
    const alice = w.node('alice', A, { peers: [B] })
    await alice.node.start()
    for (let i = 0; i < 50; i++) await w.clock.advance(1_000)

    const refused = alice.events.of('dial-error')
    expect(refused).toHaveLength(1)
    expect(refused[0]).toMatchObject({ target: B, code: 'REFUSED' })
    expect(refused[0]!.message).toContain(why)
    // Bob's hello may come before his bye (then alice saw him connect for a moment), or not: either way,
    // one refusal is told and the peer is given up on.
    expect(alice.node.peerStates()).toEqual([
      {
        target: B,
        state: expect.objectContaining({
          status: 'failed',
          error: expect.objectContaining({ code: 'REFUSED' }),
        }),
      },
    ])
    // Bob saw one link and refused it: alice did not come back.
    expect(bob.events.of('link-error').filter((e) => e.code === 'UNTRUSTED')).toHaveLength(1)
  })
})
