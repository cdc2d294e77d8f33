#!/usr/bin/env node
// Turns a package's dist/, as tsc wrote it (one .js per source file), into one module per entry point named
// in its package.json `exports`, plus shared chunks when it has several. Node 20 loads ES modules one file
// at a time (resolve, read, compile, link): a parley start loaded about 120 of them, a large share of its
// start-up. Imports of other packages stay imports, so each package still resolves its own dependencies
// and is published and installed alone. The declarations (.d.ts) stay as tsc wrote them.
// Run from a package's folder, after tsc: `node ../../tooling/scripts/bundle-dist.js [dist/extra.js ...]`;
// the extra entries are internal modules that the package's own bench scripts import from its build.
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { build } from 'esbuild'

const dist = 'dist'
const staging = 'dist.bundle'
const manifest = JSON.parse(readFileSync('package.json', 'utf8'))

/** The `default` file of every subpath export that lives in dist/ and is a module. */
function entryPoints(exports) {
  const entries = []
  for (const target of Object.values(exports ?? {})) {
    const file = typeof target === 'string' ? target : target?.default
    if (typeof file === 'string' && file.startsWith('./dist/') && file.endsWith('.js')) entries.push(file)
  }
  return entries
}

/** Every file under `dir`, as paths that start with it. */
function filesUnder(dir) {
  return readdirSync(dir, { recursive: true })
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile())
}

const entries = [...entryPoints(manifest.exports), ...process.argv.slice(2).map((file) => `./${file}`)]
const missing = entries.find((file) => !existsSync(file))
if (missing) {
  console.error(`bundle-dist: ${manifest.name} has no ${missing}; run tsc first`)
  process.exit(1)
}
if (entries.length === 0) {
  console.error(`bundle-dist: ${manifest.name} exports no module from dist/; nothing to bundle`)
  process.exit(1)
}
rmSync(staging, { recursive: true, force: true })
try {
  await build({
    entryPoints: entries,
    outdir: staging,
    outbase: dist,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Every bare import (other parley packages, libraries, node: builtins) stays an import.
    packages: 'external',
    // tsc's source maps are followed, so stack traces can still be mapped to src/.
    sourcemap: true,
    chunkNames: 'chunk-[hash]',
    logLevel: 'warning',
  })
  // Only what tsc emitted as JavaScript goes; the declarations and everything else stay.
  for (const file of filesUnder(dist)) if (/\.js(\.map)?$/.test(file)) rmSync(file)
  for (const file of filesUnder(staging)) {
    const to = join(dist, relative(staging, file))
    if (existsSync(to)) rmSync(to)
    renameSync(file, to)
  }
} finally {
  rmSync(staging, { recursive: true, force: true })
}
