/**
 * Loading sodium-native's prebuilt addon without its general resolver. sodium-native's `binding.js` finds
 * the addon through require-addon, which loads bare-addon-resolve, bare-module-resolve, bare-semver and
 * which-runtime to look for it. On the 2-core development machine, spawning `node -e` with
 * `require('sodium-native')` took 34 ms more than an empty script that way, and 18 ms with the addon
 * loaded directly. Where the file that resolver would take first is there, it is loaded directly and
 * handed to sodium-native as its `binding.js`; in every other case nothing is touched, and sodium-native
 * loads it as it always does.
 */
import { existsSync, readFileSync } from 'node:fs'
import { Module } from 'node:module'
import { dirname, join } from 'node:path'

/** Where the addon came from: its file, loaded directly, or sodium-native's own resolver. */
export type AddonSource = { readonly via: 'direct'; readonly file: string } | { readonly via: 'resolver' }

/** The machine, as the resolver names its prebuilds folder. */
export interface AddonHost {
  readonly platform: string
  readonly arch: string
  /** Alpine (musl libc): the resolver looks in `<platform>-<arch>-musl`. */
  readonly musl: boolean
}

export function currentHost(): AddonHost {
  return {
    platform: process.platform,
    arch: process.arch,
    musl: process.platform === 'linux' && existsSync('/etc/alpine-release'),
  }
}

/**
 * The addon file sodium-native's resolver takes first in the package's own `prebuilds/` folder:
 * `<host>/<name>@<version>.node`, else `<host>/<name>.node`. Undefined when neither is there (another
 * platform, a build from source): the resolver's other places are its business.
 */
export function prebuiltAddon(packageDir: string, host: AddonHost): string | undefined {
  let manifest: { name?: unknown; version?: unknown }
  try {
    manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'))
  } catch {
    return undefined
  }
  if (typeof manifest.name !== 'string' || typeof manifest.version !== 'string') return undefined
  const folder = join(packageDir, 'prebuilds', `${host.platform}-${host.arch}${host.musl ? '-musl' : ''}`)
  const name = manifest.name.replace(/\//g, '__').replace(/^@/, '')
  for (const file of [`${name}@${manifest.version}.node`, `${name}.node`]) {
    const path = join(folder, file)
    if (existsSync(path)) return path
  }
  return undefined
}

/**
 * Puts the prebuilt addon in the module cache as sodium-native's `binding.js`, before sodium-native is
 * first required through `load`. Does nothing once sodium-native is loaded, or when its layout is not
 * the one this expects; a failure to open the addon is left for sodium-native's own loader to report.
 */
export function preloadSodiumAddon(load: NodeJS.Require, host = currentHost()): AddonSource {
  try {
    const main = load.resolve('sodium-native')
    const packageDir = dirname(main)
    const bindingPath = join(packageDir, 'binding.js')
    if (load.cache[main] || load.cache[bindingPath] || !existsSync(bindingPath)) return { via: 'resolver' }
    const file = prebuiltAddon(packageDir, host)
    if (!file) return { via: 'resolver' }
    const binding = new Module(bindingPath)
    binding.filename = bindingPath
    binding.exports = load(file)
    binding.loaded = true
    load.cache[bindingPath] = binding
    return { via: 'direct', file }
  } catch {
    return { via: 'resolver' }
  }
}
