// Hand-written declarations for the part of sodium-native that @parley/secure uses (checked against 5.1.0).

declare module 'sodium-native' {
  const sodium: {
    readonly crypto_sign_BYTES: number
    readonly crypto_sign_PUBLICKEYBYTES: number
    readonly crypto_sign_SECRETKEYBYTES: number
    /** Writes the ed25519 signature of `message` by `secretKey` (64 bytes: seed + public key) into `signature`. */
    crypto_sign_detached(signature: Uint8Array, message: Uint8Array, secretKey: Uint8Array): void
    crypto_sign_verify_detached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean
    /** Fills `buffer` with cryptographically random bytes. */
    randombytes_buf(buffer: Uint8Array): void
  }
  export default sodium
}
