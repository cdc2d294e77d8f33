'use strict'
// Loads `parley` from dist/parley.cjs: the app and every library it runs on in one file (the build makes it
// with tooling/scripts/bundle-bin.js), compiled with the V8 code cache the build made beside it. Node 20
// resolves, reads and compiles every module of a start one file at a time: with about 70 of them, the
// compiling alone was a third of the start-up. Native addons stay outside the file and are required as
// usual. The cache is used only for the very file it was made from (see `cachedDataFor`; V8 itself checks
// only the length), and V8 refuses one made by another Node or for other V8 flags: the file is then
// compiled as any other.
const { readFileSync, writeFileSync, renameSync, rmSync, statSync } = require('node:fs')
const { createRequire } = require('node:module')
const { join } = require('node:path')
const { pathToFileURL } = require('node:url')
const { Script } = require('node:vm')

const BUNDLE = join(__dirname, '..', 'dist', 'parley.cjs')
/**
 * The code cache: the bundle's first line (`// parley bundle <sha1 of the rest>`, written by the build),
 * then the V8 data made for that build.
 */
const CACHE = `${BUNDLE}.cache`
const HEADER = '// parley bundle '

/**
 * The cached data for the bundle whose first line is `header`, if the cache was made for that build and
 * the bundle was not changed after it: the build writes the cache after the bundle, and an install gives
 * both the same time, so a bundle newer than its cache was patched since (a patched bundle of the same
 * length would otherwise run the build's code wherever the cache holds it). Two `stat`s, no hashing.
 */
function cachedDataFor(header) {
  let cache
  try {
    if (statSync(BUNDLE).mtimeMs > statSync(CACHE).mtimeMs) return undefined
    cache = readFileSync(CACHE)
  } catch {
    return undefined
  }
  const newline = cache.indexOf(10)
  if (newline < 0 || cache.toString('latin1', 0, newline) !== header) return undefined
  return cache.subarray(newline + 1)
}

/**
 * Compiles and runs the bundle. Returns its exports (`app.run`) and what became of the code cache: `used`,
 * `refused` by V8 (another Node, other flags), `none` (missing, or made for another build) or `making`.
 * `cacheOut`, for the build only: when the process exits, write there a code cache holding every function
 * compiled meanwhile.
 */
function load(cacheOut) {
  // The bundle is ASCII (esbuild escapes the rest), so latin1 reads it exactly, and fastest.
  const source = readFileSync(BUNDLE, 'latin1')
  const header = source.slice(0, source.indexOf('\n'))
  const cachedData = cacheOut ? undefined : cachedDataFor(header)
  // The bundle's `import.meta.url` (its modules were ES modules) is the last parameter.
  const wrapped = `(function (exports, require, module, __filename, __dirname, import_meta_url) {${source}\n})`
  const script = new Script(wrapped, { filename: BUNDLE, cachedData })
  const bundle = { exports: {} }
  script.runInThisContext()(
    bundle.exports,
    createRequire(BUNDLE),
    bundle,
    BUNDLE,
    join(__dirname, '..', 'dist'),
    pathToFileURL(BUNDLE).href,
  )
  if (cacheOut) {
    process.on('exit', () => {
      const data = script.createCachedData()
      const temp = `${cacheOut}.${process.pid}`
      try {
        writeFileSync(temp, Buffer.concat([Buffer.from(`${header}\n`, 'latin1'), data]))
        renameSync(temp, cacheOut)
      } catch (error) {
        rmSync(temp, { force: true })
        process.stderr.write(`boot: cannot write the code cache ${cacheOut}: ${error.message}\n`)
        process.exitCode = 1
      }
    })
  }
  const cache = cacheOut ? 'making' : !cachedData ? 'none' : script.cachedDataRejected ? 'refused' : 'used'
  return { app: bundle.exports, cache }
}

module.exports = { load, BUNDLE, CACHE, HEADER }
