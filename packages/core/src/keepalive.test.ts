import { describe, expect, it } from 'vitest'
import { ManualClock } from '../test/manual-clock.js'
import { MemoryNetwork } from '../test/memory-transport.js'
import type { Address } from './address.js'
import { encodeFrame } from './codec.js'
import { makeHello } from './link-machine.js'
import { ParleyNode } from './node.js'
import type { NodeEvent } from './node-types.js'

const A: Address = '127.0.0.1:7001'

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
})
