import { KeyFormatError } from './errors.js'
import { sha256 } from './sha256.js'

/** The text a fingerprint's checksum starts with, before the key. */
const CHECKSUM_CONTEXT = new TextEncoder().encode('parley fingerprint')

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567'
const KEY_BYTES = 32
const CHECK_BYTES = 3
/** 35 bytes (key + checksum) are exactly 56 base32 characters, shown as 14 groups of 4. */
const FULL_CHARS = ((KEY_BYTES + CHECK_BYTES) * 8) / 5
const SHORT_CHARS = 8

export interface Fingerprint {
  /** All of the key plus a checksum, for pinning: `abcd-efgh-…` (14 groups of 4). */
  full: string
  /** The first 8 characters (40 bits of the key), for showing next to a name: `abcd-efgh`. */
  short: string
}

/**
 * A readable form of a public key: lowercase base32 of the key and a 3-byte checksum, in groups of four.
 * @example fingerprint(id).short // 'r4kq-2xbm'
 */
export function fingerprint(keyHex: string): Fingerprint {
  const key = keyBytes(keyHex)
  const text = base32(concat(key, checksum(key)))
  return { full: group(text), short: group(text.slice(0, SHORT_CHARS)) }
}

/**
 * Reads a public key given as 64 hex characters or as a full fingerprint (dashes, spaces and case are
 * ignored), and returns it as lowercase hex. A short fingerprint is refused: 40 bits cannot pin a key.
 */
export function parseKeyOrFingerprint(text: string): string {
  const input = text.trim()
  if (/^[0-9a-fA-F]{64}$/.test(input)) return input.toLowerCase()
  const compact = input.toLowerCase().replace(/[-\s]/g, '')
  if (compact.length === SHORT_CHARS && isBase32(compact)) {
    throw new KeyFormatError(
      'SHORT_FINGERPRINT',
      `"${input}" is a short fingerprint; pinning a key needs the full fingerprint (56 characters, as "parley id" prints it) or the 64-character hex key`,
    )
  }
  const invited = /^parley:\/\/(?:.*\/)?([^/]+)$/i.exec(input)?.[1]
  if (invited !== undefined) {
    throw new KeyFormatError(
      'BAD_KEY',
      `"${shorten(input)}" is an invite, not a key: give the fingerprint in it alone (${shorten(invited)})`,
    )
  }
  if (compact.length !== FULL_CHARS || !isBase32(compact)) {
    throw new KeyFormatError(
      'BAD_KEY',
      `"${shorten(input)}" is not a key: expected a full fingerprint (56 base32 characters, such as "parley id" prints) or a 64-character hex key`,
    )
  }
  const bytes = unbase32(compact)
  const key = bytes.subarray(0, KEY_BYTES)
  if (!equal(bytes.subarray(KEY_BYTES), checksum(key))) {
    throw new KeyFormatError(
      'BAD_CHECKSUM',
      `fingerprint "${shorten(input)}" has a typo (its checksum does not match)`,
    )
  }
  return Buffer.from(key).toString('hex')
}

/** True for 64 lowercase or uppercase hex characters. */
export function isKeyHex(text: string): boolean {
  return /^[0-9a-fA-F]{64}$/.test(text)
}

function keyBytes(keyHex: string): Uint8Array {
  if (!isKeyHex(keyHex))
    throw new KeyFormatError('BAD_KEY', `"${shorten(keyHex)}" is not a 64-character hex public key`)
  return Buffer.from(keyHex, 'hex')
}

function checksum(key: Uint8Array): Uint8Array {
  return sha256(CHECKSUM_CONTEXT, key).subarray(0, CHECK_BYTES)
}

function base32(bytes: Uint8Array): string {
  let out = ''
  let bits = 0
  let value = 0
  for (const byte of bytes) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31]
  return out
}

function unbase32(text: string): Uint8Array {
  const out: number[] = []
  let bits = 0
  let value = 0
  for (const char of text) {
    value = ((value << 5) | ALPHABET.indexOf(char)) & 0xffff
    bits += 5
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255)
      bits -= 8
    }
  }
  return Uint8Array.from(out)
}

function isBase32(text: string): boolean {
  return /^[a-z2-7]+$/.test(text)
}

function group(text: string): string {
  return text.replace(/(.{4})(?=.)/g, '$1-')
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i])
}

function shorten(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}
