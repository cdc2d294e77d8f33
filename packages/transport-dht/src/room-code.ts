import { createRequire } from 'node:module'
import { DhtError } from './errors.js'

const load = createRequire(import.meta.url)
let crypto: typeof import('node:crypto') | undefined
/**
 * `node:crypto`, loaded the first time a room code is made or read: frontends import this module to read
 * flags, and a node without `--room` (a plain one above all) starts about 9 ms sooner without it.
 */
function nodeCrypto(): typeof import('node:crypto') {
  crypto ??= load('node:crypto') as typeof import('node:crypto')
  return crypto
}

/** Crockford's base32: no i, l, o or u, so a code read aloud or copied by hand survives. */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'
const SECRET_BYTES = 16
const SECRET_CHARS = 26 // 128 bits in 5-bit characters
const CHECK_CHARS = 2
const GROUP = 4

/** What a room code gives a node: the topic it meets others on, and the key that proves it knows the code. */
export interface Room {
  /** The code in its canonical form. */
  code: string
  /** Looked up and announced on the DHT; a hash of the secret, which never leaves this node. */
  topic: Buffer
  /** Signs each room link's handshake, so that a DHT observer who learns the topic still cannot join. */
  proofKey: Buffer
}

/** A new random room code: 128 secret bits and a 10-bit checksum, in seven groups of four, such as `7k2m-…-q9c4`. */
export function createRoomCode(): string {
  return formatCode(nodeCrypto().randomBytes(SECRET_BYTES))
}

/** The room a code stands for; throws BAD_ROOM_CODE for a code with the wrong form or a typo. */
export function openRoom(text: string): Room {
  const secret = parseRoomCode(text)
  return {
    code: formatCode(secret),
    topic: derive(secret, 'parley room topic v1'),
    proofKey: derive(secret, 'parley room proof v1'),
  }
}

/**
 * The secret inside a room code. Case, dashes and spaces do not matter; o, i and l read as 0, 1 and 1; what
 * mail and chat put around a pasted code (quotes, `<…>`, a full stop after it, zero-width spaces) is ignored.
 */
export function parseRoomCode(text: string): Buffer {
  const chars = text
    .toLowerCase()
    .replace(/[\u200b-\u200d\u2060\ufeff]/g, '')
    .replace(/^[^0-9a-z]+|[^0-9a-z]+$/g, '')
    .replace(/[\s-]/g, '')
    .replace(/o/g, '0')
    .replace(/[il]/g, '1')
  const bad = (why: string) =>
    new DhtError(
      'BAD_ROOM_CODE',
      `"${text}" is not a room code (${why}); copy the whole code from "parley room"`,
    )
  if (chars.length !== SECRET_CHARS + CHECK_CHARS)
    throw bad(`expected ${SECRET_CHARS + CHECK_CHARS} characters`)
  let value = 0n
  for (const char of chars.slice(0, SECRET_CHARS)) {
    const digit = ALPHABET.indexOf(char)
    if (digit < 0) throw bad(`"${char}" is not one of its characters`)
    value = (value << 5n) | BigInt(digit)
  }
  if (value >> BigInt(SECRET_BYTES * 8) !== 0n) throw bad('it is out of range')
  const secret = Buffer.from(value.toString(16).padStart(SECRET_BYTES * 2, '0'), 'hex')
  if (chars.slice(SECRET_CHARS) !== checksum(secret))
    throw bad('a character is wrong: the checksum does not match')
  return secret
}

function formatCode(secret: Buffer): string {
  let value = BigInt(`0x${secret.toString('hex')}`)
  let chars = ''
  for (let i = 0; i < SECRET_CHARS; i++) {
    chars = ALPHABET[Number(value & 31n)] + chars
    value >>= 5n
  }
  chars += checksum(secret)
  return chars.match(new RegExp(`.{1,${GROUP}}`, 'g'))?.join('-') ?? chars
}

function checksum(secret: Buffer): string {
  const digest = nodeCrypto().createHash('sha256').update('parley room code check').update(secret).digest()
  const bits = (digest.readUInt16BE(0) >> 6) & 0x3ff
  return (ALPHABET[bits >> 5] as string) + (ALPHABET[bits & 31] as string)
}

/** Keyed by the secret, labelled by purpose, so that the topic and the proof key say nothing about each other. */
function derive(secret: Buffer, label: string): Buffer {
  return nodeCrypto().createHmac('sha256', secret).update(label).digest()
}
