import { describe, expect, it } from 'vitest'
import { untilAborted } from './abort.js'

describe('untilAborted', () => {
  it('settles as the promise does while the signal does not abort', async () => {
    await expect(untilAborted(Promise.resolve(7), new AbortController().signal)).resolves.toBe(7)
    await expect(untilAborted(Promise.reject(new Error('no')), undefined)).rejects.toThrow('no')
  })

  it('rejects with the reason once the signal aborts, before the promise settles', async () => {
    const controller = new AbortController()
    const never = new Promise<number>(() => undefined)
    const waiting = untilAborted(never, controller.signal)
    controller.abort(new Error('stopped'))
    await expect(waiting).rejects.toThrow('stopped')
    await expect(untilAborted(never, controller.signal)).rejects.toThrow('stopped')
  })
})
