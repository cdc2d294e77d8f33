#!/usr/bin/env node
// Makes the file an app's executable loads (see @parley/launcher's boot.cjs): an entry of its dist/, with
// every parley package and JavaScript library it imports in one CommonJS file, and a V8 code cache for it,
// made by a real start. What stays outside (native addons, and data loaded only when needed) must be a
// dependency of the app.
// Run from the app's folder, after tsc: `node ../../tooling/scripts/bundle-bin.js [--entry FILE]
// [--boot FILE] [--train send|node-thread|screen]`. The defaults make `parley`: dist/index.js (as
// bundle-dist.js left it), loaded by bin/boot.cjs, trained by a one-shot send. parley-tui's node thread is
// `--entry dist/node-thread/node-host.js --boot bin/node-host-boot.cjs --train node-thread`, and its screen
// side `--entry dist/run.js --boot bin/tui-boot.cjs --train screen`.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { builtinModules, createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { build } from 'esbuild'

/**
 * Required at run time from the bundle's folder, so the app depends on each: what loads a native addon
 * (udx-native; of sodium-native only its `binding.js`: its 100 KB of JavaScript is bundled, so that it is
 * in the code cache, see `sodiumBinding`), the table of look-alike letters (100 KB), which a run loads
 * only once two peers' names look alike, and which would otherwise be compiled into every start, and zod
 * (750 KB, half of the bundle), which core loads only to word why a frame was refused: in the bundle, every
 * start read it.
 */
const OUTSIDE = ['sodium-native/binding.js', 'udx-native', 'unhomoglyph/data.json', 'zod']
const TRAIN = fileURLToPath(new URL('bundle-bin-train.cjs', import.meta.url))
const TRAIN_NODE_THREAD = fileURLToPath(new URL('bundle-bin-train-node-thread.cjs', import.meta.url))
const TRAIN_SCREEN = fileURLToPath(new URL('bundle-bin-train-screen.cjs', import.meta.url))
/**
 * Libraries blessed requires only in its terminal widget, which parley-tui does not use, and which are not
 * installed: left as requires that never run.
 */
const NEVER_LOADED = ['term.js', 'pty.js']
/** Package folders found at run time with `require.resolve`, nothing bundled: blessed's, parley-tui's own. */
const FOUND_AT_RUN_TIME = ['blessed/package.json', '@parley/blessed-ui/package.json']
const { values: options } = parseArgs({
  options: {
    entry: { type: 'string', default: 'dist/index.js' },
    boot: { type: 'string', default: 'bin/boot.cjs' },
    train: { type: 'string', default: 'send' },
  },
})
if (!['send', 'node-thread', 'screen'].includes(options.train)) {
  console.error(`bundle-bin: --train is send, node-thread or screen, not ${options.train}`)
  process.exit(2)
}
const TIMEOUT_MS = 60_000
/**
 * The loader, @parley/launcher's boot.cjs, copied beside the bundle, where the app's `bin/` loaders require
 * it by a relative path: finding `@parley/launcher/boot` through node_modules and the package's exports took
 * about 2.5 ms of every start. Copied first, since the app's loader is read next.
 */
copyFileSync(createRequire(resolve('package.json')).resolve('@parley/launcher/boot'), 'dist/boot-loader.cjs')
/**
 * From the app's loader (`--boot`), so that both name the same files: where the bundle and its cache go,
 * and how a build is known (the first line of the bundle and of its cache).
 */
const { BUNDLE, CACHE, HEADER } = createRequire(import.meta.url)(resolve(options.boot))
/**
 * V8 refuses a cache made under other V8 flags: the training run and the check after it run with none, as
 * the executable runs (a `NODE_OPTIONS` of the build's own would otherwise make a cache no start can use).
 */
const CLEAN_ENV = { ...process.env, NODE_OPTIONS: '' }

function fail(message) {
  console.error(`bundle-bin: ${message}`)
  process.exit(1)
}

/**
 * The packages' ES modules load CommonJS libraries with `createRequire(import.meta.url)`, which a bundler
 * cannot follow: such a loader becomes a plain `require`, so that the library is bundled too.
 */
