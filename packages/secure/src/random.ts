import { sodium } from './commonjs.js'

/**
 * Fills `into` with random bytes from libsodium, which every secure node has loaded already. Hand it to
 * `ParleyNode` as `randomBytes`: the default, Web Crypto, would load `node:crypto` during the start.
 * @example new ParleyNode({ ..., randomBytes: randomFill })
 */
export function randomFill(into: Uint8Array): void {
  sodium.randombytes_buf(into)
}

/** Eight random hex digits, for the name of a temporary file written next to the one it replaces. */
export function randomSuffix(): string {
  const bytes = Buffer.alloc(4)
  sodium.randombytes_buf(bytes)
  return bytes.toString('hex')
}
