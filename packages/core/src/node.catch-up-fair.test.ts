/**
 * Catch-up paced by the allowance for all is shared among the neighbours that wait for it: one that
 * linked later is not held behind every earlier one until they have all been served whole.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { filledNode, msgsOf, WHOLE } from '../test/catch-up-world.js'
import { closeNodes } from '../test/node-world.js'
import type { RawPeer } from '../test/raw-peer.js'
import type { CatchUpBudget } from './link-table.js'

const NODE_AT = '127.0.0.1:5301'
// Every key and every source may take as much as the allowance for all: only that one is short.
const BUDGET: CatchUpBudget = {
  perKey: { perSecond: 10_000, burst: 10_000 },
  perSource: { perSecond: 10_000, burst: 10_000 },
  total: { perSecond: 10_000, burst: 10_000 },
}
const msgs = (raw: RawPeer) => msgsOf(raw).length

afterEach(closeNodes)

describe('catch-up paced by the allowance for all', () => {
  it('gives a neighbour that waits behind others a share, not nothing until they are all done', async () => {
    const { clock, join } = await filledNode(NODE_AT, BUDGET)
    // Two neighbours (each its own host) link first and stay, then a third.
    const first = await join('10.0.0.2', 'e000000000000001', 'first')
    const second = await join('10.0.0.3', 'e000000000000002', 'second')
    const third = await join('10.0.0.4', 'c000000000000003', 'third')
    // About a third of all the windows' worth of allowance: each of three waiting would get some.
    for (let i = 0; i < 30; i++) await clock.advance(100)
    const got = [msgs(first), msgs(second), msgs(third)]
    expect(got[0]).toBeLessThan(WHOLE)
    expect(got[2]).toBeGreaterThan(0)
    expect(got[1]).toBeGreaterThan(0)
  })
})
