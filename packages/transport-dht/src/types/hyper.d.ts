// Hand-written declarations for the parts of these CommonJS packages that @parley/transport-dht uses.
// Checked against hyperdht 6.34.0, hyperswarm 4.17.2, blind-relay 1.6.1 and @hyperswarm/secret-stream 6.9.2.

declare module 'hyperdht' {
  import type { EventEmitter } from 'node:events'

  namespace HyperDHT {
    interface KeyPair {
      publicKey: Buffer
      secretKey: Buffer
    }

    interface HostPort {
      host: string
      port: number
    }

    /** A UDX stream under a secret stream: `remoteHost/remotePort` is the far end of the UDP path. */
    interface RawStream extends EventEmitter {
      readonly remoteHost: string | null
      readonly remotePort: number
      readonly connected: boolean
    }

    /** A streamx Duplex; each `write` becomes one encrypted record, each record one `data` event. */
    interface SecretStream extends EventEmitter {
      readonly isInitiator: boolean
      readonly publicKey: Buffer
      readonly remotePublicKey: Buffer
      readonly handshakeHash: Buffer | null
      readonly rawStream: RawStream | null
      readonly destroyed: boolean
      readonly destroying: boolean
      readonly opened: Promise<boolean>
      /** Bytes that crossed the UDP path each way, handshake included. */
      readonly rawBytesRead: number
      readonly rawBytesWritten: number
      write(data: Uint8Array): boolean
      end(): this
      destroy(error?: Error | null): void
      pause(): this
      resume(): this
      setKeepAlive(ms: number): void
    }

    interface ConnectOptions {
      keyPair?: KeyPair
      relayThrough?: Buffer | null
      localConnection?: boolean
    }

    interface ServerOptions {
      firewall?: (remotePublicKey: Buffer, payload: unknown) => boolean
      relayThrough?: Buffer | (() => Buffer | null) | null
    }

    interface Server extends EventEmitter {
      readonly publicKey: Buffer
      readonly listening: boolean
      /**
       * Where dialers reach this server: the DHT nodes its key is announced at (which forward a dialer's
       * handshake), and its own address when it is not firewalled. Empty once an announce reached none.
       */
      readonly relayAddresses: readonly HostPort[]
      listen(keyPair?: KeyPair): Promise<void>
      /** Announces the key again at the next turn of the announcer (within ~3 s), not at the next ~5 minutes. */
      refresh(): void
      close(): Promise<void>
    }

    interface Options {
      bootstrap?: readonly (HostPort | string)[]
      keyPair?: KeyPair
      /** A number tries that port first; `[0, 0]` binds any free port. */
      port?: number | [number, number]
      host?: string
      ephemeral?: boolean
      firewalled?: boolean
      anyPort?: boolean
      randomPunchInterval?: number
      connectionKeepAlive?: number | false
    }
  }

  class HyperDHT extends EventEmitter {
    constructor(options?: HyperDHT.Options)
    static keyPair(seed?: Buffer): HyperDHT.KeyPair
    static bootstrapper(port: number, host: string, options?: HyperDHT.Options): HyperDHT
    /** The DHT target a key is announced under (BLAKE2b-256 of the key). */
    static hash(data: Buffer): Buffer
    readonly defaultKeyPair: HyperDHT.KeyPair
    readonly firewalled: boolean
    readonly randomized: boolean
    readonly destroyed: boolean
    /** False while the DHT's health check finds its requests unanswered (the network is gone). */
    readonly online: boolean
    readonly nodes: { length: number }
    ready(): Promise<void>
    fullyBootstrapped(): Promise<void>
    address(): { host: string; port: number }
    remoteAddress(): HyperDHT.HostPort | null
    connect(remotePublicKey: Buffer, options?: HyperDHT.ConnectOptions): HyperDHT.SecretStream
    createServer(
      options: HyperDHT.ServerOptions,
      onConnection?: (socket: HyperDHT.SecretStream) => void,
    ): HyperDHT.Server
    createRawStream(options?: Record<string, unknown>): HyperDHT.RawStream
    lookup(topic: Buffer): AsyncIterable<{ peers: { publicKey: Buffer }[] }>
    ping(node: HyperDHT.HostPort): Promise<unknown>
    destroy(options?: { force?: boolean }): Promise<void>
    /** dht-rpc: the bootstrap nodes a query starts from while the routing table is small. */
    protected _resolveBootstrapNodes(): AsyncGenerator<HyperDHT.HostPort & { id: Buffer }>
    /** dht-rpc: a request whose every retry went unanswered. */
    protected _ontimeout(request: { to: HyperDHT.HostPort }): void
    /** dht-rpc: any answer to a request of this node. */
    protected _onresponse(response: { from: HyperDHT.HostPort }, external: boolean): void
  }

