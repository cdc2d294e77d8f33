import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { fingerprint } from './fingerprint.js'
import { KnownPeers } from './known-peers.js'
import { makeAnnouncementCheck, makePinCheck, makeVerifier, WARNED_CAP } from './verifier.js'

const A = 'aa'.repeat(32)
const B = 'bb'.repeat(32)
const C = 'cc'.repeat(32)
const BOB = '127.0.0.1:4002'
const out = (remoteKey: string, address = BOB) => ({ remoteKey, address, direction: 'outbound' as const })
const inb = (remoteKey: string) => ({ remoteKey, address: '127.0.0.1:51234', direction: 'inbound' as const })

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'parley-verify-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('makeVerifier', () => {
  it('accepts anyone when nothing is configured', async () => {
    const verify = makeVerifier({})
    expect(await verify(out(A))).toBe('ok')
    expect(await verify(inb(A))).toBe('ok')
  })

  it('trusts a dialed address on first use and refuses a changed key loudly', async () => {
    const knownPeers = await KnownPeers.open(dir)
    const verify = makeVerifier({ knownPeers })
    expect(await verify(out(A))).toBe('ok')
    expect(knownPeers.check(BOB, A)).toBe('match')
    const verdict = await verify(out(B))
    expect(verdict).toHaveProperty('refuse')
    const reason = (verdict as { refuse: string }).refuse
    expect(reason).toContain('HAS CHANGED')
    expect(reason).toContain(fingerprint(A).full)
    expect(reason).toContain(fingerprint(B).full)
    expect(reason).toContain(`from ${knownPeers.file}`)
    expect(reason).toContain(`--peer-key ${fingerprint(B).full}`)
    expect(knownPeers.check(BOB, A)).toBe('match')
  })

  it('refuses a key other than the pinned one, even one known_peers has', async () => {
    const knownPeers = await KnownPeers.open(dir)
    await knownPeers.remember(BOB, B)
    const verify = makeVerifier({ knownPeers, pins: new Map([[BOB, fingerprint(A).full]]) })
    const verdict = await verify(out(B))
    expect((verdict as { refuse: string }).refuse).toMatch(/--peer-key.*pinned/)
  })

  it('names where a refused pin came from: an invite given to --join', async () => {
    const verify = makeVerifier({
      pins: new Map([[BOB, A]]),
      pinnedBy: new Map([[BOB, 'the invite given to --join']]),
    })
    const verdict = (await verify(out(B))) as { refuse: string }
    expect(verdict.refuse).toMatch(
      /^it proved a different key than the one pinned with the invite given to --join \(pinned /,
    )
    expect(verdict.refuse).not.toContain('--peer-key')
  })

  it('accepts the pinned key over a stale known_peers entry, and updates it', async () => {
    const knownPeers = await KnownPeers.open(dir)
    await knownPeers.remember(BOB, B)
    const verify = makeVerifier({ knownPeers, pins: new Map([[BOB, A]]) })
    expect(await verify(out(A))).toBe('ok')
    expect(knownPeers.check(BOB, A)).toBe('match')
  })

  it('applies the allowlist both ways, with pinned keys counting as allowed', async () => {
    const verify = makeVerifier({ allow: new Set([A]), pins: new Map([['127.0.0.1:9', C]]) })
    expect(await verify(inb(A))).toBe('ok')
    expect(await verify(inb(B))).toEqual({ refuse: expect.stringContaining('allowlist') })
    expect(await verify(out(A))).toBe('ok')
    expect(await verify(out(B))).toEqual({ refuse: expect.stringContaining('allowlist') })
    expect(await verify(out(C, '127.0.0.1:9'))).toBe('ok')
  })

  it('checks inbound links against the allowlist only, never against known_peers', async () => {
    const knownPeers = await KnownPeers.open(dir)
    await knownPeers.remember('127.0.0.1:51234', A)
    const verify = makeVerifier({ knownPeers })
    expect(await verify(inb(B))).toBe('ok')
    expect(knownPeers.entries()).toHaveLength(1)
  })
})

