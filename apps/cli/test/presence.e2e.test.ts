/**
 * Presence end to end: three real `parley` processes in a line alice—bob—carol over secure loopback links.
 * Carol never speaks: alice still lists her (`/peers`), and is told when she quits.
 */
import { join } from 'node:path'
import { freePort, type Proc, tempDir, useBuiltParley } from '@parley/testkit'
import { describe, expect, it } from 'vitest'

const { start } = useBuiltParley()

const FP = '\\[[a-z2-7]{4}-[a-z2-7]{4}\\]'

describe('a member that only reads, two hops away', () => {
  it('is listed by /peers as in the room, and its quitting is told', async () => {
    const names = ['alice', 'bob', 'carol']
    const ports = await Promise.all(names.map(() => freePort()))
    // Each dials the next: alice—bob, bob—carol. Alice and carol are not linked.
    const [alice, bob, carol] = names.map((name, i) => {
      const args = ['--listen', `127.0.0.1:${ports[i]}`, '--name', name, '--data-dir', join(tempDir(), name)]
      if (i + 1 < names.length) args.push('--peer', `127.0.0.1:${ports[i + 1]}`)
      return start(args)
    }) as [Proc, Proc, Proc]
    await alice.waitFor('stderr', /connected to bob /, 60_000)
    await bob.waitFor('stderr', /connected to carol /, 60_000)
    // Carol has said nothing: her presence, relayed by bob, tells alice she is there.
    await alice.waitFor(
      'stderr',
      new RegExp(`carol ${FP} is in the room \\(through another member\\)`),
      30_000,
    )
    alice.send('/peers')
    const listed = await alice.waitFor('stderr', /parley: carol \[.*\] relay,/)
    expect(listed).toMatch(/relay, reachable through the mesh, in the room$/)
    expect(carol.stdout).toEqual([])
    // Carol quits cleanly: her `gone` reaches alice through bob.
    carol.send('/quit')
    await alice.waitFor('stderr', new RegExp(`carol ${FP} left the room`), 30_000)
    await carol.exited
    alice.send('/peers')
    await alice.waitFor('stderr', /parley: carol \[.*\] relay, .*not known to be in the room/)
  })
})
