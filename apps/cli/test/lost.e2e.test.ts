/**
 * A member killed two hops away: three real `parley` processes in a line alice—bob—carol over secure
 * loopback links. Carol is killed (-9), so she says no goodbye: bob, which loses its link to her, tells
 * alice, which stops showing her in the room long before her presence would lapse.
 */
import { join } from 'node:path'
import { freePort, type Proc, tempDir, useBuiltParley } from '@parley/testkit'
import { describe, expect, it } from 'vitest'

const { start } = useBuiltParley()

const FP = '\\[[a-z2-7]{4}-[a-z2-7]{4}\\]'

describe('a member killed two hops away', () => {
  it('is told within seconds as having maybe left, and /peers no longer shows it in the room', async () => {
    const names = ['alice', 'bob', 'carol']
    const ports = await Promise.all(names.map(() => freePort()))
    // Alice and carol each dial bob only.
    const [alice, bob, carol] = names.map((name, i) => {
      const args = ['--listen', `127.0.0.1:${ports[i]}`, '--name', name, '--data-dir', join(tempDir(), name)]
      if (i !== 1) args.push('--peer', `127.0.0.1:${ports[1]}`)
      return start(args)
    }) as [Proc, Proc, Proc]
    await alice.waitFor('stderr', /connected to bob /, 60_000)
    await bob.waitFor('stderr', /connected to carol /, 60_000)
    await alice.waitFor(
      'stderr',
      new RegExp(`carol ${FP} is in the room \\(through another member\\)`),
      30_000,
    )
    carol.kill('SIGKILL')
    await carol.exited
    await bob.waitFor('stderr', /disconnected from carol /, 30_000)
    await alice.waitFor(
      'stderr',
      new RegExp(`carol ${FP} may have left the room: bob ${FP} lost its link to carol without a goodbye`),
      30_000,
    )
    alice.send('/peers')
    const listed = await alice.waitFor('stderr', /parley: carol \[.*\] relay,/)
    expect(listed).toMatch(/relay, not known to be in the room/)
    expect(alice.stderr.join('\n')).not.toMatch(/carol .* left the room$/m)
  })
})
