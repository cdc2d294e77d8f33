/**
 * A member that left while this node was down, end to end with the built binaries: when the node comes
 * back, the leaving it is told of (the member's `gone` presence, relayed) says when it was, not as news
 * of the moment (it may have been told in the last run already).
 */
import { listeningPort, tempDir, useBuiltParley } from '@parley/testkit'
import { describe, expect, it, vi } from 'vitest'
import { FP } from './members.js'

const { start } = useBuiltParley()
vi.setConfig({ testTimeout: 60_000 })

describe('a member that left while this node was down', () => {
  it('is said to have left at its time, before this run started', async () => {
    const bob = start(['--listen', '127.0.0.1:0', '--name', 'bob', '--data-dir', tempDir()])
    const port = await listeningPort(bob)
    const dial = ['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`]
    const carol = start([...dial, '--name', 'carol', '--data-dir', tempDir()])
    // Alice and carol are linked through bob only. Every process runs on one clock here.
    const aliceArgs = [...dial, '--name', 'alice', '--data-dir', tempDir()]
    const env = { PARLEY_CLOCK_SLACK_MS: '0' }
    const alice = start(aliceArgs, env)
    await alice.waitFor('stderr', /connected to bob /)
    await bob.waitFor('stderr', /connected to carol /)
    carol.send('hi from carol')
    await alice.waitFor('stdout', /<carol> hi from carol$/)
    alice.kill('SIGTERM')
    expect(await alice.exited).toBe(0)

    carol.send('/quit home')
    await bob.waitFor('stderr', /disconnected from carol .*carol left \(home\)/)
    expect(await carol.exited).toBe(0)

    const again = start(aliceArgs, env)
    const left = await again.waitFor('stderr', new RegExp(`carol ${FP} left the room`))
    expect(left).toMatch(
      new RegExp(
        `^parley: carol ${FP} left the room \\(home\\) at \\d\\d:\\d\\d:\\d\\d, before this run started$`,
      ),
    )
  })
})
