/**
 * A member first seen in a backlog: alice joins bob, whose data dir (made hours ago, `fixtures/datadir-0.3`)
 * holds carol's messages. Alice is told carol wrote in the room, not that she is there; when carol comes
 * back, her presence through bob tells alice she is in the room now, once.
 */
import { chmodSync, cpSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, tempDir, useBuiltParley } from '@parley/testkit'
import { describe, expect, it } from 'vitest'
import { FP } from './members.js'

const { start } = useBuiltParley()

const FIXTURE = fileURLToPath(new URL('./fixtures/datadir-0.3/', import.meta.url))
const modes = (
  JSON.parse(readFileSync(join(FIXTURE, 'fixture.json'), 'utf8')) as { modes: Record<string, string> }
).modes

/** A private copy of the fixture's data dir of `name`, with the modes git does not keep. */
function copyOf(name: 'bob' | 'carol'): string {
  const root = tempDir()
  cpSync(join(FIXTURE, name), join(root, name), { recursive: true })
  for (const [path, mode] of Object.entries(modes))
    if (path === name || path.startsWith(`${name}/`)) chmodSync(join(root, path), Number.parseInt(mode, 8))
  return join(root, name)
}

describe('a member first seen in a backlog relayed to a newcomer', () => {
  it('is told to be in the room now when its presence comes through the mesh, once', async () => {
    const [bobPort, alicePort, carolPort] = await Promise.all([freePort(), freePort(), freePort()])
    const bob = start([
      '--listen',
      `127.0.0.1:${bobPort}`,
      '--name',
      'bob',
      '--data-dir',
      copyOf('bob'),
      '--recv-only',
    ])
    await bob.waitFor('stderr', /listening on/, 60_000)
    const bobAt = `127.0.0.1:${bobPort}`
    const alice = start([
      '--listen',
      `127.0.0.1:${alicePort}`,
      '--peer',
      bobAt,
      '--name',
      'alice',
      '--data-dir',
      tempDir(),
    ])
    const wrote = new RegExp(
      `carol ${FP} wrote in the room, messages from .* \\(through another member; whether it is still there is not known\\)`,
    )
    await alice.waitFor('stderr', wrote, 60_000)
    await alice.waitFor('stdout', /<carol> carol: bye for now/)
    expect(alice.stderr.filter((line) => /carol .* is in the room/.test(line))).toEqual([])
    // Carol comes back, linked to bob only: her presence reaches alice through him.
    const carol = start([
      '--listen',
      `127.0.0.1:${carolPort}`,
      '--peer',
      bobAt,
      '--name',
      'carol',
      '--data-dir',
      copyOf('carol'),
    ])
    const now = new RegExp(`^parley: carol ${FP} is in the room now \\(through another member\\)$`)
    await alice.waitFor('stderr', now, 60_000)
    // She quits: her leave comes after every presence she sent, so nothing more about her arrival can follow.
    carol.send('/quit')
    await alice.waitFor('stderr', new RegExp(`carol ${FP} left the room`), 30_000)
    expect(await carol.exited).toBe(0)
    expect(alice.stderr.filter((line) => now.test(line))).toHaveLength(1)
  })
})
