/**
 * `--json`'s `disconnected` event, end to end with the built binaries: a neighbour that quit carries
 * `left: true`, as text mode tells its leaving from a link that broke; one that was killed does not.
 */
import { tempDir, useBuiltParley } from '@parley/testkit'
import { describe, expect, it, vi } from 'vitest'

const { start } = useBuiltParley()
vi.setConfig({ testTimeout: 60_000 })

describe('--json disconnected', () => {
  it('says left: true of a neighbour that quit, and nothing of the kind of one that was killed', async () => {
    const alice = start(['--json', '--listen', '127.0.0.1:0', '--name', 'alice', '--data-dir', tempDir()])
    const listening = JSON.parse(await alice.waitFor('stdout', /"type":"listening"/))
    const port = Number(/:(\d+)$/.exec(listening.address)?.[1])
    const dial = ['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`]
    const bob = start([...dial, '--name', 'bob', '--data-dir', tempDir()])
    const carol = start([...dial, '--name', 'carol', '--data-dir', tempDir()])
    await alice.waitFor('stdout', /"type":"connected","peer":"bob"/)
    await alice.waitFor('stdout', /"type":"connected","peer":"carol"/)

    bob.send('/quit lunch')
    const quit = JSON.parse(await alice.waitFor('stdout', /"type":"disconnected","peer":"bob"/))
    expect(quit).toMatchObject({ reason: 'bob left (lunch)', left: true })
    expect(await bob.exited).toBe(0)

    carol.kill('SIGKILL')
    const killed = JSON.parse(await alice.waitFor('stdout', /"type":"disconnected","peer":"carol"/))
    expect(killed).not.toHaveProperty('left')
  })
})
