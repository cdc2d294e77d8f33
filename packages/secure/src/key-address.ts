import { parseKeyOrFingerprint } from './fingerprint.js'

/**
 * A key-only address: `dht:` and the node's public key in lowercase hex. It names a node by its key alone,
 * as a transport that dials by key writes it, so the key it must prove is the address itself.
 */
export const KEY_ADDRESS_PREFIX = 'dht:'

/** The key-only address of a key given as hex or as a full fingerprint. */
export function keyAddress(keyOrFingerprint: string): string {
  return `${KEY_ADDRESS_PREFIX}${parseKeyOrFingerprint(keyOrFingerprint)}`
}

/** The key a key-only address names (lowercase hex), or undefined for any other address. */
export function keyOfAddress(address: string): string | undefined {
  const text = address.trim()
  if (!text.toLowerCase().startsWith(KEY_ADDRESS_PREFIX)) return undefined
  const key = text.slice(KEY_ADDRESS_PREFIX.length)
  return /^[0-9a-fA-F]{64}$/.test(key) ? key.toLowerCase() : undefined
}
