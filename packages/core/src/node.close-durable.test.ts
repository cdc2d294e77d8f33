/**
 * Closing waits for the journal: what the node took is on disk once `close` resolves, so a process that
 * ends right after (a one-shot send, exit 7: "safe in the outbox") loses nothing it took.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { A, ALICE, B } from '../test/durable-world.js'
import { closeNodes, nodeWorld } from '../test/node-world.js'
import { type JournalRecord, restore } from './journal.js'

afterEach(closeNodes)

describe('ParleyNode.close and the journal', () => {
  it('resolves only once the lines taken just before are on disk, and they are in the next outbox', async () => {
    const w = nodeWorld()
    const records: JournalRecord[] = []
    // A disk that takes its time: each append lands only when the test lets it.
    const landing: (() => void)[] = []
    const journal = {
      append: (batch: readonly JournalRecord[]) =>
        new Promise<void>((resolve) => {
          landing.push(() => {
            records.push(...batch)
            resolve()
          })
        }),
    }
    const alice = w.node('alice', A, { id: ALICE, journal, peers: [B] })
    await alice.node.start()
    alice.node.sendLines(['taken before the end'])
    // What the disk holds at the moment close resolves: a process may end right then.
    let onDiskAtClose: string[] | undefined
    const closing = alice.node.close('input ended').then(() => {
      onDiskAtClose = restore(records, { id: ALICE, name: 'alice' }).outbox.map((m) => m.body)
    })
    for (let i = 0; i < 10 && onDiskAtClose === undefined; i++) {
      await w.clock.advance(0)
      for (const land of landing.splice(0)) land()
    }
    await closing
    expect(onDiskAtClose).toEqual(['taken before the end'])
  })

  it('is still pending while an append has not landed', async () => {
    const w = nodeWorld()
    const landing: (() => void)[] = []
    const journal = {
      append: () =>
        new Promise<void>((resolve) => {
          landing.push(resolve)
        }),
    }
    const alice = w.node('alice', A, { id: ALICE, journal })
    await alice.node.start()
    alice.node.send('one')
    let closed = false
    const closing = alice.node.close().then(() => {
      closed = true
    })
    await w.clock.advance(0)
    expect(landing.length).toBeGreaterThan(0)
    expect(closed).toBe(false)
    for (const land of landing.splice(0)) land()
    await closing
    expect(closed).toBe(true)
  })
})
