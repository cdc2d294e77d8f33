/**
 * Keys, fingerprints, key addresses and invites without the handshake and its native crypto: what a
 * frontend needs to name peers and read invites, cheap to load (`--plain` never loads the rest).
 * @example import { fingerprint } from '@parley/secure/keys'
 */
export * from './errors.js'
export * from './fingerprint.js'
export * from './invite.js'
export * from './key-address.js'
