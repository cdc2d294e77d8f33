/**
 * A neighbour whose new link comes while its old one is not yet seen closed (killed and started again
 * within the dead-link timeout, or its network changed): the `connected` event says the new link replaced
 * the old one, since no `disconnected` came between them for frontends to tell a reconnect by.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { closeNodes, nodeWorld } from '../test/node-world.js'
import { RawPeer } from '../test/raw-peer.js'
import type { Address } from './address.js'
import { makeHello } from './link-machine.js'
import { ROOM_CAP } from './links.js'

const LOW = '1111111111111111'
const HIGH = 'eeeeeeeeeeeeeeee'
const BOB_AT: Address = '127.0.0.1:4002'

afterEach(closeNodes)

describe('a link that replaces one not yet seen closed', () => {
  it('says a new run of the peer replaced its old link, and only on the second connected', async () => {
    const { clock, node, network } = nodeWorld()
    const bob = node('bob', BOB_AT, { id: LOW })
    await bob.node.start()
    // The first process died without a word: its link stays open at bob.
    const dead = new RawPeer(await network.transport('127.0.0.1').dial(BOB_AT))
    dead.send(makeHello({ id: HIGH, name: 'alice', instance: 'dead-one' }, ['epoch:e1', ROOM_CAP]))
    await clock.advance(0)
    const alice = node('alice', '127.0.0.1:0', { id: HIGH, peers: [BOB_AT] })
    await alice.node.start()
    await clock.advance(0)

    const connected = bob.events.of('connected')
    expect(connected).toHaveLength(2)
    expect(connected[0]?.replaced).toBeUndefined()
    expect(connected[1]?.replaced).toBe('restarted')
    expect(bob.events.of('disconnected')).toEqual([])
    expect(alice.events.of('connected')[0]?.replaced).toBeUndefined()
  })

  it('says the same run of the peer linked again when its instance is the same', async () => {
    const { clock, node, network } = nodeWorld()
    const bob = node('bob', BOB_AT, { id: HIGH })
    await bob.node.start()
    const hello = makeHello({ id: LOW, name: 'alice', instance: 'same-run' }, ['epoch:e1', ROOM_CAP])
    for (let i = 0; i < 2; i++) {
      const raw = new RawPeer(await network.transport('127.0.0.1').dial(BOB_AT))
      raw.send(hello)
      raw.send({ type: 'accept' })
      await clock.advance(0)
    }
    const connected = bob.events.of('connected')
    expect(connected.map((e) => e.replaced)).toEqual([undefined, 'relinked'])
    expect(bob.events.of('disconnected')).toEqual([])
  })

  it("says nothing of a restart when a run that lost the key's link to another live one comes back (same key)", async () => {
    const { clock, node, network } = nodeWorld()
    const bob = node('bob', BOB_AT, { id: LOW })
    await bob.node.start()
    // Two live processes with one key (a copied data dir) take its link from each other.
    const links: RawPeer[] = []
    for (const instance of ['first', 'second', 'first']) {
      const raw = new RawPeer(await network.transport('127.0.0.1').dial(BOB_AT))
      raw.send(makeHello({ id: HIGH, name: 'alice', instance }, ['epoch:e1', ROOM_CAP]))
      links.push(raw)
      await clock.advance(0)
    }
    expect(bob.events.of('same-key')).toHaveLength(1)
    // The first takeover cannot be told from a restart; the one after is the same-key clash: a new link
    // replaced the old one, no restart.
    expect(bob.events.of('connected').map((e) => e.replaced)).toEqual([undefined, 'restarted', 'relinked'])
  })
})
