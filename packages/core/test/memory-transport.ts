import type { Address } from '../src/address.js'
import { TransportError } from '../src/errors.js'
import type { DialOptions, Link, LinkHandlers, Listener, Transport } from '../src/transport.js'

export interface MemoryNetworkOptions {
  /** Source of randomness in [0, 1). With it, every delivery waits 0..maxHops extra microtasks, so links interleave differently. */
  random?: () => number
  maxHops?: number
  /**
   * How `attach` hands over data that arrived before it: 'async' (next microtask, like a Node socket that
   * starts flowing) or 'sync' (inside `attach`, which the Link contract also allows).
   */
  deliverOnAttach?: 'async' | 'sync'
  /** Microtasks between a dial resolving and the listener being handed the inbound link. */
  acceptHops?: number
}

/** mulberry32: a tiny seeded generator, so a failing seed can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * An in-memory network: listeners register under `host:port`, and a dial pairs two Links whose writes
 * arrive at the other end asynchronously (via queueMicrotask), in order, like one TCP connection.
 */
export class MemoryNetwork {
  private readonly listeners = new Map<string, (link: Link) => void>()
  /** The key each listening address proves, for transports made with one. */
  private readonly keys = new Map<string, string>()
  private readonly pairs = new Set<[MemoryLink, MemoryLink]>()
  private nextPort = 40_000

  constructor(private readonly options: MemoryNetworkOptions = {}) {}

  /**
   * A Transport whose dialed links come from `host` (an ephemeral port is picked per dial). With `key`,
   * it stands in for a secure transport: both ends of its links learn the other's key as `remoteKey`.
   */
  transport(host = '127.0.0.1', key?: string): Transport {
    return {
      createListener: (onLink) => this.createListener(onLink, key),
      dial: (address, options) => this.dial(host, address, options, key),
    }
  }

  private readonly unreachable = new Set<string>()

  /** Cuts every open link to `address` (both ends see a reset) and refuses new dials to it until `heal`. */
  partition(address: Address): void {
    const key = address
    this.unreachable.add(key)
    for (const [outbound] of this.pairs) {
      if (outbound.remoteAddress === key && !outbound.isClosed) outbound.destroy()
    }
  }

  heal(address: Address): void {
    this.unreachable.delete(address)
  }

  isListening(address: string): boolean {
    return this.listeners.has(address)
  }

  /** Link pairs where neither end has closed yet. */
  openLinkCount(): number {
    let open = 0
    for (const [a, b] of this.pairs) if (!a.isClosed && !b.isClosed) open++
    return open
  }

  hops(): number {
    const { random, maxHops = 0 } = this.options
    return random ? Math.floor(random() * (maxHops + 1)) : 0
  }

  later(fn: () => void, hops = this.hops()): void {
    if (hops <= 0) queueMicrotask(fn)
    else queueMicrotask(() => this.later(fn, hops - 1))
  }

  get deliverOnAttach(): 'async' | 'sync' {
    return this.options.deliverOnAttach ?? 'async'
  }

  private createListener(onLink: (link: Link) => void, proves?: string): Listener {
    let bound: string | undefined
    return {
      listen: async (address: Address) => {
        const { host, port: asked } = hostAndPort(address)
        const key = `${host}:${asked === 0 ? this.nextPort++ : asked}`
        if (this.listeners.has(key)) throw new TransportError('ADDRESS_IN_USE', `${key} is already in use`)
        this.listeners.set(key, onLink)
        if (proves !== undefined) this.keys.set(key, proves)
        bound = key
        return key
      },
      close: async () => {
        if (bound !== undefined && this.listeners.get(bound) === onLink) {
          this.listeners.delete(bound)
          this.keys.delete(bound)
        }
        bound = undefined
      },
    }
  }

