'use strict'
// Loads parley-tui's node thread from dist/node-host.cjs, the bundle the build makes of
// dist/node-thread/node-host.js (tooling/scripts/bundle-bin.js), with its code cache: see
// @parley/launcher's boot.cjs.
const { join } = require('node:path')
const { bundleLoader } = require('@parley/launcher/boot')

module.exports = bundleLoader(join(__dirname, '..', 'dist', 'node-host.cjs'))
