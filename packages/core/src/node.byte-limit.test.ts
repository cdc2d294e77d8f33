/** The byte side of the flood limit: what a peer may make the node journal and show, per second. */
import { describe, expect, it } from 'vitest'
import { ManualClock } from '../test/manual-clock.js'
import { MemoryNetwork, seededRandom } from '../test/memory-transport.js'
import { ParleyNode } from './node.js'
import type { NodeEvent } from './node-types.js'

const at = (port: number) => `10.0.0.1:${port}`

describe('the byte limit on what one peer sends', () => {
  it.each([
    ['ASCII', 'x'.repeat(996)],
    ['characters of three bytes each, counted in bytes, not characters', '€'.repeat(332)],
  ])(
    'accepts at most the byte burst plus the byte rate over time, and everything in the end, in order (%s)',
    async (_, filler) => {
      const network = new MemoryNetwork({ random: seededRandom(7), maxHops: 2 })
      const clock = new ManualClock()
      const limit = { perSecond: 100_000, burst: 100_000, bytesPerSecond: 20_000, byteBurst: 40_000 }
      const node = new ParleyNode({
        transport: network.transport(),
        clock,
        id: '8888888888888888',
        name: 'node',
        listen: at(5000),
        random: () => 0.5,
        rateLimit: limit,
      })
      const sender = new ParleyNode({
        transport: network.transport(),
        clock,
        id: 'cccccccccccccccc',
        name: 'good',
        listen: at(5001),
        peers: [at(5000)],
        random: () => 0.5,
      })
      const received: string[] = []
      const told: NodeEvent[] = []
      node.on((e) => e.type === 'message' && received.push(e.body))
      sender.on((e) => e.type === 'throttled' && told.push(e))
      await node.start()
      await sender.start()
      for (let i = 0; i < 50 && node.members().length === 0; i++) await clock.advance(10)
      const start = clock.now()
      // Each costs its body (1,000 bytes of UTF-8), its name and 160 bytes: 1,164 bytes, so the burst holds 34.
      const sent = Array.from({ length: 200 }, (_, i) => `${String(i).padStart(4, '0')}${filler}`)
      for (const body of sent) sender.send(body)
      for (let step = 0; step < 40 && received.length < sent.length; step++) {
        await clock.advance(250)
        const allowed = (limit.byteBurst + ((clock.now() - start) * limit.bytesPerSecond) / 1000) / 1_164
        expect(received.length).toBeLessThanOrEqual(Math.floor(allowed) + 1)
      }
      expect(received).toEqual(sent)
      expect(told.length).toBeGreaterThan(0)
      await Promise.all([node.close(), sender.close()])
    },
  )
})
