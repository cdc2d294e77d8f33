/**
 * A member killed two hops away: three real `parley` processes in a line alice—bob—carol over secure
 * loopback links. Carol is killed (-9), so she says no goodbye: bob, which loses its link to her, tells
 * alice, which stops showing her in the room long before her presence would lapse.
 */
import { useBuiltParley } from '@parley/testkit'
import { describe, expect, it } from 'vitest'
import { aliceBobCarol, FP } from './members.js'

const { start } = useBuiltParley()

describe('a member killed two hops away', () => {
  it('is told within seconds as having maybe left, and /peers no longer shows it in the room', async () => {
    // Alice and carol each dial bob only.
    const [alice, bob, carol] = await aliceBobCarol(start, 'carol dials bob')
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
    // Not told as a leave, which would say why (`carol [fp] left the room (quit)`).
    expect(alice.stderr.join('\n')).not.toMatch(new RegExp(`carol ${FP} left the room`))
  })
})
