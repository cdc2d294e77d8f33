export * from './allow-file.js'
export * from './errors.js'
export * from './fingerprint.js'
export * from './identity.js'
export * from './invite.js'
export * from './key-address.js'
export * from './known-peers.js'
export * from './message-auth.js'
export { randomFill } from './random.js'
export { SecureLink } from './secure-link.js'
export {
  createSecureTransport,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  type RefusedInfo,
  type SecureOptions,
} from './secure-transport.js'
export * from './verifier.js'
