'use strict'
// Loads parley-tui's screen side (the executable's entry, dist/run.js, with blessed, the model and the
// launcher) from dist/parley-tui.cjs, the bundle the build makes (tooling/scripts/bundle-bin.js), with its
// code cache: see @parley/launcher's boot.cjs. The node thread has a bundle of its own (node-host-boot.cjs).
const { existsSync } = require('node:fs')
const { join } = require('node:path')
// @parley/launcher's loader, from the copy the build put beside the bundle (found without resolving a
// package), or from the package in a checkout not built yet (whose loader then says to build).
const copy = join(__dirname, '..', 'dist', 'boot-loader.cjs')
const { bundleLoader } = require(existsSync(copy) ? copy : '@parley/launcher/boot')

module.exports = bundleLoader(join(__dirname, '..', 'dist', 'parley-tui.cjs'))
