/**
 * Hyperswarm and HyperDHT take a noticeable share of a process's start, and most runs (TCP peers,
 * `--plain`, `--help`) never use them: the launcher loads `@parley/transport-dht` only when a DHT starts.
 * Checked on the built CLI, run as users run it, by logging every module it resolves.
 */
import { execFile } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const HERE = dirname(fileURLToPath(import.meta.url))
const HOOK = join(HERE, 'fixtures', 'log-imports.mjs')
const CLI = join(HERE, '..', '..', '..', 'apps', 'cli', 'bin', 'parley.js')

function run(args: string[]): Promise<{ urls: string[]; out: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', HOOK, ...args],
      { cwd: HERE, timeout: 60_000 },
      (error, out, err) => {
        if (error) reject(new Error(`${args.join(' ')} failed: ${error.message}\n${err}`))
        else resolve({ urls: err.split('\n').filter((line) => line.startsWith('import: ')), out })
      },
    )
  })
}

const swarm = (urls: string[]) => urls.filter((url) => /node_modules\/(hyperswarm|hyperdht)\//.test(url))

describe('the DHT transport is loaded only when a DHT starts', () => {
  it('parley --help resolves no Hyperswarm module', async () => {
    const { urls, out } = await run([CLI, '--help'])
    expect(out).toContain('--listen HOST:PORT')
    expect(urls.some((url) => url.includes('@parley/launcher') || url.includes('launcher/dist'))).toBe(true)
    expect(swarm(urls)).toEqual([])
  }, 90_000)

  it('the check sees Hyperswarm when the transport is imported', async () => {
    const { urls } = await run(['--input-type=module', '-e', "await import('@parley/transport-dht')"])
    expect(swarm(urls).length).toBeGreaterThan(0)
  }, 90_000)
})
