/**
 * A stranger's keys each tell of two nodes once: the same-key line is news a stranger can repeat with
 * throwaway keys, three links each, as many times as it likes.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { closeNodes, nodeWorld } from '../test/node-world.js'
import { RawPeer } from '../test/raw-peer.js'
import type { Address } from './address.js'
import { makeHello } from './link-machine.js'
import { ROOM_CAP } from './links.js'

const BOB_AT: Address = '127.0.0.1:4012'
afterEach(closeNodes)

describe('same-key reports made with throwaway keys', () => {
  it('one per key, however many keys', async () => {
    const { clock, node, network } = nodeWorld()
    const bob = node('bob', BOB_AT, { id: '1111111111111111' })
    await bob.node.start()
    const keys = 12
    for (let k = 0; k < keys; k++) {
      const id = `e${k.toString(16).padStart(15, '0')}`
      for (const instance of ['i-b', 'i-c', 'i-b']) {
        const raw = new RawPeer(await network.transport(`10.0.1.${k}`).dial(BOB_AT))
        raw.send(makeHello({ id, name: `m${k}`, instance }, ['epoch:e1', ROOM_CAP]))
        await clock.advance(0)
      }
    }
    // A frontend shows each one in full in this node's own voice: not held to a few per window.
    expect(bob.events.of('same-key')).toHaveLength(keys)
  })
})
