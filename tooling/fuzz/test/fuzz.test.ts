/**
 * The fuzzer itself, run as `pnpm fuzz` runs it (the built entry point, in its worker): a clean run passes,
 * the same seed gives the same run, and a real fault installed in the node is caught with its seed and
 * frame. Needs `pnpm build` first, as the end-to-end tests do.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import type { FuzzReport } from '../src/harness.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const main = join(root, 'dist', 'main.js')

beforeAll(() => {
  const core = join(root, 'node_modules', '@parley', 'core', 'dist', 'index.js')
  if (!existsSync(core)) throw new Error('run `pnpm build` first: the fuzzer runs the built node')
  // The fuzzer's own build, so that the test runs what its sources say now.
  const build = spawnSync(process.execPath, [tscBin(), '-p', 'tsconfig.build.json'], {
    cwd: root,
    encoding: 'utf8',
  })
  if (build.status !== 0) throw new Error(`cannot build the fuzzer: ${build.stdout}${build.stderr}`)
})

function tscBin(): string {
  return join(root, 'node_modules', 'typescript', 'bin', 'tsc')
}

function fuzz(...args: string[]) {
  const run = spawnSync(process.execPath, ['--expose-gc', main, '--json', ...args], {
    encoding: 'utf8',
    timeout: 110_000,
  })
  const line = run.stdout.trim().split('\n').at(-1) ?? ''
  return {
    status: run.status,
    stderr: run.stderr,
    report: line.startsWith('{') ? (JSON.parse(line) as FuzzReport) : undefined,
  }
}

describe('pnpm fuzz', () => {
  it('sends every frame through the node and finds no untyped failure in a clean run, the same for the same seed', () => {
    const first = fuzz('--frames', '4000', '--seed', '11')
    expect(first.stderr).toBe('')
    expect(first.status).toBe(0)
    const report = first.report!
    expect(report.failure).toBeUndefined()
    expect(report.frames).toBe(4000)
    expect(report.shown).toBeGreaterThan(0)
    // Hostile frames of many kinds reached the runtime and were refused with their codes.
    for (const code of ['BAD_MESSAGE', 'BAD_JSON', 'BAD_UTF8', 'FRAME_TOO_LARGE', 'FORGED']) {
      expect(report.codes[code], code).toBeGreaterThan(0)
    }
    const again = fuzz('--frames', '4000', '--seed', '11').report!
    expect({ links: again.links, codes: again.codes, shown: again.shown }).toEqual({
      links: report.links,
      codes: report.codes,
      shown: report.shown,
    })
  })

  it('fails with the seed and the frame when the node throws an untyped error inside a read', () => {
    const run = fuzz('--frames', '20000', '--seed', '11', '--fault', 'throw-on-refusal')
    expect(run.status).toBe(1)
    const failure = run.report!.failure!
    expect(failure).toMatchObject({ kind: 'untyped-throw', seed: 11 })
    expect(failure.error).toMatch(/RangeError: injected/)
    expect(failure.index).toBeGreaterThan(0)
    expect(failure.index).toBeLessThan(20000)
    // The frame that broke it: one the node refuses as BAD_UTF8.
    expect(failure.frame).toMatch(/hex /)
  })

  it('fails when the node throws later, in a promise callback: an unhandled rejection', () => {
    const run = fuzz('--frames', '20000', '--seed', '12', '--fault', 'throw-on-message')
    expect(run.status).toBe(1)
    expect(run.report!.failure).toMatchObject({ kind: 'unhandled-rejection', seed: 12 })
    expect(run.report!.failure!.error).toMatch(/TypeError: injected/)
  })

  it('fails when memory grows with the run past the bound', () => {
    const run = fuzz('--frames', '8000', '--seed', '13', '--heap-growth', '4', '--fault', 'leak-messages')
    expect(run.status).toBe(1)
    expect(run.report!.failure).toMatchObject({ kind: 'heap-growth', seed: 13 })
    expect(run.report!.heapMb.end - run.report!.heapMb.warm).toBeGreaterThan(4)
  })

  it('refuses bad usage with one line and exit code 2', () => {
    const run = spawnSync(process.execPath, [main, '--frames', 'many'], { encoding: 'utf8' })
    expect(run.status).toBe(2)
    expect(run.stderr.split('\n')[0]).toBe('fuzz: --frames takes a whole number of at least 1, got "many"')
  })
})
