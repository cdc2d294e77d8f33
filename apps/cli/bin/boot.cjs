'use strict'
// Loads `parley` from dist/parley.cjs, the bundle the build makes (tooling/scripts/bundle-bin.js), with its
// code cache: see @parley/launcher's boot.cjs.
const { join } = require('node:path')
const { bundleLoader } = require('@parley/launcher/boot')

module.exports = bundleLoader(join(__dirname, '..', 'dist', 'parley.cjs'))
