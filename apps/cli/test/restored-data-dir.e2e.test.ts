/**
 * A data dir put back from an older copy, through the real binary: its next messages would reuse numbers
 * the peer already has. They are never reported delivered (exit 7, not 0), the user is told in one line
 * what happened and what to do, and doing it (a new numbering) delivers them, once.
 */
import { cpSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { bodiesOf, freePort, jsonEvents, tempDir, useBuiltParley, waitUntil } from '@parley/testkit'
import { describe, expect, it } from 'vitest'

const { start } = useBuiltParley()

const QUEUED = 7
const FORKED_LINE =
  /^parley: bob \[[^\]]+\] says it has your messages up to #\d+, but .*if this data dir was restored from an older copy/

describe('a data dir restored from an older copy', () => {
  it('keeps what it sends next in the outbox with exit 7 and one line, in that run and the next, until a new numbering delivers it', async () => {
    const bobPort = await freePort()
    const bob = start([
      ...['--recv-only', '--listen', `127.0.0.1:${bobPort}`, '--name', 'bob'],
      ...['--data-dir', tempDir(), '--json'],
    ])
    await bob.waitFor('stdout', /"type":"listening"/)
    const aliceDir = tempDir()
    const alice = ['--peer', `127.0.0.1:${bobPort}`, '--listen', '127.0.0.1:0', '--name', 'alice']
    const run = async (lines: readonly string[], extra: readonly string[] = []) => {
      const proc = start([...alice, '--data-dir', aliceDir, ...extra])
      for (const line of lines) proc.send(line)
      proc.end()
      return { proc, code: await proc.exited }
    }

    expect((await run(['first'])).code).toBe(0)
    const copy = join(tempDir(), 'copy')
    cpSync(aliceDir, copy, { recursive: true })
    expect((await run(['second', 'third'])).code).toBe(0)
    await waitUntil(() => bodiesOf(bob).length === 3, 30_000, 'bob to show second and third')
    rmSync(aliceDir, { recursive: true })
    cpSync(copy, aliceDir, { recursive: true })

    const after = ['after restore 1', 'after restore 2', 'after restore 3']
    // Nothing more comes from bob that counts: --wait gives up soon, as for any peer that does not ack.
    const restored = await run(after, ['--json', '--wait', '2'])
    expect(restored.code).toBe(QUEUED)
    expect(jsonEvents(restored.proc, 'delivered')).toEqual([])
    // Bob has #2 or #3 (second and third go as one message or two, as their reads fell).
    expect(jsonEvents(restored.proc, 'forked')).toEqual([
      expect.objectContaining({ peer: 'bob', upTo: expect.any(Number) }),
    ])

    // The next run finds its own copies of those numbers in the journal, and still holds them back.
    const again = await run([], ['--wait', '2'])
    expect(again.code).toBe(QUEUED)
    expect(again.proc.stderr.filter((line) => FORKED_LINE.test(line))).toHaveLength(1)
    expect(again.proc.stderr.join('\n')).toMatch(/holds other messages under that number/)
    expect(again.proc.stderr.join('\n')).not.toMatch(/delivered/)

    // What the line says to do: a journal moved away starts a new numbering, which bob follows.
    renameSync(join(aliceDir, 'journal.log'), join(tempDir(), 'journal.log'))
    const renumbered = await run(after)
    expect(renumbered.code).toBe(0)
    await waitUntil(() => bodiesOf(bob).length === 6, 30_000, 'bob to show the resent lines')
    expect(bodiesOf(bob)).toEqual(['first', 'second', 'third', ...after])
  })
})
