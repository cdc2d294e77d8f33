import { afterEach, describe, expect, it, vi } from 'vitest'
import { STOP_CEILING_MS, type StartedNode, stopNode } from './node-setup.js'

/** A started node whose close is recorded and whose files and network close when `settle` is called. */
function fakeStarted(): { started: StartedNode; closed: string[]; settle: () => void } {
  const closed: string[] = []
  let settle = () => {}
  const stopped = new Promise<void>((resolve) => {
    settle = resolve
  })
  const node = { close: async (reason: string) => void closed.push(reason) }
  return { started: { node, stopped } as unknown as StartedNode, closed, settle }
}

/** Whether `promise` has settled once the queued callbacks have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false
  void promise.then(() => {
    done = true
  })
  for (let i = 0; i < 10; i++) await Promise.resolve()
  return done
}

describe('stopNode', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('closes the node with the reason, then waits for its files and network to close', async () => {
    vi.useFakeTimers()
    const { started, closed, settle } = fakeStarted()
    const stopping = stopNode(started, 'input ended')
    expect(await settled(stopping)).toBe(false)
    expect(closed).toEqual(['input ended'])
    settle()
    expect(await settled(stopping)).toBe(true)
  })

  it('gives up on a network that never closes after the ceiling', async () => {
    vi.useFakeTimers()
    const { started } = fakeStarted()
    const stopping = stopNode(started, 'quit')
    await vi.advanceTimersByTimeAsync(STOP_CEILING_MS - 1)
    expect(await settled(stopping)).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(await settled(stopping)).toBe(true)
  })
})