  private async dial(
    host: string,
    address: Address,
    options: DialOptions = {},
    proves?: string,
  ): Promise<Link> {
    const key = address
    // A dial takes a macrotask, as a real connect does, so a node that redials in a loop cannot starve
    // the event loop (and the test) with microtasks alone.
    await new Promise<void>((resolve) => setImmediate(resolve))
    await new Promise<void>((resolve) => this.later(resolve))
    if (options.signal?.aborted) throw new TransportError('ABORTED', `dial to ${key} was aborted`)
    const onLink = this.unreachable.has(key) ? undefined : this.listeners.get(key)
    if (!onLink) throw new TransportError('CONNECTION_REFUSED', `nothing listens on ${key}`)
    const local = `${host}:${this.nextPort++}`
    const outbound = new MemoryLink(this, 'outbound', local, key)
    const inbound = new MemoryLink(this, 'inbound', key, local)
    const listenerKey = this.keys.get(key)
    if (listenerKey !== undefined) outbound.remoteKey = listenerKey
    if (proves !== undefined) inbound.remoteKey = proves
    // Sources are hosts here, as over TCP.
    inbound.source = host
    outbound.source = hostAndPort(address).host
    outbound.remote = inbound
    inbound.remote = outbound
    this.pairs.add([outbound, inbound])
    this.later(() => onLink(inbound), this.options.acceptHops ?? this.hops())
    return outbound
  }
}

/** One end of an in-memory connection. */
export class MemoryLink implements Link {
  remote!: MemoryLink
  remoteKey?: string
  source?: string
  private handlers?: LinkHandlers
  /** Chunks that arrived while unattached or paused. */
  private readonly inbox: Uint8Array[] = []
  /** Chunks written here and not yet handed to the remote end. */
  private readonly outgoing: Uint8Array[] = []
  private pumping = false
  private paused = false
  private ending = false
  private closed = false
  private closeError: Error | undefined
  private closeReported = false

  constructor(
    private readonly network: MemoryNetwork,
    readonly direction: 'inbound' | 'outbound',
    readonly localAddress: string,
    readonly remoteAddress: string,
  ) {}

  get isClosed(): boolean {
    return this.closed
  }

  attach(handlers: LinkHandlers): void {
    this.handlers = handlers
    if (this.network.deliverOnAttach === 'sync') this.flushInbox()
    else this.network.later(() => this.flushInbox(), 0)
  }

  write(chunk: Uint8Array): boolean {
    if (this.closed || this.ending) return false
    this.outgoing.push(chunk.slice())
    this.pump()
    return true
  }

  pause(): void {
    this.paused = true
  }

  resume(): void {
    this.paused = false
    this.network.later(() => this.flushInbox(), 0)
  }

  end(): void {
    if (this.closed || this.ending) return
    this.ending = true
    this.pump()
  }

  destroy(): void {
    if (this.closed) return
    this.outgoing.length = 0
    this.shut()
    this.remote.shut(new TransportError('RESET', 'connection reset by peer'))
  }

  private pump(): void {
    if (this.pumping) return
    if (this.outgoing.length === 0) {
      if (this.ending && !this.closed) {
        this.shut()
        this.remote.shut()
      }
      return
    }
    this.pumping = true
    this.network.later(() => {
      this.pumping = false
      const chunk = this.outgoing.shift()
      if (chunk && !this.closed) this.remote.receive(chunk)
      this.pump()
    })
  }

  private receive(chunk: Uint8Array): void {
    if (this.closed) return
    this.inbox.push(chunk)
    if (this.inbox.length === 1) this.flushInbox()
  }

  private flushInbox(): void {
    while (this.handlers && !this.paused && this.inbox.length > 0) {
      const chunk = this.inbox.shift()!
      this.handlers.data(chunk)
    }
    this.reportClose()
  }

  private shut(error?: Error): void {
    if (this.closed) return
    this.closed = true
    this.closeError = error
    this.network.later(() => this.reportClose(), 0)
  }

  private reportClose(): void {
    if (!this.closed || this.closeReported || !this.handlers || this.inbox.length > 0) return
    this.closeReported = true
    this.handlers.close(this.closeError)
  }
}

/** `HOST:PORT` split, as the TCP transport reads it (IPv4 and host names only: these tests use no IPv6). */
function hostAndPort(address: Address): { host: string; port: number } {
  const colon = address.lastIndexOf(':')
  return { host: address.slice(0, colon) || '127.0.0.1', port: Number(address.slice(colon + 1)) }
}
