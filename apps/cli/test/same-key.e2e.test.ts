/**
 * One identity key on two live nodes (a data dir copied with `cp -a` and both copies started), through the
 * real binary over loopback TCP: the peer says so in one line, not once per link; the copy turned away is
 * told why; the links stop taking turns; and once one copy quits, the other is let in and delivers. A
 * restart of the key (kill -9, then the same data dir again) is still let in at once and loses nothing.
 */
import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, jsonEvents, type Proc, tempDir, useBuiltParley, waitUntil } from '@parley/testkit'
import { describe, expect, it } from 'vitest'

const { start } = useBuiltParley()

const portOf = (listening: string) => Number(/:(\d+)"/.exec(listening)?.[1])
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
    const onePort = portOf(await one.waitFor('stdout', /"type":"listening"/))
    await bob.waitFor('stderr', /connected to alice/)
    const two = start([...alice, '--data-dir', copyDir, '--json'])
    const twoPort = portOf(await two.waitFor('stdout', /"type":"listening"/))

    const line = await bob.waitFor('stderr', TWO_NODES)
    expect(line).toMatch(
      /^parley: two nodes are running with alice's key \[[a-z0-9]{4}-[a-z0-9]{4}\] \(from 127\.0\.0\.1:\d+ and 127\.0\.0\.1:\d+\): a copied data dir\? Each must have its own \(parley id shows a node's key\)/,
    )
    // Where each one listens (the one that held the link then first), not the ports they dialed from.
    expect(line).toContain(`from 127.0.0.1:${twoPort} and 127.0.0.1:${onePort}`)

    // One copy is kept (bob keeps the same one as any other neighbour would); the other was told why, and
    // redials, and is turned away, twice more.
    const redialsAfterTold = (proc: Proc) => {
      const told = proc.stdout.findIndex((l) => l.includes('"type":"key-in-use"'))
      if (told < 0) return 0
      return proc.stdout
        .slice(told)
        .filter((l) => /"type":"state","target":[^,]+,"state":"handshaking"/.test(l)).length
    }
    await waitUntil(
      () => redialsAfterTold(one) >= 2 || redialsAfterTold(two) >= 2,
      45_000,
      'two more redials of the copy turned away',
    )
    const [turnedAway, kept] = redialsAfterTold(one) >= 2 ? [one, two] : [two, one]

    expect(count(bob.stderr, TWO_NODES)).toBe(1)
    // alice's link was taken over once (by the second copy), or twice when the first is the one kept, and
    // not handed back since.
    const connects = count(bob.stderr, /connected to alice/)
    expect(connects === 2 || connects === 3).toBe(true)
    expect(count(bob.stderr, /disconnected from alice/)).toBe(0)
    expect(jsonEvents(turnedAway, 'key-in-use')).toEqual([expect.objectContaining({ peer: 'bob' })])
    expect(jsonEvents(kept, 'key-in-use')).toHaveLength(connects - 2)
    expect(jsonEvents(kept, 'disconnected')).toHaveLength(connects - 2)

    // The copy that holds the link quits; the other is let in soon and delivers, once.
    kept.send('/quit')
    expect(await kept.exited).toBe(0)
    await bob.waitFor('stderr', /disconnected from alice \[[^\]]+\]: alice left \(quit\)/)
    turnedAway.send('from the copy that stayed')
    await bob.waitFor('stdout', /<alice> from the copy that stayed/)
    await waitUntil(() => jsonEvents(turnedAway, 'delivered').length === 1, 30_000, 'bob to acknowledge it')
    expect(count(bob.stdout, /from the copy that stayed/)).toBe(1)
    expect(count(bob.stderr, TWO_NODES)).toBe(1)
    expect(count(bob.stderr, /connected to alice/)).toBe(connects + 1)
    expect(jsonEvents(turnedAway, 'key-in-use')).toHaveLength(1)
    expect(jsonEvents(turnedAway, 'forked')).toEqual([])
    turnedAway.end()
    expect(await turnedAway.exited).toBe(0)
  })

  it('in text, the copy turned away is told once, and told again once bob takes its messages', async () => {
    const { bob, alice } = await receivingBob()
    const aliceDir = await aliceDataDir()
    const copyDir = join(tempDir(), 'alice2')
    cpSync(aliceDir, copyDir, { recursive: true })
    const one = start([...alice, '--data-dir', aliceDir])
    await bob.waitFor('stderr', /connected to alice/)
    const two = start([...alice, '--data-dir', copyDir])
    await bob.waitFor('stderr', TWO_NODES)
    const KEY_IN_USE = /bob \[[a-z0-9]{4}-[a-z0-9]{4}\] says another node runs with your key/
    await waitUntil(
      () => count(one.stderr, KEY_IN_USE) + count(two.stderr, KEY_IN_USE) > 0,
      30_000,
      'a copy told it was turned away',
    )
    const [turnedAway, kept] = count(one.stderr, KEY_IN_USE) > 0 ? [one, two] : [two, one]
    // The kept copy may have been told too, if its link was taken once before bob settled on it.
    kept.send('/quit')
    expect(await kept.exited).toBe(0)
    turnedAway.send('from the copy that stayed')
    await bob.waitFor('stdout', /<alice> from the copy that stayed/)
    const AGAIN =
      /^parley: connected to bob \[[a-z0-9]{4}-[a-z0-9]{4}\] again: it takes this node's messages now, after refusing it$/
    await turnedAway.waitFor('stderr', AGAIN)
    turnedAway.end()
    expect(await turnedAway.exited).toBe(0)
    expect(count(turnedAway.stderr, AGAIN)).toBe(1)
    expect(count(turnedAway.stderr, KEY_IN_USE)).toBe(1)
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
