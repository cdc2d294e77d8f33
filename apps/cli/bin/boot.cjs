'use strict'
// Loads `parley` from dist/parley.cjs, the bundle the build makes (tooling/scripts/bundle-bin.js), with its
// code cache: see @parley/launcher's boot.cjs.
const { existsSync } = require('node:fs')
const { join } = require('node:path')
// @parley/launcher's loader, from the copy the build put beside the bundle (found without resolving a
// package), or from the package in a checkout not built yet (whose loader then says to build).
const copy = join(__dirname, '..', 'dist', 'boot-loader.cjs')
const { bundleLoader } = require(existsSync(copy) ? copy : '@parley/launcher/boot')

module.exports = bundleLoader(join(__dirname, '..', 'dist', 'parley.cjs'))
