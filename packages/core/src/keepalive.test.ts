import { afterEach, describe, expect, it } from 'vitest'
import { FrozenProcess, type WakeOrder } from '../test/frozen-process.js'
import { ManualClock } from '../test/manual-clock.js'
import { MemoryNetwork } from '../test/memory-transport.js'
import { ALICE, B, BOB, closeNodes, nodeWorld } from '../test/node-world.js'
import type { Address } from './address.js'
import { encodeFrame } from './codec.js'
import { makeHello } from './link-machine.js'
import { ParleyNode } from './node.js'
import type { NodeEvent } from './node-types.js'

const A: Address = '127.0.0.1:7001'

afterEach(closeNodes)

describe('keepalive', () => {
  it('drops a peer that went silent within a twentieth of deadAfterMs after the deadline', async () => {
    const network = new MemoryNetwork()
    const clock = new ManualClock()
    const deadAfterMs = 12_000
    const node = new ParleyNode({
      transport: network.transport(),
      clock,
      name: 'alice',
      listen: A,
      id: '1111111111111111',
      deadAfterMs,
      keepaliveMs: 4_000,
      random: () => 0.5,
    })
    const events: { at: number; event: NodeEvent }[] = []
    node.on((event) => events.push({ at: clock.now(), event }))
    await node.start()
    // A peer that completes the handshake (the node has the lower id and accepts at once), then says nothing.
    const link = await network.transport().dial(A)
    link.attach({ data: () => undefined, drain: () => undefined, close: () => undefined })
    link.write(encodeFrame(makeHello({ id: 'eeeeeeeeeeeeeeee', name: 'mute', instance: 'm1' }, [])))
    await clock.advance(0)
    const connectedAt = events.find((e) => e.event.type === 'connected')?.at
    expect(connectedAt).toBeDefined()
    await clock.advance(deadAfterMs + deadAfterMs / 20 + 1)
    const dropped = events.find((e) => e.event.type === 'disconnected')
    expect(dropped?.at).toBeGreaterThanOrEqual(connectedAt! + deadAfterMs)
    expect(dropped?.at).toBeLessThanOrEqual(connectedAt! + deadAfterMs + deadAfterMs / 20)
    expect(events.some((e) => e.event.type === 'link-error' && e.event.code === 'SILENT')).toBe(true)
    await node.close()
  })

  it('does not take a peer it throttles for silent while it still holds what that peer sent unread', async () => {
    const network = new MemoryNetwork()
    const clock = new ManualClock()
    const node = new ParleyNode({
      transport: network.transport(),
      clock,
      name: 'alice',
      listen: A,
      id: '1111111111111111',
      random: () => 0.5,
      rateLimit: { perSecond: 10, burst: 10 },
    })
    const events: NodeEvent[] = []
    node.on((event) => events.push(event))
    await node.start()
    const link = await network.transport().dial(A)
    link.attach({ data: () => undefined, drain: () => undefined, close: () => undefined })
    const from = 'eeeeeeeeeeeeeeee'
    link.write(encodeFrame(makeHello({ id: from, name: 'piper', instance: 'p1' }, [])))
    // 300 lines at once, as a piped file sends them: 30 s of its allowance. Its pings come behind them.
    const lines = Array.from({ length: 300 }, (_, i) =>
      encodeFrame({ type: 'msg', id: `p-${i + 1}`, seq: i + 1, ts: 1, from, body: `line ${i + 1}` }),
    )
    link.write(Buffer.concat(lines))
    for (let s = 0; s < 40; s++) {
      link.write(encodeFrame({ type: 'ping', n: s }))
      await clock.advance(1_000)
    }
    expect(events.filter((e) => e.type === 'link-error')).toEqual([])
    expect(events.filter((e) => e.type === 'message')).toHaveLength(300)
    await node.close()
  })
})

describe.each<WakeOrder>(['timers first', 'links first'])(
  'keepalive of a node stopped for longer than deadAfterMs, woken %s',
  (order) => {
    /** Alice, stopped 20 s (longer than her 14 s), linked to bob, which waits a minute before giving up on her. */
    async function stoppedAlice() {
      const w = nodeWorld()
      const frozen = new FrozenProcess(w.clock)
      const alice = w.node('alice', A, {
        id: ALICE,
        clock: frozen.clock,
        transport: frozen.transport(w.network.transport()),
      })
      const bobProcess = new FrozenProcess(w.clock)
      const bob = w.node('bob', B, {
        id: BOB,
        peers: [A],
        deadAfterMs: 60_000,
        clock: bobProcess.clock,
        transport: bobProcess.transport(w.network.transport()),
      })
      await alice.node.start()
      await bob.node.start()
      await w.clock.advance(100)
      frozen.freeze()
      await w.clock.advance(20_000)
      await frozen.thaw(order)
      return { w, alice, bob, bobProcess }
    }

    it('reads what its links brought before judging them silent: a link its neighbour kept stays open', async () => {
      const { w, alice, bob } = await stoppedAlice()
      await w.clock.advance(60_000)
      expect(alice.events.of('disconnected')).toEqual([])
      expect(bob.events.of('disconnected')).toEqual([])
      expect(alice.events.of('link-error').filter((e) => e.code === 'SILENT')).toEqual([])
    })

    it('still drops a link that stays silent for deadAfterMs after it woke', async () => {
      const { w, alice, bobProcess } = await stoppedAlice()
      bobProcess.freeze()
      await w.clock.advance(15_000)
      expect(alice.events.of('link-error').map((e) => e.code)).toEqual(['SILENT'])
      expect(alice.events.of('disconnected').map((e) => e.peer.id)).toEqual([BOB])
    })
  },
)

describe('a node stopped until its neighbour dropped it for its silence', () => {
  it('is told the neighbour dropped the link, not that it left', async () => {
    const w = nodeWorld()
    const frozen = new FrozenProcess(w.clock)
    const alice = w.node('alice', A, {
      id: ALICE,
      clock: frozen.clock,
      transport: frozen.transport(w.network.transport()),
    })
    const bob = w.node('bob', B, { id: BOB, peers: [A] })
    await alice.node.start()
    await bob.node.start()
    await w.clock.advance(100)
    frozen.freeze()
    await w.clock.advance(20_000)
    await frozen.thaw('timers first')
    await w.clock.advance(100)
    expect(alice.events.of('disconnected')).toEqual([
      {
        type: 'disconnected',
        peer: { id: BOB, name: 'bob' },
        reason: 'bob dropped this link: it heard nothing from this node (peer sent nothing for 14000 ms)',
      },
    ])
  })
})
