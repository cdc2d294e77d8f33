'use strict'
// Loads an app from its bundle: the app and every library it runs on in one CommonJS file (the build makes
// it with tooling/scripts/bundle-bin.js), compiled with the V8 code cache the build made beside it. Node 20
// resolves, reads and compiles every module of a start one file at a time: with about 70 of them, the
// compiling alone was a third of `parley`'s start-up. Native addons stay outside the file and are required
// as usual, from the bundle's folder. A cache is used only for the very file and the runtime (Node version,
// flags) it was made for (see `cachedDataFor`; V8 itself checks only the file's length); without one, the
// file is compiled as any other, and that start leaves a cache of its own for the next (see
// `localCacheFor`). Each app has a loader of its own made by `bundleLoader` (`apps/cli/bin/boot.cjs`, and
// parley-tui's `apps/blessed-ui/bin/tui-boot.cjs` and `node-host-boot.cjs`); this file is not bundled.
const {
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
  renameSync,
  rmSync,
  statSync,
} = require('node:fs')
const { createRequire } = require('node:module')
const { homedir } = require('node:os')
const { basename, dirname, join } = require('node:path')
const { pathToFileURL } = require('node:url')
const { Script } = require('node:vm')

const HEADER = '// parley bundle '

/** Code caches kept per user and bundle, at most: one per build, Node version and V8 flags in use. */
const LOCAL_CACHES = 4

/**
 * What a code cache depends on besides the file: the Node (hence V8) version, the architecture and the
 * flags (V8 refuses a cache made under other flags). A cache's second line names it, so that a start picks
 * the cache made for it before compiling, instead of compiling once more after V8 refused one.
 */
function runtimeTag() {
  const flags = `${process.execArgv.join(' ')}|${process.env.NODE_OPTIONS ?? ''}`
  let tag = 0x811c9dc5
  for (let i = 0; i < flags.length; i++) tag = Math.imul(tag ^ flags.charCodeAt(i), 0x01000193)
  return `${process.version}-${process.arch}-${(tag >>> 0).toString(16)}`
}

/**
 * The cached data in `file` for the bundle whose first line is `header`, if the cache was made for that
 * build and `runtime` (its first two lines), and the bundle was not changed after it: caches are written
 * after the bundle, and an install gives the bundle and its cache the same time, so a bundle newer than a
 * cache was patched since (a patched bundle of the same length would otherwise run the build's code
 * wherever the cache holds it). No hashing.
 */
function cachedDataFor(bundle, file, header, runtime) {
  let cache
  try {
    if (statSync(bundle).mtimeMs > statSync(file).mtimeMs) return undefined
    cache = readFileSync(file)
  } catch {
    return undefined
  }
  const expected = `${header}\n${runtime}\n`
  if (cache.length <= expected.length || cache.toString('latin1', 0, expected.length) !== expected)
    return undefined
  return cache.subarray(expected.length)
}

/**
 * Where a start that has no packaged cache made for its runtime (parley installed for another Node version
 * than it was built with, or run with V8 flags) keeps one of its own for the next start: the user's cache
 * dir (`$XDG_CACHE_HOME/parley`, or `~/.cache/parley`), one file per bundle (by its file's name), build and
 * runtime: `parley-<build>-<runtime>.cache`.
 */
function localCacheFor(bundle, header, runtime) {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache')
  const build = header.slice(HEADER.length, HEADER.length + 12)
  return join(base, 'parley', `${basename(bundle, '.cjs')}-${build}-${runtime}.cache`)
}

/** Writes `script`'s code cache to `file`, whole or not at all; returns the error, if any. */
function writeCache(script, header, runtime, file) {
  const temp = `${file}.${process.pid}`
  try {
    const lines = Buffer.from(`${header}\n${runtime}\n`, 'latin1')
    writeFileSync(temp, Buffer.concat([lines, script.createCachedData()]), { mode: 0o600 })
    renameSync(temp, file)
    return undefined
  } catch (error) {
    rmSync(temp, { force: true })
    return error
  }
}

/**
 * Keeps the newest `LOCAL_CACHES` caches of one bundle (`name`) in the user's cache dir: older builds and
 * Nodes are not used again. Per bundle, so that the apps' bundles do not take each other's places.
 */
