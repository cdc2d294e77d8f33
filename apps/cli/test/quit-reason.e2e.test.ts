/**
 * A member's reason for leaving, end to end with three real `parley` processes in a line alice—bob—carol:
 * carol, two hops from alice, reads why she left as bob, her neighbour, does (from her `bye`), through her
 * signed `gone` presence relayed by bob, and `/peers` says when she left and why.
 */
import { join } from 'node:path'
import { listeningPort, tempDir, useBuiltParley } from '@parley/testkit'
import { describe, expect, it } from 'vitest'
import { aliceBobCarol, FP } from './members.js'

const { start } = useBuiltParley()

describe('a member that quits with a reason', () => {
  it('is told leaving with that reason two hops away, as its neighbour tells it', async () => {
    const [alice, bob, carol] = await aliceBobCarol(start, 'carol dials bob')
    await carol.waitFor('stderr', new RegExp(`alice ${FP} is in the room \\(through another member\\)`))
    alice.send('/quit back   tomorrow')
    await bob.waitFor('stderr', /disconnected from alice .*: alice left \(back tomorrow\)$/)
    const left = await carol.waitFor('stderr', new RegExp(`alice ${FP} left the room`))
    expect(left).toMatch(new RegExp(`^parley: alice ${FP} left the room \\(back tomorrow\\)$`))
    expect(await alice.exited).toBe(0)
    // `/peers` says so too, as it says a neighbour that quit left.
    carol.send('/peers')
    const listed = await carol.waitFor('stderr', new RegExp(`alice ${FP} relay, `))
    expect(listed).toMatch(/relay, left at \d\d:\d\d:\d\d \(back tomorrow\)$/)
  })

  it('is judged by the length its bye carries: an emoji counts two, blank runs one space, and one ending at the limit reaches the peer whole', async () => {
    const bob = start(['--listen', '127.0.0.1:0', '--name', 'bob', '--data-dir', join(tempDir(), 'bob')])
    const dial = ['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${await listeningPort(bob)}`]
    const alice = start([...dial, '--name', 'alice', '--data-dir', join(tempDir(), 'alice')])
    await bob.waitFor('stderr', /connected to alice/)
    // 199 characters and an emoji: 201 as the bye counts them, one past the limit.
    alice.send(`/quit ${'x'.repeat(199)}\u{1F600}`)
    const refused = await alice.waitFor('stderr', /\/quit: a reason is at most/)
    expect(refused).toMatch(
      /at most 200 characters, an emoji counting as two or more \(this one counts 201\)/,
    )
    // 200 once its blank run is one space, the emoji its last two: it goes, and bob reads it whole.
    const reason = `${'x'.repeat(197)} \u{1F600}`
    alice.send(`/quit ${'x'.repeat(197)}    \u{1F600}`)
    const left = await bob.waitFor('stderr', /disconnected from alice .*: alice left \(/)
    expect(left.endsWith(`alice left (${reason})`)).toBe(true)
    expect(await alice.exited).toBe(0)
  })

  it('gives the reason in the member-left event of --json', async () => {
    const bob = start(['--listen', '127.0.0.1:0', '--name', 'bob', '--data-dir', join(tempDir(), 'bob')])
    const dial = ['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${await listeningPort(bob)}`]
    const alice = start([...dial, '--name', 'alice', '--data-dir', join(tempDir(), 'alice')])
    const carol = start([...dial, '--name', 'carol', '--json', '--data-dir', join(tempDir(), 'carol')])
    await carol.waitFor('stdout', /"type":"member","peer":"alice".*"via":"relay"/)
    alice.send('/quit gone fishing')
    const line = await carol.waitFor('stdout', /"type":"member-left"/)
    expect(JSON.parse(line)).toMatchObject({ type: 'member-left', peer: 'alice', reason: 'gone fishing' })
    expect(await alice.exited).toBe(0)
  })
})
