import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire, Module } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { sodium, sodiumAddon } from './commonjs.js'
import { type AddonHost, currentHost, prebuiltAddon, preloadSodiumAddon } from './sodium-addon.js'

const LINUX: AddonHost = { platform: 'linux', arch: 'x64', musl: false }

describe('prebuiltAddon', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'parley-addon-'))
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'sodium-native', version: '5.1.0' }))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  function put(host: string, file: string): string {
    mkdirSync(join(dir, 'prebuilds', host), { recursive: true })
    writeFileSync(join(dir, 'prebuilds', host, file), '')
    return join(dir, 'prebuilds', host, file)
  }

  it("takes the versioned file first, then the plain one, as sodium-native's resolver does", () => {
    const plain = put('linux-x64', 'sodium-native.node')
    expect(prebuiltAddon(dir, LINUX)).toBe(plain)
    const versioned = put('linux-x64', 'sodium-native@5.1.0.node')
    expect(prebuiltAddon(dir, LINUX)).toBe(versioned)
  })

  it('looks only in the folder of this platform and libc', () => {
    put('linux-x64', 'sodium-native.node')
    expect(prebuiltAddon(dir, { platform: 'linux', arch: 'arm64', musl: false })).toBeUndefined()
    expect(prebuiltAddon(dir, { ...LINUX, musl: true })).toBeUndefined()
    const musl = put('linux-x64-musl', 'sodium-native.node')
    expect(prebuiltAddon(dir, { ...LINUX, musl: true })).toBe(musl)
  })

  it('leaves a package without a prebuild, or without a readable manifest, to the resolver', () => {
    expect(prebuiltAddon(dir, LINUX)).toBeUndefined()
    put('linux-x64', 'sodium-native.node')
    writeFileSync(join(dir, 'package.json'), '{ not json')
    expect(prebuiltAddon(dir, LINUX)).toBeUndefined()
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'sodium-native' }))
    expect(prebuiltAddon(dir, LINUX)).toBeUndefined()
  })
})

describe('preloadSodiumAddon', () => {
  let dir: string
  let main: string
  let binding: string
  let addon: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'parley-addon-'))
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'sodium-native', version: '5.1.0' }))
    main = join(dir, 'index.js')
    binding = join(dir, 'binding.js')
    writeFileSync(main, '')
    writeFileSync(binding, '')
    mkdirSync(join(dir, 'prebuilds', 'linux-x64'), { recursive: true })
    addon = join(dir, 'prebuilds', 'linux-x64', 'sodium-native.node')
    writeFileSync(addon, '')
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  /** A `require` over a fake package: `load` is what loading the addon file does. */
  function fakeRequire(load: (file: string) => unknown): NodeJS.Require & { loaded: string[] } {
    const loaded: string[] = []
    const fake = ((file: string) => {
      loaded.push(file)
      return load(file)
    }) as NodeJS.Require & { loaded: string[] }
    fake.resolve = ((id: string) => {
      if (id !== 'sodium-native') throw new Error(`unexpected ${id}`)
      return main
    }) as NodeJS.RequireResolve
    fake.cache = {}
    fake.loaded = loaded
    return fake
  }

  it("puts the addon in the cache as sodium-native's binding.js", () => {
    const exports = { crypto_sign_BYTES: 64 }
    const load = fakeRequire(() => exports)
    expect(preloadSodiumAddon(load, LINUX)).toEqual({ via: 'direct', file: addon })
    expect(load.loaded).toEqual([addon])
    const cached = load.cache[binding]
    expect(cached?.exports).toBe(exports)
    expect(cached?.filename).toBe(binding)
    expect(cached?.loaded).toBe(true)
  })

  it('touches nothing once sodium-native is loaded, or when its layout is another', () => {
    const loaded = fakeRequire(() => ({}))
    loaded.cache[main] = new Module(main)
    expect(preloadSodiumAddon(loaded, LINUX)).toEqual({ via: 'resolver' })
    expect(loaded.loaded).toEqual([])

    const noBinding = fakeRequire(() => ({}))
    rmSync(binding)
    expect(preloadSodiumAddon(noBinding, LINUX)).toEqual({ via: 'resolver' })
    expect(noBinding.loaded).toEqual([])
    expect(noBinding.cache).toEqual({})
  })

  it('leaves an addon that fails to open to sodium-native, with nothing cached', () => {
    const load = fakeRequire(() => {
      throw new Error('wrong ELF class')
    })
    expect(preloadSodiumAddon(load, LINUX)).toEqual({ via: 'resolver' })
    expect(load.cache).toEqual({})
  })
})

describe('sodium-native as this package loads it', () => {
  it('comes from its prebuilt addon directly where there is one, and works', () => {
    const load = createRequire(import.meta.url)
    const expected = prebuiltAddon(dirname(load.resolve('sodium-native')), currentHost())
    // This machine has the prebuild; elsewhere the resolver's way is the right one.
    if (expected) {
      expect(sodiumAddon).toEqual({ via: 'direct', file: expected })
      expect(Object.keys(load.cache).filter((path) => path.includes('require-addon'))).toEqual([])
    } else expect(sodiumAddon).toEqual({ via: 'resolver' })
    const publicKey = Buffer.alloc(32)
    const secretKey = Buffer.alloc(64)
    ;(sodium as unknown as { crypto_sign_keypair(pk: Buffer, sk: Buffer): void }).crypto_sign_keypair(
      publicKey,
      secretKey,
    )
    const signature = Buffer.alloc(sodium.crypto_sign_BYTES)
    sodium.crypto_sign_detached(signature, Buffer.from('hello'), secretKey)
    expect(sodium.crypto_sign_verify_detached(signature, Buffer.from('hello'), publicKey)).toBe(true)
    expect(sodium.crypto_sign_verify_detached(signature, Buffer.from('hellO'), publicKey)).toBe(false)
  })
})
