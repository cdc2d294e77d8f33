/**
 * A member whose process was stopped (SIGSTOP, as a laptop's sleep freezes it) for longer than its links
 * last: three real `parley` processes in a line alice—bob—carol over secure loopback links, bob in the
 * middle stopped until alice and carol gave up on him. Woken, he finds his links broken, which says nothing
 * of alice or carol: he tells nobody he lost them, so when carol is killed later, alice is told she may
 * have left, and never that she left and came back.
 */
import { useBuiltParley } from '@parley/testkit'
import { describe, expect, it, vi } from 'vitest'
import { aliceBobCarol, FP } from './members.js'

const { start } = useBuiltParley()

describe('a member stopped for longer than its links last', () => {
  it('tells nobody on waking that it lost its neighbours, and a neighbour killed later is still told as having maybe left', async () => {
    const [alice, bob, carol] = await aliceBobCarol(start, 'bob dials carol', ['--dead-after', '6'])
    const mayHaveLeft = new RegExp(`carol ${FP} may have left the room: bob ${FP} lost its link to carol`)
    const bobPid = bob.child.pid!
    process.kill(bobPid, 'SIGSTOP')
    try {
      await alice.waitFor('stderr', /disconnected from bob /, 30_000)
      await carol.waitFor('stderr', /disconnected from bob /, 30_000)
    } finally {
      process.kill(bobPid, 'SIGCONT')
    }
    // Woken, bob reads that they dropped his links for his silence, which is not their leaving.
    await bob.waitFor(
      'stderr',
      /disconnected from alice .*: alice dropped this link: it heard nothing from this node/,
    )
    expect(bob.stderr.join('\n')).not.toMatch(/ left \(peer sent nothing/)
    // Said by carol once bob is back: it comes to alice through him, after carol's presence of now.
    carol.send('back through bob')
    await alice.waitFor('stdout', /back through bob/, 30_000)
    const killedAt = alice.stderr.length
    carol.kill('SIGKILL')
    await carol.exited
    await vi.waitFor(() => expect(alice.stderr.slice(killedAt).some((l) => mayHaveLeft.test(l))).toBe(true), {
      timeout: 30_000,
      interval: 100,
    })
    expect(alice.stderr.filter((l) => mayHaveLeft.test(l))).toHaveLength(1)
    expect(alice.stderr.join('\n')).not.toMatch(new RegExp(`carol ${FP} is in the room now`))
  })
})
