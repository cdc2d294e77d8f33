'use strict'
// Loads parley-tui's screen side (the executable's entry, dist/run.js, with blessed, the model and the
// launcher) from dist/parley-tui.cjs, the bundle the build makes (tooling/scripts/bundle-bin.js), with its
// code cache: see @parley/launcher's boot.cjs. The node thread has a bundle of its own (node-host-boot.cjs).
const { join } = require('node:path')
const { bundleLoader } = require('@parley/launcher/boot')

module.exports = bundleLoader(join(__dirname, '..', 'dist', 'parley-tui.cjs'))
