import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'

const packageDir = fileURLToPath(new URL('..', import.meta.url))

/**
 * Child processes run plain Node, which cannot load the TypeScript sources: compile them into a
 * private folder (a fraction of a second with the native tsc), so a stale or missing dist/ cannot
 * make these tests pass or fail.
 */
export async function compileStore(): Promise<{ url: string; remove: () => Promise<void> }> {
  const out = await mkdtemp(join(tmpdir(), 'parley-store-build-'))
  const tsc = join(packageDir, 'node_modules', 'typescript', 'bin', 'tsc')
  const flags = [
    '--outDir',
    out,
    '--declaration',
    'false',
    '--declarationMap',
    'false',
    '--sourceMap',
    'false',
  ]
  await promisify(execFile)(process.execPath, [tsc, '-p', 'tsconfig.build.json', ...flags], {
    cwd: packageDir,
  })
  return {
    url: pathToFileURL(join(out, 'index.js')).href,
    remove: () => rm(out, { recursive: true, force: true }),
  }
}

export const fixture = (name: string) => fileURLToPath(new URL(`fixtures/${name}`, import.meta.url))

/** Mulberry32: a tiny seeded generator, so a failing seed can be replayed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
