import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { TrustFileError } from './errors.js'
import { KNOWN_PEERS_FILE, KnownPeers } from './known-peers.js'

const A = 'aa'.repeat(32)
const B = 'bb'.repeat(32)

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'parley-known-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('known peers', () => {
  it('says new, match or mismatch for an address, and remembers across reopen', async () => {
    const known = await KnownPeers.open(dir)
    expect(known.check('127.0.0.1:4001', A)).toBe('new')
    await known.remember('127.0.0.1:4001', A, 'bob')
    expect(known.check('127.0.0.1:4001', A)).toBe('match')
    expect(known.check('127.0.0.1:4001', A.toUpperCase())).toBe('match')
    expect(known.check('127.0.0.1:4001', B)).toMatchObject({ mismatch: A })
    expect(known.check('127.0.0.1:4002', A)).toBe('new')

    const reopened = await KnownPeers.open(dir)
    expect(reopened.check('127.0.0.1:4001', B)).toEqual({ mismatch: A, line: 3 })
    expect(reopened.get('127.0.0.1:4001')).toMatchObject({ name: 'bob' })
    const file = join(dir, KNOWN_PEERS_FILE)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect(await readFile(file, 'utf8')).toContain(`127.0.0.1:4001 ${A} bob\n`)
  })

  it('normalizes how an address is written, but keeps different hosts apart', async () => {
    const known = await KnownPeers.open(dir)
    await known.remember('[::1]:4001', A)
    expect(known.check(' [::1]:4001 ', A)).toBe('match')
    expect(known.check('localhost:4001', B)).toBe('new')
  })

  it('keeps comments and replaces the line of a key that changed', async () => {
    const file = join(dir, KNOWN_PEERS_FILE)
    await writeFile(file, `# mine\n127.0.0.1:1 ${A} one\n\n127.0.0.1:2 ${A}  # two\n`)
    const known = await KnownPeers.open(dir)
    await known.remember('127.0.0.1:2', B)
    expect(await readFile(file, 'utf8')).toBe(`# mine\n127.0.0.1:1 ${A} one\n\n127.0.0.1:2 ${B}\n`)
    expect(known.check('127.0.0.1:2', B)).toBe('match')
    await known.remember('127.0.0.1:3', B)
    expect(await readFile(file, 'utf8')).toBe(
      `# mine\n127.0.0.1:1 ${A} one\n\n127.0.0.1:2 ${B}\n127.0.0.1:3 ${B}\n`,
    )
  })

  it('serializes concurrent remembers so no line is lost', async () => {
    const known = await KnownPeers.open(dir)
    await Promise.all(Array.from({ length: 10 }, (_, i) => known.remember(`127.0.0.1:${4000 + i}`, A)))
    const reopened = await KnownPeers.open(dir)
    expect(reopened.entries()).toHaveLength(10)
  })

  it('refuses a malformed line, naming the file and line', async () => {
    const file = join(dir, KNOWN_PEERS_FILE)
    for (const bad of [`127.0.0.1:1\n`, `nope ${A}\n`, `127.0.0.1:1 xyz\n`]) {
      await writeFile(file, `# ok\n${bad}`)
      const attempt = KnownPeers.open(dir)
      await expect(attempt).rejects.toBeInstanceOf(TrustFileError)
      await expect(attempt).rejects.toThrow(`${file}:2:`)
    }
  })

  it('says what to do about a malformed line: correct it, or delete it to learn the key again', async () => {
    const file = join(dir, KNOWN_PEERS_FILE)
    for (const bad of [`127.0.0.1:1\n`, `nope ${A}\n`, `127.0.0.1:1 ${A.replace('a', 'X')}\n`]) {
      await writeFile(file, bad)
      await expect(KnownPeers.open(dir)).rejects.toThrow(
        /; correct that line, or delete it to trust the key the next dial there meets \(as on first use\)$/,
      )
    }
  })
})
