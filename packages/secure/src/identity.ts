/// <reference path="./types/secret-stream.d.ts" />
import { readFileSync, statSync } from 'node:fs'
import { link, lstat, mkdir, open, readFile, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { SecretStream } from './commonjs.js'
import { fileTrouble, IdentityError } from './errors.js'
import { fingerprint } from './fingerprint.js'
import { randomSuffix } from './random.js'

/** An ed25519 key pair (libsodium layout: the 64-byte secret key is seed + public key). */
export interface KeyPair {
  publicKey: Uint8Array
  secretKey: Uint8Array
}

export interface Identity extends KeyPair {
  /** The public key as lowercase hex: the node id. */
  id: string
  /** True when this call made the key pair (first use of `dir`). */
  created: boolean
}

export const IDENTITY_KEY_FILE = 'identity.key'
export const IDENTITY_PUB_FILE = 'identity.pub'

/** A fresh random key pair, for tests and ephemeral nodes. */
export function generateKeyPair(): KeyPair {
  return SecretStream.keyPair()
}

/**
 * Loads the node's long-term key pair from `dir/identity.key`, creating it (and `dir`) on first use.
 * Refuses a secret key file that group or others can read, and a file that is not a valid key.
 * @example const me = await loadOrCreateIdentity(dataDir) // me.id is the node id
 */
export async function loadOrCreateIdentity(dir: string): Promise<Identity> {
  const keyFile = join(dir, IDENTITY_KEY_FILE)
  let created = false
  let text = readIfExists(keyFile)
  if (text === undefined) {
    await refuseIfLost(dir, keyFile)
    created = await createKeyFile(dir, keyFile)
    text = readIfExists(keyFile) ?? ''
  }
  checkPermissions(keyFile)
  const keyPair = parseSecretKey(text, keyFile)
  const id = Buffer.from(keyPair.publicKey).toString('hex')
  await writePublicKey(join(dir, IDENTITY_PUB_FILE), id)
  return { ...keyPair, id, created }
}

/**
 * A missing key beside the public key it was saved with was lost (deleted, moved away), not never made:
 * a new one would be another node to every peer, and what this data dir still has to deliver was signed
 * by the old one. Refused, so that the user restores it or starts over on purpose in a new data dir.
 */
async function refuseIfLost(dir: string, keyFile: string): Promise<void> {
  const pubFile = join(dir, IDENTITY_PUB_FILE)
  let pub: string
  try {
    // Only the file parley wrote tells: a link or anything else planted at its name is replaced as before.
    if (!(await lstat(pubFile)).isFile()) return
    pub = await readFile(pubFile, 'utf8')
  } catch {
    return
  }
  const id = /^[0-9a-f]{64}$/m.exec(pub)?.[0]
  if (id === undefined) return
  // A concurrent first run writes the key before its public key: with the public key there, a key that
  // is there now was only just made, and the caller takes it.
  if (readIfExists(keyFile) !== undefined) return
  const who = ` of ${fingerprint(id).full}`
  throw new IdentityError(
    'KEY_MISSING',
    `identity key ${keyFile} is missing, but ${pubFile} says this data dir had the identity${who}; restore the key from a backup, or start over with a new --data-dir (a new key is a new node to your peers, and what waits in this one was signed by the old key)`,
  )
}

/**
 * The key file's text, read synchronously: every start reads it once, before the node does anything else,
 * and the thread pool's round trips took longer than the reads.
 */
function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    if (isCode(err, 'ENOENT')) return undefined
    throw new IdentityError('KEY_IO', `cannot read identity key ${file}: ${fileTrouble(err)}`, {
      cause: err,
    })
  }
}

/** Writes a new key to a private temporary file, then links it into place, so a reader never sees half a key. */
async function createKeyFile(dir: string, keyFile: string): Promise<boolean> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const keyPair = generateKeyPair()
    const temp = join(dir, `.${IDENTITY_KEY_FILE}.${process.pid}.${randomSuffix()}`)
    const handle = await open(temp, 'wx', 0o600)
    try {
      await handle.chmod(0o600)
      await handle.writeFile(formatSecretKey(keyPair))
      await handle.sync()
    } finally {
      await handle.close()
    }
    try {
      await link(temp, keyFile)
      return true
    } catch (err) {
      // Another process created the key first: use theirs.
      if (isCode(err, 'EEXIST')) return false
      if (isCode(err, 'EPERM') || isCode(err, 'ENOTSUP') || isCode(err, 'EXDEV')) {
        await rename(temp, keyFile)
        return true
      }
      throw err
    } finally {
      await unlink(temp).catch(() => {})
    }
  } catch (err) {
    if (err instanceof IdentityError) throw err
    throw new IdentityError('KEY_IO', `cannot create identity key ${keyFile}: ${fileTrouble(err)}`, {
      cause: err,
    })
  }
}

function checkPermissions(keyFile: string): void {
  if (process.platform === 'win32') return
  const { mode } = statSync(keyFile)
  if ((mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0')
    throw new IdentityError(
      'KEY_PERMISSIONS',
      `identity key ${keyFile} is accessible by other users (mode ${octal}); fix it with: chmod 600 ${keyFile}`,
    )
  }
}

function formatSecretKey(keyPair: KeyPair): string {
  return [
    '# parley identity: ed25519 secret key. Keep it private (mode 0600): whoever has it can act as this node.',
    Buffer.from(keyPair.secretKey).toString('hex'),
    '',
  ].join('\n')
}

function parseSecretKey(text: string, keyFile: string): KeyPair {
  const hex = text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('')
    .trim()
  const corrupt = (why: string) =>
    new IdentityError(
      'KEY_CORRUPT',
      `identity key ${keyFile} is damaged (${why}); restore it from a backup, or start over with a new --data-dir (a new key is a new node to your peers)`,
    )
  if (!/^[0-9a-f]{128}$/i.test(hex)) throw corrupt('expected 128 hex characters')
  const secretKey = Buffer.from(hex, 'hex')
  const derived = SecretStream.keyPair(secretKey.subarray(0, 32))
  if (!derived.secretKey.equals(secretKey)) throw corrupt('its public half does not match its seed')
  return { publicKey: derived.publicKey, secretKey: derived.secretKey }
}

/** The public half is derived data: rewritten whenever it is missing or stale. */
async function writePublicKey(pubFile: string, id: string): Promise<void> {
  const text = `# parley public key (node id); fingerprint ${fingerprint(id).full}\n${id}\n`
  if (readTextOrNothing(pubFile) === text) return
  // A fresh file renamed into place: a link planted at either name is replaced, never written through.
  const temp = `${pubFile}.${process.pid}.${randomSuffix()}`
  try {
    const handle = await open(temp, 'wx', 0o644)
    try {
      await handle.chmod(0o644)
      await handle.writeFile(text)
    } finally {
      await handle.close()
    }
    await rename(temp, pubFile)
  } catch (err) {
    await unlink(temp).catch(() => {})
    throw new IdentityError('KEY_IO', `cannot write ${pubFile}: ${fileTrouble(err)}`, { cause: err })
  }
}

function readTextOrNothing(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
}

function isCode(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === code
}
