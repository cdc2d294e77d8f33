/** A journal that fails while the node runs (a full disk): said once, nothing claimed that is not durable. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ManualClock } from '../test/manual-clock.js'
import { ALICE_AT, journaledAlice } from '../test/node-world.js'
import { RawPeer } from '../test/raw-peer.js'
import type { Journal, JournalRecord } from './journal.js'

/** Appends land until `failing`; from then on every append is refused, as a store refuses after a failed flush. */
class FailingJournal implements Journal {
  readonly records: JournalRecord[] = []
  failing = false

  append(records: readonly JournalRecord[]): Promise<void> {
    if (this.failing) return Promise.reject(new Error('cannot append to /data/journal.log (ENOSPC)'))
    this.records.push(...records)
    return Promise.resolve()
  }
}

const _NODE = '1111111111111111'
const BOB = 'bbbbbbbbbbbbbbbb'
const _at = (port: number) => `10.0.0.1:${port}`

let unhandled: unknown[] = []
const onUnhandled = (reason: unknown) => unhandled.push(reason)
beforeEach(() => {
  unhandled = []
  process.on('unhandledRejection', onUnhandled)
})
afterEach(() => {
  process.off('unhandledRejection', onUnhandled)
})

/** Lets queued promise callbacks and timers run, as turns of the event loop would. */
async function settle(clock: ManualClock, turns = 20) {
  for (let i = 0; i < turns; i++) {
    await clock.advance(10)
    await new Promise((resolve) => setImmediate(resolve))
  }
}

describe('a journal that fails while the node runs', () => {
  it('is told once, shows and acknowledges nothing it could not journal, and leaves no rejection unhandled', async () => {
    const journal = new FailingJournal()
    const { network, clock, node, events } = await journaledAlice(journal, 5)
    const bob = await RawPeer.dial(network, ALICE_AT)
    bob.hello(BOB, 'bob')
    bob.send({ type: 'ack', upTo: 0, base: 0 })
    let seq = 0
    const say = (body: string) => bob.send({ type: 'msg', id: `bob-${++seq}`, seq, ts: 0, from: BOB, body })
    const shown = () => events.filter((e) => e.type === 'message').map((e) => (e as { seq: number }).seq)
    const ackedUpTo = () => Math.max(0, ...bob.received.map((m) => (m.type === 'ack' ? m.upTo : 0)))

    for (let i = 0; i < 3; i++) say(`before ${i}`)
    await settle(clock)
    expect(shown()).toEqual([1, 2, 3])
    expect(ackedUpTo()).toBe(3)

    journal.failing = true
    // Many reads, each its own append, and one of our own messages: every append fails.
    for (let i = 0; i < 16; i++) {
      say(`after ${i}`)
      await settle(clock, 2)
    }
    const sent = node.send('mine')
    let durable = false
    void sent.durable.then(() => {
      durable = true
    })
    await settle(clock)

    expect(events.filter((e) => e.type === 'journal-error')).toEqual([
      { type: 'journal-error', message: 'cannot append to /data/journal.log (ENOSPC)' },
    ])
    expect(shown()).toEqual([1, 2, 3])
    expect(ackedUpTo()).toBe(3)
    expect(durable).toBe(false)
    expect(bob.received.some((m) => m.type === 'msg' && m.body === 'mine')).toBe(false)
    await node.close()
    await settle(clock)
    expect(unhandled).toEqual([])
  })
})
