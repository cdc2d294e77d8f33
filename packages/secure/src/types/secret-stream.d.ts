// Hand-written declarations for the parts of these CommonJS packages that @parley/secure uses.
// Checked against @hyperswarm/secret-stream 6.9.2, noise-handshake 4.2.0 and noise-curve-ed 2.1.0.

declare module '@hyperswarm/secret-stream' {
  import type { EventEmitter } from 'node:events'

  interface KeyPair {
    publicKey: Buffer
    secretKey: Buffer
  }

  /** A handshake done elsewhere (here: with parley's prologue), handed to the record layer. */
  interface CompletedHandshake {
    tx: Buffer
    rx: Buffer
    hash: Buffer
    publicKey: Buffer
    remotePublicKey: Buffer
  }

  interface SecretStreamOptions {
    pattern?: string
    remotePublicKey?: Buffer
    keyPair?: KeyPair | Promise<KeyPair>
    handshake?: CompletedHandshake
    enableSend?: boolean
    keepAlive?: number
    autoStart?: boolean
  }

  /**
   * A streamx Duplex: each `write` becomes one encrypted record on `rawStream`, each record read becomes
   * one `data` event. A raw stream with `setContentSize(bytes)` is told how many more bytes a record
   * needs once its length is read, before that record is allocated.
   */
  class NoiseSecretStream extends EventEmitter {
    constructor(isInitiator: boolean, rawStream?: unknown, options?: SecretStreamOptions)
    static keyPair(seed?: Buffer): KeyPair
    readonly isInitiator: boolean
    readonly publicKey: Buffer | null
    readonly remotePublicKey: Buffer | null
    readonly handshakeHash: Buffer | null
    readonly opened: Promise<boolean>
    readonly destroyed: boolean
    readonly destroying: boolean
    rawBytesWritten: number
    rawBytesRead: number
    write(data: Uint8Array): boolean
    end(): this
    destroy(error?: Error | null): void
    pause(): this
    resume(): this
    unshift(data: Uint8Array): void
  }

  export = NoiseSecretStream
}

declare module 'noise-handshake' {
  interface NoiseKeyPair {
    publicKey: Uint8Array
    secretKey: Uint8Array
  }

  class NoiseState {
    constructor(
      pattern: string,
      initiator: boolean,
      staticKeyPair: NoiseKeyPair,
      options?: { curve?: unknown },
    )
    initialise(prologue: Uint8Array, remoteStatic?: Uint8Array): void
    /** Produces the next handshake message; throws when the handshake cannot go on. */
    send(payload?: Uint8Array): Uint8Array
    /** Consumes the next handshake message and returns its payload; throws when it does not authenticate. */
    recv(message: Uint8Array): Uint8Array
    readonly complete: boolean
    readonly tx: Uint8Array | null
    readonly rx: Uint8Array | null
    readonly hash: Uint8Array | null
    /** The remote static public key, once received. */
    readonly rs: Uint8Array | null
  }

  export = NoiseState
}

declare module 'noise-curve-ed' {
  const curve: { readonly PKLEN: number; readonly SKLEN: number; readonly ALG: string }
  export = curve
}