  export = HyperDHT
}

declare module 'hyperswarm' {
  import type { EventEmitter } from 'node:events'
  import type HyperDHT from 'hyperdht'

  namespace Hyperswarm {
    interface PeerInfo {
      readonly publicKey: Buffer
      readonly client: boolean
      readonly topics: Buffer[]
      readonly banned?: boolean
    }

    interface Discovery {
      /** Once the running announcement is done: false when it failed (it stored this node nowhere). */
      flushed(): Promise<boolean>
      /**
       * Announces and looks the topic up again now: false when that failed; undefined when it joined one
       * already running, which succeeded.
       */
      refresh(options?: { server?: boolean; client?: boolean }): Promise<boolean | undefined>
      destroy(): Promise<void>
    }

    interface Options {
      dht: HyperDHT
      keyPair: HyperDHT.KeyPair
      relayThrough?: Buffer | ((force: boolean) => Buffer | null) | null
      maxPeers?: number
      firewall?: (remotePublicKey: Buffer) => boolean
    }
  }

  class Hyperswarm extends EventEmitter {
    constructor(options: Hyperswarm.Options)
    readonly dht: HyperDHT
    readonly connections: Set<HyperDHT.SecretStream>
    /** The server that announces this node's key (`listen`); closing it unannounces the key. */
    readonly server: HyperDHT.Server
    listen(): Promise<void>
    join(topic: Buffer, options?: { server?: boolean; client?: boolean }): Hyperswarm.Discovery
    leave(topic: Buffer): Promise<void>
    flush(): Promise<boolean>
    destroy(options?: { force?: boolean }): Promise<void>
    on(
      event: 'connection',
      listener: (socket: HyperDHT.SecretStream, peer: Hyperswarm.PeerInfo) => void,
    ): this

    // Internals that `RoomSwarm` builds on (checked against hyperswarm 4.17.2's index.js).
    readonly destroyed: boolean
    readonly suspended: boolean
    /** Every peer the swarm knows, by hex key. */
    readonly peers: Map<string, Hyperswarm.PeerInfo>
    /** One connection per remote key, open or being opened. */
    readonly _allConnections: {
      has(publicKey: Buffer | string): boolean
      get(publicKey: Buffer | string): HyperDHT.SecretStream | undefined
    }
    /** Takes a connection that reached this node's server; ends an older one from the same key. */
    _handleServerConnection(conn: HyperDHT.SecretStream): void
    /** Dials a peer found on a topic (or after a retry wait); `queued` when it came off the queue. */
    _connect(peerInfo: Hyperswarm.PeerInfo, queued: boolean): void
    _flushMaybe(peerInfo: Hyperswarm.PeerInfo): void
    _enqueue(peerInfo: Hyperswarm.PeerInfo): void
    _shouldRequeue(peerInfo: Hyperswarm.PeerInfo): boolean
  }

  export = Hyperswarm
}

declare module 'blind-relay' {
  import type { EventEmitter } from 'node:events'

  class BlindRelayServer extends EventEmitter {
    constructor(options: { createStream(options: Record<string, unknown>): unknown })
    accept(stream: unknown, options: { id: Buffer }): EventEmitter
    close(): Promise<void>
    readonly stats: { pairings: { matched: number; active: number }; sessions: { active: number } }
  }

  export { BlindRelayServer as Server }
}
