import type { NodeEvent, PeerInfo } from '@parley/core'
import { describe, expect, it } from 'vitest'
import { MAX_WATCHED_REFUSALS, RefusalWatch } from './refusal-watch.js'
import { shortId } from './session.js'

const bob: PeerInfo = { id: 'b'.repeat(64), name: 'bob' }
const carol: PeerInfo = { id: 'c'.repeat(64), name: 'carol' }
const connected = (peer: PeerInfo, afterRefusal: boolean): NodeEvent => ({
  type: 'connected',
  peer,
  address: '127.0.0.1:4002',
  direction: 'outbound',
  ...(afterRefusal ? { afterRefusal: true as const } : {}),
})
const delivered = (to: PeerInfo): NodeEvent => ({ type: 'delivered', id: 'm1', seq: 1, to })
const message = (from: PeerInfo): NodeEvent => ({
  type: 'message',
  id: 'x',
  seq: 1,
  ts: 0,
  from,
  body: 'hi',
})
const BACK = `connected to bob [${shortId(bob.id)}] again: it takes this node's messages now, after refusing it`

describe('RefusalWatch', () => {
  it('tells once that a peer which refused this node takes its messages again', () => {
    const watch = new RefusalWatch()
    // Redials it refuses again: opened quietly, each told nothing.
    expect(watch.observe(connected(bob, true))).toBeUndefined()
    expect(watch.observe(connected(bob, true))).toBeUndefined()
    expect(watch.observe(delivered(carol))).toBeUndefined()
    expect(watch.observe(delivered(bob))).toEqual({ level: 'info', text: BACK })
    expect(watch.observe(delivered(bob))).toBeUndefined()
  })

  it('takes a message of the peer’s own on the link as its return too', () => {
    const watch = new RefusalWatch()
    watch.observe(connected(bob, true))
    expect(watch.observe(message(carol))).toBeUndefined()
    expect(watch.observe(message(bob))?.text).toBe(BACK)
  })

  it('says nothing for a link that opened as any other, nor for a peer that never refused', () => {
    const watch = new RefusalWatch()
    watch.observe(connected(bob, true))
    // Its link opened told already (a refusal that ended before the redial): nothing more to say.
    watch.observe(connected(bob, false))
    expect(watch.observe(delivered(bob))).toBeUndefined()
    expect(watch.observe(delivered(carol))).toBeUndefined()
  })

  it(`watches ${MAX_WATCHED_REFUSALS} peers at most, forgetting the oldest`, () => {
    const watch = new RefusalWatch()
    const peers = Array.from({ length: MAX_WATCHED_REFUSALS + 1 }, (_, i) => ({
      id: i.toString(16).padStart(64, '0'),
      name: `p${i}`,
    }))
    for (const peer of peers) watch.observe(connected(peer, true))
    expect(watch.observe(delivered(peers[0]!))).toBeUndefined()
    expect(watch.observe(delivered(peers[1]!))).toBeDefined()
    expect(watch.observe(delivered(peers.at(-1)!))).toBeDefined()
  })
})
