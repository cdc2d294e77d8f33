/**
 * The loopback benchmark documented in the README still runs against the build as it is now: a short run
 * must print its table for both links. (The lab benchmark needs root and runs in the lab suite's place.)
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt } from './agent/run.js'

const run = promisify(execFile)

beforeAll(() => assertBuilt())

describe('bench/loopback.mjs', () => {
  it('moves bytes and bounces messages over a TCP link and a DHT link on a loopback testnet', async () => {
    const script = fileURLToPath(new URL('../bench/loopback.mjs', import.meta.url))
    // 1 MiB, 50 round trips, one run.
    const { stdout } = await run(process.execPath, [script, '1', '50', '1'], {
      env: { ...process.env, PARLEY_DHT_PRIVATE_ONLY: '1' },
    })
    expect(stdout).toContain('1 runs of 1 MiB and 50 round trips of 64 bytes each, on loopback')
    expect(stdout).toMatch(/'tcp'\s*│\s*'\d+'\s*│\s*'\d+'/)
    expect(stdout).toMatch(/'dht'\s*│\s*'\d+'\s*│\s*'\d+'/)
    expect(stdout).toMatch(/DHT \/ TCP: throughput ×\d+\.\d+, RTT ×\d+\.\d+/)
  })
})
