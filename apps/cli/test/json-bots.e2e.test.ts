/**
 * `--json` output as a bot reads it, end to end with the built binaries: a peer's text cannot split an
 * event's line for a line reader (U+2028, U+2029, U+0085) nor reorder or drive a terminal showing it
 * (bidi, C1); and the `listening` event says who this node is (its id, full fingerprint and name), so a
 * bot needs no second `parley id` run to tell its own node from its peers (`--plain` has no key to name).
 */
import { tempDir, useBuiltParley } from '@parley/testkit'
import { describe, expect, it, vi } from 'vitest'

const { start } = useBuiltParley()
vi.setConfig({ testTimeout: 60_000 })

// What a reader may split a line at besides \n (Python's splitlines), or a terminal may obey.
const UNSAFE = /[\r\u000b\u000c\u001c-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/

/** Alice on `--json` with data dir `dir`, and bob (with `bobFlags`) dialing her. */
async function aliceAndBob(dir: string, bobFlags: string[] = []) {
  const alice = start(['--json', '--listen', '127.0.0.1:0', '--name', 'alice', '--data-dir', dir])
  const listening = JSON.parse(await alice.waitFor('stdout', /"type":"listening"/))
  const dial = ['--listen', '127.0.0.1:0', '--peer', listening.address]
  const bob = start([...bobFlags, ...dial, '--name', 'bob', '--data-dir', tempDir()])
  return { alice, bob, listening }
}

describe('--json escaping', () => {
  it("writes a peer's line breaks, bidi and C1 controls as escapes, one event per line that parses back whole", async () => {
    const { alice, bob } = await aliceAndBob(tempDir())
    await alice.waitFor('stdout', /"type":"connected","peer":"bob"/)

    const body = 'one\u2028two\u2029three\u0085four \u202egnp.exe \u2066x\u2069 \u009b31m red'
    bob.send(body)
    const line = await alice.waitFor('stdout', /"type":"message","from":"bob"/)
    expect(line).not.toMatch(UNSAFE)
    expect(JSON.parse(line)).toMatchObject({ type: 'message', from: 'bob', body })
  })
})

describe('--json listening', () => {
  it("names this node as parley id does, and a peer's events name it by the same id", async () => {
    const dir = tempDir()
    const who = start(['id', '--json', '--data-dir', dir])
    const id = JSON.parse(await who.waitFor('stdout', /"type":"id"/))
    expect(await who.exited).toBe(0)
    const { bob, listening } = await aliceAndBob(dir, ['--json'])
    expect(listening).toMatchObject({ id: id.id, fingerprint: id.fingerprint, name: 'alice' })
    const connected = JSON.parse(await bob.waitFor('stdout', /"type":"connected","peer":"alice"/))
    expect(connected.peerId).toBe(listening.id)
  })

  it('names nothing with --plain, which has no key', async () => {
    const plain = start(['--json', '--plain', '--listen', '127.0.0.1:0', '--name', 'alice'])
    const listening = JSON.parse(await plain.waitFor('stdout', /"type":"listening"/))
    expect(Object.keys(listening).sort()).toEqual(['address', 'type'])
  })
})
