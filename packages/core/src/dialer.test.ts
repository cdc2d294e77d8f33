import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../test/manual-clock.js'
import { MemoryNetwork } from '../test/memory-transport.js'
import { RawPeer } from '../test/raw-peer.js'
import type { Address } from './address.js'
import { makeHello } from './link-machine.js'
import { ParleyNode } from './node.js'
import type { NodeEvent, NodeOptions } from './node-types.js'

const ALICE = '1111111111111111'
const BOB = '8888888888888888'
const STRANGER = 'eeeeeeeeeeeeeeee'
const A: Address = '127.0.0.1:4001'
const B: Address = '127.0.0.1:4002'

const running: ParleyNode[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((n) => n.close('test over')))
})

function world() {
  const network = new MemoryNetwork()
  const clock = new ManualClock()
  const node = (name: string, listen: Address, extra: Partial<NodeOptions> = {}) => {
    const n = new ParleyNode({
      transport: network.transport(),
      clock,
      name,
      listen,
      random: () => 0.5,
      ...extra,
    })
    running.push(n)
    const events: NodeEvent[] = []
    n.on((e) => events.push(e))
    return { node: n, events }
  }
  return { network, clock, node }
}

/** A stranger that dials alice and says it listens on bob's address. */
async function impostor(network: MemoryNetwork) {
  const peer = new RawPeer(await network.transport('127.0.0.2').dial(A))
  peer.send(makeHello({ id: STRANGER, name: 'bob', instance: 'x-1' }, ['room'], B))
  return peer
}

describe('first contact', () => {
  it('keeps dialing the real address when a stranger dialed in announcing it, and the real peer gets its session', async () => {
    const { network, clock, node } = world()
    const alice = node('alice', A, { id: ALICE, peers: [B] })
    await alice.node.start()
    // Nobody listens at B yet: alice's dial fails and waits to retry.
    await clock.advance(0)
    const stranger = await impostor(network)
    await clock.advance(0)
    stranger.send({ type: 'ack', upTo: 0, base: 0 })
    await clock.advance(0)
    expect(alice.events).toContainEqual(
      expect.objectContaining({ type: 'connected', peer: { id: STRANGER, name: 'bob' } }),
    )
    // The stranger is a member like any other, but the slot for B is still looking for B.
    expect(alice.node.peerStates()).toMatchObject([{ target: B, state: { status: 'connecting' } }])

    const bob = node('bob', B, { id: BOB })
    await bob.node.start()
    await clock.advance(1_000)
    expect(alice.node.peerStates()).toMatchObject([
      { target: B, state: { status: 'connected', peer: { id: BOB, name: 'bob' } } },
    ])
    expect(bob.events).toContainEqual(
      expect.objectContaining({ type: 'connected', peer: { id: ALICE, name: 'alice' } }),
    )
    expect(
      alice.node
        .sessionsSnapshot()
        .filter((s) => s.connected)
        .map((s) => s.peer.id)
        .sort(),
    ).toEqual([BOB, STRANGER])
    alice.node.send('hello bob')
    await clock.advance(0)
    expect(bob.events).toContainEqual(expect.objectContaining({ type: 'message', body: 'hello bob' }))
    expect(stranger.closed).toBe(false)
  })

  it('lets a peer that dialed in stand for the dial when a pin names its key at the address it announces', async () => {
    const { network, clock, node } = world()
    const pins = new Map([[B, STRANGER]])
    const alice = node('alice', A, {
      id: ALICE,
      peers: [B],
      pinnedAt: (peerId, listen) => pins.get(listen) === peerId,
    })
    await alice.node.start()
    await clock.advance(0)
    await impostor(network)
    await clock.advance(0)
    expect(alice.node.peerStates()).toMatchObject([
      { target: B, state: { status: 'connected', peer: { id: STRANGER } } },
    ])
  })

  it('does not let an announcement stand for the dial when the pin names another key', async () => {
    const { network, clock, node } = world()
    const alice = node('alice', A, { id: ALICE, peers: [B], pinnedAt: (peerId) => peerId === BOB })
    await alice.node.start()
    await clock.advance(0)
    await impostor(network)
    await clock.advance(0)
    expect(alice.node.peerStates()).toMatchObject([{ target: B, state: { status: 'connecting' } }])
  })
})
