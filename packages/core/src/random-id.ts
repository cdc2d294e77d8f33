import { platform } from './platform.js'

/** Ids drawn from a cryptographic random source: by default the platform's (Web Crypto, in Node and browsers). */

/** Fills its argument with cryptographically random bytes. */
export type RandomFill = (into: Uint8Array) => void

/** The platform's Web Crypto. Node loads it (and `node:crypto`) on first use, which costs a start several ms. */
export const webCryptoFill: RandomFill = (into) => {
  platform.crypto.getRandomValues(into)
}

/**
 * Random bytes are drawn 4 KiB at a time (one getRandomValues call per message cost ~5 µs), into a pool of
 * each source's own: nodes given the same source share one.
 */
const POOL_BYTES = 4096
const pools = new WeakMap<RandomFill, { bytes: Uint8Array; offset: number }>()
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'))

/** `count` random bytes from `fill` as hex. */
export function randomHex(count: number, fill: RandomFill = webCryptoFill): string {
  let pool = pools.get(fill)
  if (!pool) {
    pool = { bytes: new Uint8Array(POOL_BYTES), offset: POOL_BYTES }
    pools.set(fill, pool)
  }
  if (pool.offset + count > POOL_BYTES) {
    fill(pool.bytes)
    pool.offset = 0
  }
  let out = ''
  for (let i = 0; i < count; i++) out += HEX[pool.bytes[pool.offset + i]!]
  // Each byte is handed out once, so ids stay as unpredictable as before.
  pool.offset += count
  return out
}