function pruneLocalCaches(dir, name) {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const ofBundle = new RegExp(`^${escaped}-[0-9a-f]{12}-.*\\.cache$`)
  const caches = readdirSync(dir)
    .filter((file) => ofBundle.test(file))
    .map((file) => ({ path: join(dir, file), mtimeMs: statSync(join(dir, file)).mtimeMs }))
    .sort((a, b) => b.mtimeMs - a.mtimeMs)
  for (const old of caches.slice(LOCAL_CACHES)) rmSync(old.path, { force: true })
}

/**
 * The loader of the bundle at `bundle` (an absolute path), whose code cache is `${bundle}.cache`, and the
 * line an app prints when it cannot load it.
 */
function bundleLoader(bundle) {
  const cache = `${bundle}.cache`
  /**
   * Compiles and runs the bundle. Returns its exports (`app.run`) and what became of the code cache: `used`
   * (the one the build made), `used-local` (one a start made in the user's cache dir), `refused` by V8 (made
   * for this runtime, yet not accepted), `none` (none made for this build and runtime), or `making`. Unless a
   * cache was used, the start leaves one in the user's cache dir when the process exits, for the next
   * (silently: the cache is only ever a speed-up). For the build only: `cacheOut`, write the code cache there
   * instead, holding every function compiled meanwhile; `localCache: false`, neither read nor write the
   * user's (a build must not leave files in the home of whoever builds).
   */
  function load({ cacheOut, localCache = true } = {}) {
    // The bundle is ASCII (esbuild escapes the rest), so latin1 reads it exactly, and fastest.
    const source = readFileSync(bundle, 'latin1')
    const header = source.slice(0, source.indexOf('\n'))
    const runtime = runtimeTag()
    let local
    try {
      if (localCache && !cacheOut) local = localCacheFor(bundle, header, runtime)
    } catch {
      // No home directory to keep a cache in: the packaged one only.
    }
    // A cache of the user's exists only if a start of this very build and runtime could not use the packaged
    // one (none made for its runtime, or refused by V8): it goes first. Otherwise a `stat` finds nothing.
    const fromLocal = local ? cachedDataFor(bundle, local, header, runtime) : undefined
    const cachedData = fromLocal ?? (cacheOut ? undefined : cachedDataFor(bundle, cache, header, runtime))
    // The bundle's `import.meta.url` (its modules were ES modules) is the last parameter.
    const wrapped = `(function (exports, require, module, __filename, __dirname, import_meta_url) {${source}\n})`
    const script = new Script(wrapped, { filename: bundle, cachedData })
    const used = cachedData !== undefined && !script.cachedDataRejected
    const exported = { exports: {} }
    script.runInThisContext()(
      exported.exports,
      createRequire(bundle),
      exported,
      bundle,
      dirname(bundle),
      pathToFileURL(bundle).href,
    )
    if (cacheOut) {
      process.on('exit', () => {
        const error = writeCache(script, header, runtime, cacheOut)
        if (!error) return
        process.stderr.write(`boot: cannot write the code cache ${cacheOut}: ${error.message}\n`)
        process.exitCode = 1
      })
    } else if (!used && local) {
      process.on('exit', () => {
        try {
          mkdirSync(dirname(local), { recursive: true, mode: 0o700 })
          if (!writeCache(script, header, runtime, local))
            pruneLocalCaches(dirname(local), basename(bundle, '.cjs'))
        } catch {
          // A cache dir that cannot be written: the next start compiles again, as this one did.
        }
      })
    }
    const outcome = cacheOut
      ? 'making'
      : used
        ? fromLocal
          ? 'used-local'
          : 'used'
        : cachedData
          ? 'refused'
          : 'none'
    return { app: exported.exports, cache: outcome }
  }
  /**
   * What `app` says when `load` threw (`error`), after its name: one line naming the bundle and what to do.
   * The app exits 1, as for any other fault of the installation itself.
   */
  function cannotLoad(error, app) {
    const hint =
      error?.code === 'ENOENT'
        ? `reinstall ${app}, or run pnpm build in its repository`
        : 'please report this'
    return `internal error: cannot load ${bundle}: ${error?.message} (${hint})`
  }
  return { load, cannotLoad, BUNDLE: bundle, CACHE: cache, HEADER }
}

module.exports = { bundleLoader, HEADER }
