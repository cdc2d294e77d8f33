/**
 * One identity key on two live nodes (a data dir copied with `cp -a` and both copies started), through the
 * real binary over loopback TCP: the peer says so in one line, not once per link; the copy turned away is
 * told why; the links stop taking turns; and once one copy quits, the other is let in and delivers. A
 * restart of the key (kill -9, then the same data dir again) is still let in at once and loses nothing.
 */
import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, jsonEvents, listeningPort, tempDir, useBuiltParley, waitUntil } from '@parley/testkit'
import { describe, expect, it } from 'vitest'

const { start } = useBuiltParley()

const count = (lines: readonly string[], pattern: RegExp) => lines.filter((l) => pattern.test(l)).length
const TWO_NODES = /two nodes are running with alice's key/

async function receivingBob() {
  const port = await freePort()
  const bob = start([
    ...['--recv-only', '--listen', `127.0.0.1:${port}`, '--name', 'bob'],
    ...['--data-dir', tempDir()],
  ])
  await bob.waitFor('stderr', /listening on/)
  return { bob, alice: ['--peer', `127.0.0.1:${port}`, '--listen', '127.0.0.1:0', '--name', 'alice'] }
}

/** A data dir with alice's identity in it, made by `parley id`. */
async function aliceDataDir(): Promise<string> {
  const dir = tempDir()
  const id = start(['id', '--data-dir', dir])
  expect(await id.exited).toBe(0)
  return dir
}

describe('two nodes running with one key', () => {
  it('the peer says so once, the copy turned away learns why, the links stop taking turns, and the other copy delivers once one quits', async () => {
    const { bob, alice } = await receivingBob()
    const aliceDir = await aliceDataDir()
    const copyDir = join(tempDir(), 'alice2')
    cpSync(aliceDir, copyDir, { recursive: true })

    const one = start([...alice, '--data-dir', aliceDir, '--json'])
    const onePort = Number(/:(\d+)"/.exec(await one.waitFor('stdout', /"type":"listening"/))?.[1])
    await bob.waitFor('stderr', /connected to alice/)
    const two = start([...alice, '--data-dir', copyDir])
    const twoPort = await listeningPort(two)

    const line = await bob.waitFor('stderr', TWO_NODES)
    expect(line).toMatch(
      /^parley: two nodes are running with alice's key \[[a-z0-9]{4}-[a-z0-9]{4}\] \(from 127\.0\.0\.1:\d+ and 127\.0\.0\.1:\d+\): a copied data dir\? Each must have its own \(parley id shows a node's key\)/,
    )
    // Where each one listens (the one that holds the link first), not the ports they dialed from.
    expect(line).toContain(`from 127.0.0.1:${twoPort} and 127.0.0.1:${onePort}`)

    // The copy that lost the link is told why, once; then it redials, and is turned away, twice more.
    await waitUntil(() => jsonEvents(one, 'key-in-use').length === 1, 30_000, 'the first copy to be told')
    const told = one.stdout.findIndex((l) => l.includes('"type":"key-in-use"'))
    const redialsAfter = () =>
      one.stdout.slice(told).filter((l) => /"type":"state","target":[^,]+,"state":"handshaking"/.test(l))
        .length
    await waitUntil(() => redialsAfter() >= 2, 45_000, 'two more redials of the copy turned away')

    expect(count(bob.stderr, TWO_NODES)).toBe(1)
    // alice's link was taken over once (by the second copy), and not handed back since.
    expect(count(bob.stderr, /connected to alice/)).toBe(2)
    expect(count(bob.stderr, /disconnected from alice/)).toBe(0)
    expect(jsonEvents(one, 'key-in-use')).toEqual([expect.objectContaining({ peer: 'bob' })])
    expect(count(two.stderr, /disconnected from bob|another node runs with your key/)).toBe(0)

    // The copy that holds the link quits; the other is let in soon and delivers, once.
    two.send('/quit')
    expect(await two.exited).toBe(0)
    await bob.waitFor('stderr', /disconnected from alice \[[^\]]+\]: alice left \(quit\)/)
    one.send('from the copy that stayed')
    await bob.waitFor('stdout', /<alice> from the copy that stayed/)
    await waitUntil(() => jsonEvents(one, 'delivered').length === 1, 30_000, 'bob to acknowledge it')
    expect(count(bob.stdout, /from the copy that stayed/)).toBe(1)
    expect(count(bob.stderr, TWO_NODES)).toBe(1)
    expect(count(bob.stderr, /connected to alice/)).toBe(3)
    expect(jsonEvents(one, 'key-in-use')).toHaveLength(1)
    expect(jsonEvents(one, 'forked')).toEqual([])
    one.end()
    expect(await one.exited).toBe(0)
  })

  it('a restart after kill -9 (the same data dir, a new process) is let in at once, and loses and repeats nothing', async () => {
    const { bob, alice } = await receivingBob()
    const aliceDir = await aliceDataDir()
    for (const run of ['first', 'second', 'third']) {
      const proc = start([...alice, '--data-dir', aliceDir, '--json'])
      const body = `from the ${run} run`
      proc.send(body)
      await bob.waitFor('stdout', new RegExp(`<alice> ${body}`))
      // Acknowledged (an ack that came just before a kill may be acknowledged again by the next run).
      const acked = () => {
        const sent = jsonEvents(proc, 'sent').find((e) => e.body === body)
        return sent !== undefined && jsonEvents(proc, 'delivered').some((e) => e.id === sent.id)
      }
      await waitUntil(acked, 30_000, `the ${run} run's ack`)
      expect(jsonEvents(proc, 'key-in-use')).toEqual([])
      proc.kill('SIGKILL')
      await proc.exited
    }
    expect(bob.stdout.filter((l) => l.startsWith('<alice>'))).toEqual([
      '<alice> from the first run',
      '<alice> from the second run',
      '<alice> from the third run',
    ])
    expect(count(bob.stderr, TWO_NODES)).toBe(0)
  })
})
