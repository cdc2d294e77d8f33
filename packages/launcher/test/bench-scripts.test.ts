/**
 * The figures in the README's room section come from the scripts in `bench/`. They run against the
 * built packages, so a change to an API they use breaks them silently unless something runs them: each
 * one runs here at a tiny size and must print its figure line. What the figures are is not checked.
 */
import { execFile } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const BENCH = join(dirname(fileURLToPath(import.meta.url)), '..', 'bench')

function run(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: BENCH, timeout: 110_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${args.join(' ')} failed: ${error.message}\n${stderr}`))
      else resolve(stdout)
    })
  })
}

describe('the launcher bench scripts run on the current build', () => {
  it('fanout.mjs measures a small mesh with journals', async () => {
    const out = await run(['fanout.mjs', '4', '2', '--journal'])
    expect(out).toMatch(/4 nodes, \d+ links/)
    expect(out).toMatch(/send -> last of 3 nodes shows it, over 2 messages: median [\d.]+ ms/)
    expect(out).toMatch(/process CPU per message, all nodes, acks included: [\d.]+ ms/)
  }, 120_000)

  it('memory.mjs measures a relay holding a few members', async () => {
    const out = await run(['--expose-gc', 'memory.mjs', '3', '20'])
    expect(out).toMatch(/^3 members, window 20/m)
    expect(out).toMatch(/memory per member: \d+ KiB/)
  }, 120_000)

  it('throwaway-keys.mjs lets the newcomer in past a small table', async () => {
    const out = await run(['throwaway-keys.mjs', '12', '8'])
    expect(out).toMatch(
      /12 throwaway keys against a table of 8: .*carol shown \d+ ms after sending; TOO_MANY_ORIGINS refusals 0/,
    )
  }, 120_000)
})
