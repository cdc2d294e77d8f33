import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { IdentityError } from './errors.js'
import { IDENTITY_KEY_FILE, IDENTITY_PUB_FILE, loadOrCreateIdentity } from './identity.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'parley-identity-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('identity', () => {
  it('creates a key pair on first use, private to its owner, and returns the same one afterwards', async () => {
    const home = join(dir, 'nested', 'data')
    const first = await loadOrCreateIdentity(home)
    expect(first.created).toBe(true)
    expect(first.id).toMatch(/^[0-9a-f]{64}$/)
    expect(first.secretKey).toHaveLength(64)
    expect((await stat(join(home, IDENTITY_KEY_FILE))).mode & 0o777).toBe(0o600)

    const again = await loadOrCreateIdentity(home)
    expect(again.created).toBe(false)
    expect(again.id).toBe(first.id)
    expect(Buffer.from(again.secretKey)).toEqual(Buffer.from(first.secretKey))
  })

  it('writes the public key beside it, and rewrites it when it is missing', async () => {
    const { id } = await loadOrCreateIdentity(dir)
    const pub = join(dir, IDENTITY_PUB_FILE)
    expect(await readFile(pub, 'utf8')).toContain(`\n${id}\n`)
    await rm(pub)
    await loadOrCreateIdentity(dir)
    expect(await readFile(pub, 'utf8')).toContain(id)
  })

  it('gives every concurrent first use the same identity', async () => {
    const all = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateIdentity(dir)))
    expect(new Set(all.map((identity) => identity.id)).size).toBe(1)
    expect(all.filter((identity) => identity.created)).toHaveLength(1)
  })

  it.skipIf(process.platform === 'win32')(
    'refuses a secret key that others can read, saying how to fix it in one line',
    async () => {
      await loadOrCreateIdentity(dir)
      const file = join(dir, IDENTITY_KEY_FILE)
      await chmod(file, 0o644)
      const attempt = loadOrCreateIdentity(dir)
      await expect(attempt).rejects.toBeInstanceOf(IdentityError)
      await expect(attempt).rejects.toMatchObject({ code: 'KEY_PERMISSIONS' })
      const error = (await attempt.catch((err: unknown) => err)) as Error
      expect(error.message).toContain(`chmod 600 ${file}`)
      expect(error.message).toContain('0644')
      expect(error.message).not.toContain('\n')

      await chmod(file, 0o640)
      await expect(loadOrCreateIdentity(dir)).rejects.toMatchObject({ code: 'KEY_PERMISSIONS' })
      await chmod(file, 0o600)
      await expect(loadOrCreateIdentity(dir)).resolves.toMatchObject({ created: false })
    },
  )

  it('refuses to replace a key that was lost beside its public key, and keeps both files as they are', async () => {
    const first = await loadOrCreateIdentity(dir)
    await rm(join(dir, IDENTITY_KEY_FILE))
    const pubBefore = await readFile(join(dir, IDENTITY_PUB_FILE), 'utf8')
    const error = await loadOrCreateIdentity(dir).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(IdentityError)
    expect((error as IdentityError).code).toBe('KEY_MISSING')
    const message = (error as Error).message
    expect(message).not.toContain('\n')
    expect(message).toContain(`identity key ${join(dir, IDENTITY_KEY_FILE)} is missing`)
    expect(message).toContain('start over with a new --data-dir')
    // Named by its fingerprint, so the user knows which backup to look for.
    expect(message).toMatch(/had the identity of [a-z2-7]{4}(-[a-z2-7]{4})+/)
    await expect(stat(join(dir, IDENTITY_KEY_FILE))).rejects.toMatchObject({ code: 'ENOENT' })
    expect(await readFile(join(dir, IDENTITY_PUB_FILE), 'utf8')).toBe(pubBefore)
    expect(first.created).toBe(true)
  })

  it('says in words that identity.pub is a directory, not a file, rather than pass on EISDIR', async () => {
    await mkdir(join(dir, IDENTITY_PUB_FILE))
    const error = await loadOrCreateIdentity(dir).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(IdentityError)
    expect((error as Error).message).toBe(
      `cannot write ${join(dir, IDENTITY_PUB_FILE)}: it is a directory, not a file; move it away`,
    )
  })

  it('refuses a damaged key file rather than replacing it', async () => {
    const file = join(dir, IDENTITY_KEY_FILE)
    await writeFile(file, 'not a key\n', { mode: 0o600 })
    await expect(loadOrCreateIdentity(dir)).rejects.toMatchObject({ code: 'KEY_CORRUPT' })
    expect(await readFile(file, 'utf8')).toBe('not a key\n')
  })

  it('refuses a key whose public half does not belong to its seed', async () => {
    await loadOrCreateIdentity(dir)
    const file = join(dir, IDENTITY_KEY_FILE)
    const text = await readFile(file, 'utf8')
    const lines = text.split('\n')
    const hex = lines[1]!
    lines[1] = hex.slice(0, 100) + (hex[100] === '0' ? '1' : '0') + hex.slice(101)
    await writeFile(file, lines.join('\n'), { mode: 0o600 })
    await expect(loadOrCreateIdentity(dir)).rejects.toThrow(/does not match/)
  })
})