describe('makeAnnouncementCheck', () => {
  it('gives the changed-key warning once per address and key, then one line each time the peer comes back', async () => {
    await writeFile(join(dir, 'known_peers'), `${BOB} ${A}\n`)
    const check = makeAnnouncementCheck({ knownPeers: await KnownPeers.open(dir) })
    expect(check(B, BOB)).toMatch(/WARNING: THE KEY OF PEER 127\.0\.0\.1:4002 HAS CHANGED!/)
    for (let i = 0; i < 3; i++) {
      expect(check(B, BOB)).toBe(
        `peer announcing ${BOB}: refused again, with the key ${fingerprint(B).full} (see the warning above)`,
      )
    }
    // Another key at the same address is another warning, and the known key is still accepted.
    expect(check(C, BOB)).toMatch(/HAS CHANGED!/)
    expect(check(A, BOB)).toBeUndefined()
  })
})

describe('makePinCheck', () => {
  it('names a key as pinned at an address only when a pin or a known_peers line says so', async () => {
    const knownPeers = await KnownPeers.open(dir)
    await knownPeers.remember('127.0.0.1:4003', C)
    const pinned = makePinCheck({ knownPeers, pins: new Map([[BOB, fingerprint(A).full]]) })
    expect(pinned(A, BOB)).toBe(true)
    expect(pinned(B, BOB)).toBe(false)
    expect(pinned(C, '127.0.0.1:4003')).toBe(true)
    expect(pinned(B, '127.0.0.1:4003')).toBe(false)
    // No pin and no known key: a first contact, which an announcement never stands for.
    expect(pinned(A, '127.0.0.1:4009')).toBe(false)
    expect(pinned(A, 'not an address')).toBe(false)
  })
})

describe('key-only addresses (dht:KEY)', () => {
  const at = (key: string) => `dht:${key}`

  it('accepts the key the address names, refuses another one loudly, and learns nothing into known_peers', async () => {
    const knownPeers = await KnownPeers.open(dir)
    const verify = makeVerifier({ knownPeers, allow: new Set([C]) })
    expect(await verify(out(A, at(A)))).toBe('ok')
    const refused = await verify(out(B, at(A)))
    expect(refused).toMatchObject({ refuse: expect.stringContaining('proved ANOTHER key') })
    expect(knownPeers.entries()).toEqual([])
  })

  it('refuses a pin that contradicts the key in the address', async () => {
    const verify = makeVerifier({ pins: new Map([[at(A), fingerprint(B).full]]) })
    expect(await verify(out(A, at(A)))).toMatchObject({ refuse: expect.stringContaining('pinned') })
  })

  it('refuses a peer that announces a key-only address other than its own key', async () => {
    const check = makeAnnouncementCheck({})
    expect(check(A, at(A))).toBeUndefined()
    expect(check(B, at(A.toUpperCase()))).toMatch(/proved ANOTHER key/)
  })

  it('holds a bounded number of refusals it warned about in full: made-up keys push the oldest out', () => {
    const check = makeAnnouncementCheck({})
    const key = (i: number) => `b${i.toString(16).padStart(63, '0')}`
    expect(check(key(0), at(A))).toMatch(/proved ANOTHER key/)
    expect(check(key(0), at(A))).toMatch(/refused again/)
    for (let i = 1; i <= WARNED_CAP; i++) check(key(i), at(A))
    expect(check(key(0), at(A))).toMatch(/proved ANOTHER key/)
    expect(check(key(WARNED_CAP), at(A))).toMatch(/refused again/)
  })

  it('reads a known_peers line written with a key-only address', async () => {
    await writeFile(join(dir, 'known_peers'), `${at(A)} ${A} alice\n`)
    const knownPeers = await KnownPeers.open(dir)
    expect(knownPeers.check(at(A.toUpperCase()), A)).toBe('match')
  })
})
