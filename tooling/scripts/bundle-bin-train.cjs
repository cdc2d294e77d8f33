'use strict'
// Runs an app's bundle as its executable does, for bundle-bin.js: `node bundle-bin-train.cjs BOOT CACHE ARGS...`.
// BOOT is the app's bin/boot.cjs; with CACHE not empty, the code cache is written there when the run exits.
// Neither run reads or writes the user's own code caches (`localCache: false`).
const [boot, cacheOut, ...argv] = process.argv.slice(2)
require(boot)
  .load({ cacheOut: cacheOut || undefined, localCache: false })
  .app.run(argv)
