/**
 * Hyperswarm and HyperDHT take a noticeable share of a process's start, and most runs (TCP peers,
 * `--plain`, `--help`) never use them: the launcher loads `@parley/transport-dht` only when a DHT starts.
 * Checked on the built CLI, run as users run it, by logging every module it resolves. The CLI runs from
 * one bundled file, so the DHT shows as the one module of it that is loaded on its own: `udx-native`, the
 * native UDP addon that HyperDHT requires as it loads.
 */
import { execFile, spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { assertBuilt } from '@parley/testkit'
import { beforeAll, describe, expect, it } from 'vitest'

const HERE = dirname(fileURLToPath(import.meta.url))
const HOOK = join(HERE, 'fixtures', 'log-imports.mjs')
const CLI = join(HERE, '..', '..', '..', 'apps', 'cli', 'bin', 'parley.cjs')

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

/** `parley bootstrap` (a DHT node on loopback) under the hook, stopped once it prints its address. */
function runBootstrap(): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', HOOK, CLI, 'bootstrap', '--listen', '127.0.0.1:0'], {
      cwd: HERE,
    })
    let err = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      err += chunk
    })
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (/^127\.0\.0\.1:\d+$/m.test(chunk)) child.kill('SIGINT')
    })
    child.on('error', reject)
    child.on('exit', (code) => {
      if (code === 0) resolve(err.split('\n').filter((line) => line.startsWith('import: ')))
      else reject(new Error(`parley bootstrap exited ${code}: ${err}`))
    })
  })
}

const swarm = (urls: string[]) =>
  urls.filter((url) => /node_modules\/(hyperswarm|hyperdht|udx-native)\//.test(url))

beforeAll(() => assertBuilt())

describe('the DHT transport is loaded only when a DHT starts', () => {
  it('parley --help loads no Hyperswarm module', async () => {
    const { urls, out } = await run([CLI, '--help'])
    expect(out).toContain('--listen HOST:PORT')
    // The hook saw the CLI's loader, so it would see the DHT's addon too.
    expect(urls.some((url) => url.endsWith('/apps/cli/bin/boot.cjs'))).toBe(true)
    expect(swarm(urls)).toEqual([])
  }, 90_000)

  it('the check sees the DHT when one starts', async () => {
    const urls = await runBootstrap()
    expect(swarm(urls).some((url) => url.includes('/udx-native/'))).toBe(true)
  }, 90_000)
})
