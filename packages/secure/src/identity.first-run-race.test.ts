/**
 * Two first runs on one data dir at once: one finds no key, and the other writes the key and then its
 * public key before the first looks again. The first must take that key, not call it lost. The race is
 * made by failing the first read of the key file once, as if it came just before the other run's write.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

const race = vi.hoisted(() => ({ missOnce: undefined as string | undefined }))

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>()
  return {
    ...real,
    readFileSync: ((path: string, ...rest: unknown[]) => {
      if (path === race.missOnce) {
        race.missOnce = undefined
        throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' })
      }
      return (real.readFileSync as (...args: unknown[]) => unknown)(path, ...rest)
    }) as typeof real.readFileSync,
  }
})

const { IDENTITY_KEY_FILE, loadOrCreateIdentity } = await import('./identity.js')

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'parley-identity-race-'))
})
afterEach(async () => {
  race.missOnce = undefined
  await rm(dir, { recursive: true, force: true })
})

describe('a first run that loses the race to another', () => {
  it('takes the key the other run just made, rather than calling it lost', async () => {
    const other = await loadOrCreateIdentity(dir)
    race.missOnce = join(dir, IDENTITY_KEY_FILE)
    const mine = await loadOrCreateIdentity(dir)
    expect(race.missOnce).toBeUndefined()
    expect(mine.id).toBe(other.id)
    expect(mine.created).toBe(false)
  })
})
