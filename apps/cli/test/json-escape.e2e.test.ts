/**
 * `--json` output end to end with the built binaries: a peer's text cannot split an event's line for a
 * bot's line reader (U+2028, U+2029, U+0085) nor reorder or drive a terminal showing it (bidi, C1).
 */
import { tempDir, useBuiltParley } from '@parley/testkit'
import { describe, expect, it, vi } from 'vitest'

const { start } = useBuiltParley()
vi.setConfig({ testTimeout: 60_000 })

// What a reader may split a line at besides \n (Python's splitlines), or a terminal may obey.
const UNSAFE = /[\r\u000b\u000c\u001c-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/

describe('--json escaping', () => {
  it("writes a peer's line breaks, bidi and C1 controls as escapes, one event per line that parses back whole", async () => {
    const alice = start(['--json', '--listen', '127.0.0.1:0', '--name', 'alice', '--data-dir', tempDir()])
    const listening = JSON.parse(await alice.waitFor('stdout', /"type":"listening"/))
    const bob = start([
      '--listen',
      '127.0.0.1:0',
      '--peer',
      listening.address,
      '--name',
      'bob',
      '--data-dir',
      tempDir(),
    ])
    await alice.waitFor('stdout', /"type":"connected","peer":"bob"/)

    const body = 'one\u2028two\u2029three\u0085four \u202egnp.exe \u2066x\u2069 \u009b31m red'
    bob.send(body)
    const line = await alice.waitFor('stdout', /"type":"message","from":"bob"/)
    expect(line).not.toMatch(UNSAFE)
    expect(JSON.parse(line)).toMatchObject({ type: 'message', from: 'bob', body })
  })
})
