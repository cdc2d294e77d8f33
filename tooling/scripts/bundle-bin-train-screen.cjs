'use strict'
// Loads parley-tui's screen side from its bundle, for bundle-bin.js: `node bundle-bin-train-screen.cjs BOOT
// CACHE`. Its start needs a terminal, which a build may not have: the code cache, written to CACHE when this
// exits, holds what loading the bundle and then the screen's modules (`loadScreen`: blessed, the model, the
// width tables) compiles. The functions that only a terminal runs are compiled when first run, as before.
// Neither reads or writes the user's own code caches (`localCache: false`).
const [boot, cacheOut] = process.argv.slice(2)
const { app } = require(boot).load({ cacheOut, localCache: false })
app.loadScreen().then(
  () => process.exit(0),
  (error) => {
    console.error(`bundle-bin-train-screen: ${error.message}`)
    process.exit(1)
  },
)
