import { createRequire } from 'node:module'

const load = createRequire(import.meta.url)
let loaded: typeof import('node:zlib') | undefined

/**
 * `node:zlib`, loaded the first time a journal compresses, decompresses or checks a frame: frontends import
 * this package for its data-dir helpers, and a plain node, which keeps no journal, never needs it.
 */
export function zlib(): typeof import('node:zlib') {
  loaded ??= load('node:zlib') as typeof import('node:zlib')
  return loaded
}
