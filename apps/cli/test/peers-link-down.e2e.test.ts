/**
 * `/peers` on a neighbour whose link went down, end to end with the built binaries: a member that was
 * killed is not said to be reachable through the mesh (nothing of it comes that way), and one that quit is
 * said to have left, with its reason, not merely "disconnected".
 */
import { freePort, listeningPort, tempDir, useBuiltParley } from '@parley/testkit'
import { describe, expect, it, vi } from 'vitest'
import { FP } from './members.js'

const { start } = useBuiltParley()
vi.setConfig({ testTimeout: 60_000 })

const TIME = '\\d\\d:\\d\\d:\\d\\d'

describe('/peers, a neighbour whose link is down', () => {
  it('does not call a killed neighbour reachable through the mesh, and says a neighbour that quit left', async () => {
    // A triangle: alice, bob and carol each linked to the other two, so that each has a relaying
    // neighbour left when another goes.
    const alice = start(['--listen', '127.0.0.1:0', '--name', 'alice', '--data-dir', tempDir()])
    const a = await listeningPort(alice)
    const bobPort = await freePort()
    const bob = start([
      '--listen',
      `127.0.0.1:${bobPort}`,
      '--peer',
      `127.0.0.1:${a}`,
      '--name',
      'bob',
      '--data-dir',
      tempDir(),
    ])
    const carol = start([
      '--listen',
      '127.0.0.1:0',
      '--peer',
      `127.0.0.1:${a}`,
      '--peer',
      `127.0.0.1:${bobPort}`,
      '--name',
      'carol',
      '--data-dir',
      tempDir(),
    ])
    await alice.waitFor('stderr', /connected to bob /)
    await alice.waitFor('stderr', /connected to carol /)
    await bob.waitFor('stderr', /connected to carol /)

    bob.kill('SIGKILL')
    await bob.exited
    await alice.waitFor('stderr', /disconnected from bob /)
    alice.send('/peers')
    const bobLine = await alice.waitFor('stderr', new RegExp(`parley: bob ${FP} direct, `))
    expect(bobLine).toMatch(
      new RegExp(
        `direct, its link is down since ${TIME} \\(.+\\); nothing of it came through the mesh since$`,
      ),
    )
    expect(bobLine).not.toMatch(/reachable/)

    carol.send('/quit see you')
    await alice.waitFor('stderr', /disconnected from carol .*carol left \(see you\)/)
    await carol.exited
    alice.send('/peers')
    // The first /peers listed carol connected: this waits for the second one's line.
    const carolLine = await alice.waitFor('stderr', new RegExp(`parley: carol ${FP} direct, (?!connected)`))
    expect(carolLine).toMatch(new RegExp(`direct, left at ${TIME} \\(see you\\)$`))
  })
})
