/**
 * Loading `node:crypto` (and Web Crypto with it) took several milliseconds of every start, while a node
 * that only listens hashes nothing: a secure node draws its random ids from libsodium, which it has loaded
 * already, shows fingerprints with a SHA-256 of its own, and loads `node:crypto` at its first chain hash.
 * Checked on the built CLI, with Node's own list of the built-in modules a process has loaded.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { assertBuilt } from '@parley/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const HERE = dirname(fileURLToPath(import.meta.url))
const HOOK = join(HERE, 'fixtures', 'builtins-loaded.cjs')
const CLI = join(HERE, '..', '..', '..', 'apps', 'cli', 'bin', 'parley.cjs')
const work = mkdtempSync(join(tmpdir(), 'parley-lazy-crypto-'))

/** The built-ins `parley args` loaded, as the hook wrote them (at `listening on`, or at exit). */
function builtinsOf(args: string[], at: 'listening' | 'exit'): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--require', HOOK, CLI, ...args],
      { env: { ...process.env, BUILTINS_AT: at }, timeout: 60_000 },
      (error, _out, err) => {
        const line = err.split('\n').find((l) => l.startsWith('builtins: '))
        if (!line)
          reject(new Error(`parley ${args.join(' ')} wrote no builtins line (${error?.message}): ${err}`))
        else resolve(line.slice('builtins: '.length).split(' '))
      },
    )
  })
}

beforeAll(() => assertBuilt())
afterAll(() => rmSync(work, { recursive: true, force: true }))

describe('a secure node starts without node:crypto', () => {
  it('listens, with its identity made and its fingerprint shown, without loading it', async () => {
    const loaded = await builtinsOf(
      ['--recv-only', '--listen', '127.0.0.1:0', '--data-dir', join(work, 'a')],
      'listening',
    )
    // The hook saw the node's own built-ins, so it would see node:crypto too.
    expect(loaded).toContain('net')
    expect(loaded).not.toContain('crypto')
  }, 90_000)

  it('makes an identity and prints its fingerprint without loading it', async () => {
    const loaded = await builtinsOf(['id', '--data-dir', join(work, 'b')], 'exit')
    expect(loaded).toContain('fs')
    expect(loaded).not.toContain('crypto')
  }, 90_000)

  it('the check sees node:crypto where a command loads it (a room code has a sha256 checksum)', async () => {
    const loaded = await builtinsOf(['room'], 'exit')
    expect(loaded).toContain('crypto')
  }, 90_000)
})
