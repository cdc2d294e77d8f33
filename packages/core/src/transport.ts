import type { Address } from './address.js'

/** What a transport tells the runtime about one link. */
export interface LinkHandlers {
  data(chunk: Uint8Array): void
  /** The link's write buffer has drained after `write` returned false. */
  drain(): void
  /** The link is gone. `error` is set when it did not end cleanly (a TransportError). */
  close(error?: Error): void
}

/** One duplex byte stream to a remote node: an accepted or a dialed connection. */
export interface Link {
  readonly direction: 'inbound' | 'outbound'
  /** The remote end, as its transport writes addresses (`HOST:PORT` for TCP). */
  readonly remoteAddress: string
  readonly localAddress: string
  /**
   * Where the link came from, as the transport sees it, for the caps on connections per source: the
   * remote host for TCP, the remote key for a transport that dials by key. Default: `remoteAddress`.
   */
  readonly source?: string
  /**
   * The remote node's public key (lowercase hex), when the transport authenticated it (a secure transport).
   * The runtime then refuses a hello whose id is not this key.
   */
  readonly remoteKey?: string
  /** Starts the flow of events; data that arrived before is delivered first. */
  attach(handlers: LinkHandlers): void
  /** Queues bytes; returns false when the caller should wait for `drain`. */
  write(chunk: Uint8Array): boolean
  /** Stops delivering data until `resume` (backpressure towards the remote end). */
  pause(): void
  resume(): void
  /** Flushes what is queued, then closes. */
  end(): void
  /** Closes at once, dropping what is queued. */
  destroy(): void
}

export interface DialOptions {
  signal?: AbortSignal
  /** Give up connecting after this long (ms). */
  timeoutMs?: number
}

/** Accepts inbound links on one address. */
export interface Listener {
  /** Binds and starts accepting. Resolves with the real bound address (port 0 becomes the chosen port). */
  listen(address: Address): Promise<Address>
  /** Stops accepting; links already accepted stay open. */
  close(): Promise<void>
}

/** A way to reach other nodes. Core consumes it; packages such as `@parley/transport-tcp` implement it. */
export interface Transport {
  createListener(onLink: (link: Link) => void): Listener
  dial(address: Address, options?: DialOptions): Promise<Link>
}
