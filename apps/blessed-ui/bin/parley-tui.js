#!/usr/bin/env node
// `--version` answers without loading the stack (blessed, the launcher, libsodium): loading it is most of
// the start-up.
const argv = process.argv.slice(2)
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  const { readFileSync } = await import('node:fs')
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  process.stdout.write(`parley-tui ${version}\n`)
} else {
  const { run } = await import('../dist/index.js')
  run(argv)
}
