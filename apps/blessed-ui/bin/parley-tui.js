#!/usr/bin/env node
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
  if (process.stdin.isTTY && process.stdout.isTTY && !argv.includes('--help') && !argv.includes('-h')) {
    const { makeNodeThreadEarly } = await import('../dist/node-thread/early.js')
    makeNodeThreadEarly()
  }
  const { run } = await import('../dist/run.js')
  run(argv)
}
