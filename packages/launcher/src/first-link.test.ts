import type { NodeEvent } from '@parley/core'
import { describe, expect, it } from 'vitest'
import { FIRST_LINK_WAIT_MS, FirstLink, settlesFirstLink, type WaitTimers } from './first-link.js'

const peer = { id: 'ab'.repeat(32), name: 'bob' }
const connected: NodeEvent = { type: 'connected', peer, address: '127.0.0.1:4002', direction: 'outbound' }
const dialError: NodeEvent = {
  type: 'dial-error',
  target: '127.0.0.1:4002',
  code: 'CONNECTION_REFUSED',
  message: 'nobody is listening at 127.0.0.1:4002',
}
const connecting: NodeEvent = {
  type: 'peer-state',
  target: '127.0.0.1:4002',
  state: { status: 'connecting', attempt: 0, dialing: true },
}
const gaveUp: NodeEvent = {
  type: 'peer-state',
  target: '127.0.0.1:4002',
  state: { status: 'failed', error: { code: 'UNTRUSTED', message: 'not the pinned key' } },
}

/** Timers that fire only when the test says so, and record what was set and cleared. */
class ManualTimers implements WaitTimers {
  readonly set: { callback: () => void; ms: number; cleared: boolean }[] = []
  setTimeout(callback: () => void, ms: number): unknown {
    const timer = { callback, ms, cleared: false }
    this.set.push(timer)
    return timer
  }
  clearTimeout(timer: unknown): void {
    ;(timer as { cleared: boolean }).cleared = true
  }
  fire(): void {
    for (const timer of this.set) if (!timer.cleared) timer.callback()
  }
}

/** Whether the promise has settled, after the microtasks queued so far ran. */
async function isSettled(promise: Promise<void>): Promise<boolean> {
  let settled = false
  void promise.then(() => {
    settled = true
  })
  await new Promise((resolve) => setImmediate(resolve))
  return settled
}

describe('settlesFirstLink', () => {
  it('is a link up, a failed dial, a peer given up on, or the node closed; not a dial under way', () => {
    expect(settlesFirstLink(connected)).toBe(true)
    expect(settlesFirstLink(dialError)).toBe(true)
    expect(settlesFirstLink(gaveUp)).toBe(true)
    expect(settlesFirstLink({ type: 'closed' })).toBe(true)
    expect(settlesFirstLink(connecting)).toBe(false)
    expect(settlesFirstLink({ type: 'listening', address: '127.0.0.1:4001' })).toBe(false)
  })
})

describe('FirstLink', () => {
  it('waits through a dial under way, and resolves at the link, clearing its timer', async () => {
    const timers = new ManualTimers()
    const linked = new FirstLink()
    const wait = linked.wait(500, timers)
    linked.observe({ type: 'listening', address: '127.0.0.1:4001' })
    linked.observe(connecting)
    expect(await isSettled(wait)).toBe(false)
    linked.observe(connected)
    expect(await isSettled(wait)).toBe(true)
    expect(timers.set).toMatchObject([{ ms: 500, cleared: true }])
  })

  it('resolves at once for a link that came up before anyone waited, and sets no timer', async () => {
    const timers = new ManualTimers()
    const linked = new FirstLink()
    linked.observe(connected)
    expect(await isSettled(linked.wait(500, timers))).toBe(true)
    expect(timers.set).toEqual([])
  })

  it('resolves every wait at the link, each clearing its own timer', async () => {
    const timers = new ManualTimers()
    const linked = new FirstLink()
    const first = linked.wait(500, timers)
    const second = linked.wait(900, timers)
    linked.observe(connected)
    expect([await isSettled(first), await isSettled(second)]).toEqual([true, true])
    expect(timers.set).toMatchObject([
      { ms: 500, cleared: true },
      { ms: 900, cleared: true },
    ])
  })

  it('resolves at a failed dial: input is read into the outbox then', async () => {
    const linked = new FirstLink()
    const wait = linked.wait(500, new ManualTimers())
    linked.observe(dialError)
    expect(await isSettled(wait)).toBe(true)
  })

  it('resolves when its wait runs out with no link and no failure, by default after FIRST_LINK_WAIT_MS', async () => {
    const timers = new ManualTimers()
    const linked = new FirstLink()
    const wait = linked.wait(undefined, timers)
    linked.observe(connecting)
    expect(await isSettled(wait)).toBe(false)
    expect(timers.set.map((t) => t.ms)).toEqual([FIRST_LINK_WAIT_MS])
    timers.fire()
    expect(await isSettled(wait)).toBe(true)
    // Settled is settled: a later link changes nothing, and a later wait does not wait.
    linked.observe(connected)
    expect(await isSettled(linked.wait(500, timers))).toBe(true)
    expect(timers.set).toHaveLength(1)
  })
})