const commonJsLoads = {
  name: 'commonjs-loads',
  setup(build) {
    build.onLoad({ filter: /[\\/]dist[\\/].*\.js$/ }, (args) => {
      let text = readFileSync(args.path, 'utf8')
      if (!text.includes('createRequire')) return undefined
      const names = []
      text = text.replace(
        /\b(?:var|let|const) ([\w$]+) = createRequire\d*\(import\.meta\.url\);?/g,
        (_, name) => {
          names.push(name)
          return ''
        },
      )
      text = text.replace(/\bcreateRequire\d*\(import\.meta\.url\)\(/g, 'require(')
      // Every use of such a loader becomes `require`: calls with a literal name are bundled, and the loader
      // handed on as a value (to find and load sodium-native's addon) is the bundle's own require.
      for (const name of names)
        text = text.replace(
          new RegExp(`(?<![.\\w$])${name.replaceAll('$', '\\$')}(?![\\w$])`, 'g'),
          'require',
        )
      if (/createRequire\d*\(import\.meta\.url\)/.test(text))
        fail(`${args.path} loads CommonJS in a way this script does not follow`)
      return { contents: text, loader: 'js' }
    })
  },
}

/**
 * blessed finds files by its own folder: its widgets by a computed name (`require('./widgets/' + file)`, which
 * a bundler cannot follow: it becomes one `require` per file of lib/widgets), its terminfo and font files by
 * `__dirname` (which in the bundle would be the bundle's folder: it becomes blessed's, found at run time).
 */
const blessedFiles = {
  name: 'blessed-files',
  setup(build) {
    build.onLoad({ filter: /[\\/]blessed[\\/]lib[\\/]widget\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8')
      const computed = "require('./widgets/' + file)"
      if (!text.includes(computed)) fail(`${args.path} no longer loads its widgets as this script expects`)
      const files = readdirSync(join(dirname(args.path), 'widgets'))
        .filter((name) => name.endsWith('.js'))
        .map((name) => name.slice(0, -3))
      const cases = files.map((name) => `case ${JSON.stringify(name)}: return require('./widgets/${name}');`)
      const widgetOf = `function widgetOf(file) { switch (file) { ${cases.join(' ')} } throw new Error('blessed has no widget ' + file); }\n`
      return { contents: widgetOf + text.replace(computed, 'widgetOf(file)'), loader: 'js' }
    })
    build.onLoad({ filter: /[\\/]blessed[\\/]lib[\\/](tput|widgets[\\/]bigtext)\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8')
      const usr = /__dirname \+ '\/(\.\.\/)+usr\//g
      if (!usr.test(text)) fail(`${args.path} no longer finds its files as this script expects`)
      const root = "require('path').dirname(require.resolve('blessed/package.json'))"
      return { contents: text.replace(usr, `${root} + '/usr/`), loader: 'js' }
    })
  },
}

/**
 * sodium-native's index.js is bundled; the `binding.js` it requires, which finds and loads the addon from
 * the package's folder, is required from the installed package at run time (where @parley/secure may have
 * put the addon in its place already, see its sodium-addon.ts).
 */
const sodiumBinding = {
  name: 'sodium-binding',
  setup(build) {
    build.onResolve({ filter: /^\.\/binding(\.js)?$/ }, (args) =>
      /[\\/]sodium-native[\\/]index\.js$/.test(args.importer)
        ? { path: 'sodium-native/binding.js', external: true }
        : undefined,
    )
  },
}

rmSync(BUNDLE, { force: true })
rmSync(CACHE, { force: true })
if (!existsSync(options.entry)) fail(`no ${options.entry}; run tsc (and bundle-dist.js) first`)
const built = await build({
  entryPoints: [options.entry],
  outfile: BUNDLE,
  write: false,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  charset: 'ascii',
  // Less to read at each start; names are kept, so that an internal error still reads.
  minifyWhitespace: true,
  external: [...OUTSIDE, ...NEVER_LOADED, ...FOUND_AT_RUN_TIME],
  // The modules were ES modules: their `import.meta.url` is a parameter that bin/boot.cjs passes.
  define: { 'import.meta.url': 'import_meta_url' },
  plugins: [commonJsLoads, blessedFiles, sodiumBinding],
  logLevel: 'warning',
})
let text = built.outputFiles[0].text

// What the bundle still requires at run time: builtins and OUTSIDE, nothing else.
const builtins = new Set(builtinModules)
const outside = [...text.matchAll(/\brequire\("([^"]+)"\)/g)]
  .map((m) => m[1])
  .filter(
    (id) =>
      !id.startsWith('node:') && !builtins.has(id) && !OUTSIDE.includes(id) && !NEVER_LOADED.includes(id),
  )
if (outside.length > 0) fail(`the bundle still requires ${[...new Set(outside)].join(', ')}`)
if (/^(?!\s*(\/\/|\*)).*\bimport\(/m.test(text))
  fail('the bundle has a dynamic import(), which its loader does not run')
// Parley's modules were ES modules, strict: so is the whole bundle, as esbuild made it.
if (!text.startsWith('"use strict";')) fail('the bundle does not start with "use strict"')
// The bundle is written, and read at each start, as Latin-1: only ASCII survives both ways. esbuild escapes
// every other character, except inside a regular expression literal, where one would be changed silently.
const notAscii = text.search(/[^\x00-\x7f]/)
if (notAscii >= 0) {
  const at = text.slice(Math.max(0, notAscii - 60), notAscii + 20)
  fail(
    `the bundle holds a character outside ASCII (most likely in a regular expression literal; write it as \\u{...}): ...${at}...`,
  )
}
// Its first line names this build by the digest of the rest, and so does the cache's: bin/boot.cjs uses a
// cache only with the build it was made for. Written whole, then renamed: never a bundle without its name.
text = `${HEADER}${createHash('sha1').update(text, 'latin1').digest('hex')}\n${text}`
writeFileSync(`${BUNDLE}.tmp`, text, 'latin1')
renameSync(`${BUNDLE}.tmp`, BUNDLE)

/** Starts `node args` with `input` on stdin; `done` resolves with its stderr once it exits 0. */
function node(args, input, onStderr) {
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'ignore', 'pipe'], env: CLEAN_ENV })
  const done = new Promise((resolve, reject) => {
    let stderr = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS)
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      stderr += chunk
      onStderr?.(stderr)
    })
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) resolve(stderr)
      else reject(new Error(`node ${args.join(' ')} ended with ${signal ?? code}: ${stderr.trim()}`))
    })
  })
  child.stdin.end(input)
  return { child, done }
}

