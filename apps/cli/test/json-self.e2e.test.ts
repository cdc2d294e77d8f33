/**
 * `--json`'s `listening` event says who this node is (its id, full fingerprint and name), so a script
 * needs no second `parley id` run to tell its own node from its peers; `--plain` has no key to name.
 */
import { tempDir, useBuiltParley } from '@parley/testkit'
import { describe, expect, it, vi } from 'vitest'

const { start } = useBuiltParley()
vi.setConfig({ testTimeout: 60_000 })

describe('--json listening', () => {
  it("names this node as parley id does, and a peer's events name it by the same id", async () => {
    const dir = tempDir()
    const who = start(['id', '--json', '--data-dir', dir])
    const id = JSON.parse(await who.waitFor('stdout', /"type":"id"/))
    expect(await who.exited).toBe(0)
    const alice = start(['--json', '--listen', '127.0.0.1:0', '--name', 'alice', '--data-dir', dir])
    const listening = JSON.parse(await alice.waitFor('stdout', /"type":"listening"/))
    expect(listening).toMatchObject({ id: id.id, fingerprint: id.fingerprint, name: 'alice' })

    const bob = start([
      '--json',
      '--listen',
      '127.0.0.1:0',
      '--peer',
      listening.address,
      '--name',
      'bob',
      '--data-dir',
      tempDir(),
    ])
    const connected = JSON.parse(await bob.waitFor('stdout', /"type":"connected","peer":"alice"/))
    expect(connected.peerId).toBe(listening.id)
  })

  it('names nothing with --plain, which has no key', async () => {
    const plain = start(['--json', '--plain', '--listen', '127.0.0.1:0', '--name', 'alice'])
    const listening = JSON.parse(await plain.waitFor('stdout', /"type":"listening"/))
    expect(Object.keys(listening).sort()).toEqual(['address', 'type'])
  })
})
