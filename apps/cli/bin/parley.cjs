#!/usr/bin/env node
'use strict'
// CommonJS, like the bundle it loads: no ES module loader is started for it.
const argv = process.argv.slice(2)
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  // Answered without loading the app: a version check costs only Node's own start.
  process.stdout.write(`parley ${require('../package.json').version}\n`)
} else {
  // The app in one file with its code cache (see boot.cjs): a start compiles almost nothing.
  const { load, cannotLoad } = require('./boot.cjs')
  let loaded
  try {
    loaded = load()
  } catch (error) {
    process.stderr.write(`parley: ${cannotLoad(error, 'parley')}\n`)
    process.exit(1)
  }
  loaded.app.run(argv)
}
