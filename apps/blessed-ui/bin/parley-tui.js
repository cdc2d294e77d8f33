#!/usr/bin/env node
import { createRequire } from 'node:module'

// `--version` answers without loading the stack (blessed, the launcher, libsodium): loading it is most of
// the start-up.
const argv = process.argv.slice(2)
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  const { readFileSync } = await import('node:fs')
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  process.stdout.write(`parley-tui ${version}\n`)
} else {
  // A chat on a terminal runs its node on a thread of its own: made first, it loads the node's modules
  // while this thread loads the screen's. Help and errors do not need it.
  let nodeWorker
  if (process.stdin.isTTY && process.stdout.isTTY && !argv.includes('--help') && !argv.includes('-h')) {
    const { takeNodeWorker } = await import('../dist/node-thread/early.js')
    nodeWorker = takeNodeWorker()
  }
  // The screen's side in one file with its code cache (see tui-boot.cjs): a start compiles almost nothing.
  const { load, cannotLoad } = createRequire(import.meta.url)('./tui-boot.cjs')
  let loaded
  try {
    loaded = load()
  } catch (error) {
    // Exit 1, an internal error, as for any other fault of the installation itself.
    process.stderr.write(`parley-tui: ${cannotLoad(error, 'parley-tui')}\n`)
    process.exit(1)
  }
  loaded.app.run(argv, { nodeWorker })
}
