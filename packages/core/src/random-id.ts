import { platform } from './platform.js'

/** Ids drawn from the platform's cryptographic random source (Web Crypto, available in Node and browsers). */

/** Random bytes are drawn 4 KiB at a time: one getRandomValues call per message cost ~5 µs. */
const randomPool = new Uint8Array(4096)
let randomOffset = randomPool.length
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'))

export function randomHex(bytes: number): string {
  if (randomOffset + bytes > randomPool.length) {
    platform.crypto.getRandomValues(randomPool)
    randomOffset = 0
  }
  let out = ''
  for (let i = 0; i < bytes; i++) out += HEX[randomPool[randomOffset + i]!]
  // Each byte is handed out once, so ids stay as unpredictable as before.
  randomOffset += bytes
  return out
}
