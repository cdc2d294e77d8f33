/**
 * A node's catch-up on link open, end to end over the in-memory transport and a manual clock: throwaway
 * keys from one host that reconnect and say they have nothing are served that host's allowance, not every
 * window each time; an honest member new to the room still gets every message, once and in order, paced
 * by the node's own timer, and its own messages are taken meanwhile.
 */
import { afterEach, describe, expect, it } from 'vitest'
import {
  bytesOf,
  filledNode,
  MEMBERS,
  msgOf,
  msgsOf,
  PER_MEMBER,
  WHOLE,
  WINDOWS,
} from '../test/catch-up-world.js'
import { flushMicrotasks } from '../test/manual-clock.js'
import { closeNodes } from '../test/node-world.js'
import type { CatchUpBudget } from './link-table.js'

const NODE_AT = '127.0.0.1:5300'
const BUDGET: CatchUpBudget = {
  perKey: { perSecond: 10_000, burst: 20_000 },
  perSource: { perSecond: 20_000, burst: 40_000 },
  total: { perSecond: 40_000, burst: 80_000 },
}

afterEach(closeNodes)

describe('catch-up a node serves when links open', () => {
  it('serves throwaway keys from one host that host’s allowance, and an honest newcomer everything, paced', async () => {
    // A relay fills the node's windows with four members' messages, and goes.
    const { clock, serving, join } = await filledNode(NODE_AT, BUDGET)

    // Ten throwaway keys from one host link, say they have nothing, and go, while no time passes.
    let served = 0
    for (let i = 0; i < 10; i++) {
      const raw = await join('10.0.0.9', `e${i.toString(16).padStart(15, '0')}`, `pull${i}`)
      served += bytesOf(msgsOf(raw))
      raw.link.destroy()
      await flushMicrotasks()
    }
    // The host's allowance, not ten times every window.
    expect(served).toBeLessThanOrEqual(BUDGET.perSource.burst)
    expect(served).toBeGreaterThan(0)
    expect(10 * WINDOWS).toBeGreaterThan(8 * BUDGET.perSource.burst)

    // An honest member new to the room, from another host: served its key's allowance at once, ...
    const honest = await join('10.0.0.2', 'c000000000000000', 'honest')
    const first = msgsOf(honest).length
    expect(bytesOf(msgsOf(honest))).toBeLessThanOrEqual(BUDGET.perKey.burst)
    expect(first).toBeLessThan(WHOLE)
    // ... its own words are taken while the rest waits, ...
    honest.send(msgOf('c000000000000000', 1, 'still here'))
    await flushMicrotasks()
    expect(serving.events.events).toContainEqual(
      expect.objectContaining({ type: 'message', body: 'still here' }),
    )
    expect(msgsOf(honest).length).toBeLessThan(WHOLE)
    // ... and the rest comes as the allowance refills, by the node's own timer, each message once, in order.
    for (let i = 0; i < 100 && msgsOf(honest).length < WHOLE; i++) await clock.advance(100)
    const got = msgsOf(honest)
    for (const member of MEMBERS)
      expect(got.filter((m) => m.from === member).map((m) => m.seq)).toEqual(
        Array.from({ length: PER_MEMBER }, (_, i) => i + 1),
      )
    expect(got).toHaveLength(WHOLE)
    expect(honest.closed).toBe(false)
    await serving.node.close('test over')
    expect(clock.pendingTimers).toBe(0)
  })
})