// The cache is made by a real run: `parley`'s by a one-shot send to a receiver on loopback, parley-tui's
// node thread by two threads on loopback that send a line (bundle-bin-train-node-thread.cjs). It holds what
// a start, a handshake, a message and an exit compile.
const work = mkdtempSync(join(tmpdir(), 'parley-bundle-bin-'))
const boot = resolve(options.boot)
let receiver
let failure
try {
  if (options.train === 'node-thread') {
    await node([TRAIN_NODE_THREAD, boot, CACHE, work], '').done
  } else if (options.train === 'screen') {
    await node([TRAIN_SCREEN, boot, CACHE], '').done
  } else {
    const port = await new Promise((resolvePort, rejectPort) => {
      const args = ['--recv-only', '--listen', '127.0.0.1:0', '--data-dir', join(work, 'b'), '--name', 'bob']
      receiver = node([TRAIN, boot, '', ...args], '', (stderr) => {
        const found = /listening on 127\.0\.0\.1:(\d+)/.exec(stderr)
        if (found) resolvePort(found[1])
      })
      receiver.done.then(() => rejectPort(new Error('the receiver exited before listening')), rejectPort)
    })
    const args = [
      '--peer',
      `127.0.0.1:${port}`,
      '--listen',
      '127.0.0.1:0',
      '--data-dir',
      join(work, 'a'),
      '--name',
      'alice',
    ]
    await node([TRAIN, boot, CACHE, ...args], 'a line that makes the code cache\n').done
  }
  if (!existsSync(CACHE)) throw new Error('the training run wrote no code cache')
  // The cache must be one a start uses; a `node` that made one it then refuses is a broken build.
  // A file, not `node -e`: the code given to -e is among `process.execArgv`, which the cache is made for.
  const check = join(work, 'check.cjs')
  writeFileSync(
    check,
    `process.stderr.write(require(${JSON.stringify(boot)}).load({ localCache: false }).cache)`,
  )
  const cache = (await node([check], '').done).trim()
  if (cache !== 'used') throw new Error(`a start does not use the code cache made (${cache})`)
} catch (error) {
  failure = error
} finally {
  if (receiver) {
    receiver.child.kill('SIGINT')
    await receiver.done.catch(() => {})
  }
  rmSync(work, { recursive: true, force: true })
}
if (failure) {
  rmSync(CACHE, { force: true })
  fail(`cannot make the code cache: ${failure.message}`)
}
