/**
 * Presence end to end: three real `parley` processes in a line alice—bob—carol over secure loopback links.
 * Carol never speaks: alice still lists her (`/peers`), and is told when and why she quits.
 */
import { useBuiltParley } from '@parley/testkit'
import { describe, expect, it } from 'vitest'
import { aliceBobCarol, FP } from './members.js'

const { start } = useBuiltParley()

describe('a member that only reads, two hops away', () => {
  it('is listed by /peers as in the room, and its quitting is told', async () => {
    // Each dials the next: alice—bob, bob—carol. Alice and carol are not linked.
    const [alice, , carol] = await aliceBobCarol(start, 'bob dials carol')
    alice.send('/peers')
    const listed = await alice.waitFor('stderr', /parley: carol \[.*\] relay,/)
    expect(listed).toMatch(/relay, reachable through the mesh, in the room$/)
    expect(carol.stdout).toEqual([])
    // Carol quits cleanly: her `gone` reaches alice through bob.
    carol.send('/quit')
    await alice.waitFor('stderr', new RegExp(`carol ${FP} left the room \\(quit\\)`), 30_000)
    await carol.exited
    // Its leave is the newest presence held of it: /peers says when and why it left.
    alice.send('/peers')
    await alice.waitFor('stderr', /parley: carol \[.*\] relay, left at \d\d:\d\d:\d\d \(quit\)$/)
  })
})
