'use strict'
// Loads `parley` from dist/parley.cjs: the app and every library it runs on in one file (the build makes it
// with tooling/scripts/bundle-bin.js), compiled with the V8 code cache the build made beside it. Node 20
// resolves, reads and compiles every module of a start one file at a time: with about 70 of them, the
// compiling alone was a third of the start-up. Native addons stay outside the file and are required as
// usual. A cache made by another Node or for other V8 flags is refused by V8, and then the file is compiled
// as any other; a cache made for another build of the file is never given to V8 (each names its build).
const { readFileSync, writeFileSync, renameSync, rmSync } = require('node:fs')
const { createRequire } = require('node:module')
const { join } = require('node:path')
const { Script } = require('node:vm')

const BUNDLE = join(__dirname, '..', 'dist', 'parley.cjs')
/**
 * The code cache: the bundle's first line (`// parley bundle <sha1 of the rest>`, written by the build),
 * then the V8 data made for that build.
 */
const CACHE = `${BUNDLE}.cache`

/** The cached data for the bundle whose first line is `build`, if the cache was made for that build. */
function cachedDataFor(build) {
  let cache
  try {
    cache = readFileSync(CACHE)
  } catch {
    return undefined
  }
  const newline = cache.indexOf(10)
  if (newline < 0 || cache.toString('latin1', 0, newline) !== build) return undefined
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
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`
  const build = source.slice(0, source.indexOf('\n'))
  const cachedData = cacheOut ? undefined : cachedDataFor(build)
  const script = new Script(wrapped, { filename: BUNDLE, cachedData })
  const bundle = { exports: {} }
  script.runInThisContext()(
    bundle.exports,
    createRequire(BUNDLE),
    bundle,
    BUNDLE,
    join(__dirname, '..', 'dist'),
  )
  if (cacheOut) {
    process.on('exit', () => {
      const data = script.createCachedData()
      const temp = `${cacheOut}.${process.pid}`
      try {
        writeFileSync(temp, Buffer.concat([Buffer.from(`${build}\n`, 'latin1'), data]))
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

module.exports = { load, BUNDLE, CACHE }
