import { connect, createServer, type Server, type Socket } from 'node:net'
import type { Address, Link, Listener, Transport } from '@parley/core'
import { createTcpTransport, parseAddress } from '@parley/transport-tcp'
import { vi } from 'vitest'
import { generateKeyPair, type KeyPair } from '../src/identity.js'
import { createSecureTransport, type RefusedInfo, type SecureOptions } from '../src/secure-transport.js'

export const LOOPBACK = '127.0.0.1:0'
export const text = (value: string) => new TextEncoder().encode(value)
export const hex = (key: Uint8Array) => Buffer.from(key).toString('hex')

/** Things a test opened; `closeAll` runs in afterEach so a failing test leaks nothing. */
const openThings: Array<() => unknown> = []
export async function closeAll(): Promise<void> {
  await Promise.allSettled(openThings.splice(0).map((close) => close()))
}
export function track(close: () => unknown): void {
  openThings.push(close)
}

export interface SecureNode {
  keyPair: KeyPair
  id: string
  transport: Transport
}

/** A secure transport over real TCP with a fresh key pair (or the one given). */
export function secureNode(
  options: Partial<SecureOptions> = {},
  inner: Transport = createTcpTransport(),
): SecureNode {
  const keyPair = options.keyPair ?? generateKeyPair()
  return {
    keyPair,
    id: hex(keyPair.publicKey),
    transport: createSecureTransport(inner, { ...options, keyPair }),
  }
}

export interface Accepting {
  listener: Listener
  address: Address
  nextLink(): Promise<Link>
  /** Links handed to onLink so far. */
  accepted: Link[]
}

/** A listener whose accepted links are handed out in order by `nextLink`. */
export async function accepting(transport: Transport): Promise<Accepting> {
  const queue: Link[] = []
  const accepted: Link[] = []
  const waiters: Array<(link: Link) => void> = []
  const listener = transport.createListener((link) => {
    track(() => link.destroy())
    accepted.push(link)
    const waiter = waiters.shift()
    if (waiter) waiter(link)
    else queue.push(link)
  })
  track(() => listener.close())
  const address = await listener.listen(LOOPBACK)
  const nextLink = () => {
    const link = queue.shift()
    return link ? Promise.resolve(link) : new Promise<Link>((resolve) => waiters.push(resolve))
  }
  return { listener, address, nextLink, accepted }
}

/** Collects `onRefused` reports; `next()` waits for the next one. */
export function refusals(): {
  onRefused: (info: RefusedInfo) => void
  all: RefusedInfo[]
  next(): Promise<RefusedInfo>
} {
  const all: RefusedInfo[] = []
  let seen = 0
  return {
    all,
    onRefused: (info) => all.push(info),
    next: () =>
      vi.waitFor(
        () => {
          const info = all[seen]
          if (!info) throw new Error('no refusal reported yet')
          seen++
          return info
        },
        { timeout: 60_000, interval: 5 },
      ),
  }
}

export { type Recording, record } from '@parley/testkit'

/** Splits a byte stream into the 3-byte little-endian length-prefixed frames that handshake and records use. */
export class FrameSplitter {
  private buffer = Buffer.alloc(0)
  push(chunk: Uint8Array): Buffer[] {
    this.buffer = Buffer.concat([this.buffer, chunk])
    const frames: Buffer[] = []
    while (this.buffer.length >= 3) {
      const length = this.buffer.readUIntLE(0, 3)
      if (this.buffer.length < 3 + length) break
      frames.push(this.buffer.subarray(0, 3 + length))
      this.buffer = this.buffer.subarray(3 + length)
    }
    return frames
  }
}

/** The length of every frame in a captured byte stream. */
export function frameLengths(bytes: Uint8Array): number[] {
  return new FrameSplitter().push(bytes).map((frame) => frame.length - 3)
}

export type Direction = 'to-server' | 'to-client'

export interface ProxyConnection {
  client: Socket
  server: Socket
  /** Everything that went through, per direction, as it arrived (before any tampering). */
  captured: Record<Direction, Buffer[]>
}

export interface ProxyOptions {
  /** Rewrites frame number `index` (0-based, per direction and connection); return it unchanged to pass. */
  frame?: (direction: Direction, index: number, frame: Buffer) => Buffer
}

/** A TCP proxy on loopback in front of `target` that records, and can tamper with, what passes through. */
export async function rawProxy(
  target: Address,
  options: ProxyOptions = {},
): Promise<{ address: Address; connections: ProxyConnection[] }> {
  const connections: ProxyConnection[] = []
  const server = createServer((client) => {
    const upstream = connect(parseAddress(target))
    const connection: ProxyConnection = {
      client,
      server: upstream,
      captured: { 'to-server': [], 'to-client': [] },
    }
    connections.push(connection)
    track(() => {
      client.destroy()
      upstream.destroy()
    })
    pipe(client, upstream, 'to-server', connection, options)
    pipe(upstream, client, 'to-client', connection, options)
  })
  await listenOn(server)
  return { address: `127.0.0.1:${portOf(server)}`, connections }
}

function pipe(
  from: Socket,
  to: Socket,
  direction: Direction,
  connection: ProxyConnection,
  options: ProxyOptions,
) {
  const splitter = new FrameSplitter()
  let index = 0
  from.on('data', (chunk: Buffer) => {
    connection.captured[direction].push(Buffer.from(chunk))
    if (!options.frame) return void to.write(chunk)
    for (const frame of splitter.push(chunk)) to.write(options.frame(direction, index++, Buffer.from(frame)))
  })
  from.on('end', () => to.end())
  from.on('error', () => to.destroy())
  from.on('close', () => to.destroy())
}

export async function listenOn(server: Server): Promise<void> {
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve))
  track(() => server.close())
}

export function portOf(server: Server): number {
  const info = server.address()
  if (info === null || typeof info === 'string') throw new Error('server is not bound')
  return info.port
}

/** A raw client socket, connected. */
export async function rawClient(address: Address, localAddress?: string): Promise<Socket> {
  const socket = connect({ ...parseAddress(address), ...(localAddress ? { localAddress } : {}) })
  socket.on('error', () => {})
  track(() => socket.destroy())
  await new Promise((resolve) => socket.once('connect', resolve))
  return socket
}

/** Wraps a transport so every link's written and read bytes are captured, in order. */
export function tapTransport(inner: Transport): {
  transport: Transport
  taps: Array<{ direction: 'inbound' | 'outbound'; written: Buffer[]; read: Buffer[] }>
} {
  const taps: Array<{ direction: 'inbound' | 'outbound'; written: Buffer[]; read: Buffer[] }> = []
  const wrap = (link: Link): Link => {
    const tap = { direction: link.direction, written: [] as Buffer[], read: [] as Buffer[] }
    taps.push(tap)
    return {
      direction: link.direction,
      remoteAddress: link.remoteAddress,
      localAddress: link.localAddress,
      attach: (handlers) =>
        link.attach({
          ...handlers,
          data: (chunk) => {
            tap.read.push(Buffer.from(chunk))
            handlers.data(chunk)
          },
        }),
      write: (chunk) => {
        tap.written.push(Buffer.from(chunk))
        return link.write(chunk)
      },
      pause: () => link.pause(),
      resume: () => link.resume(),
      end: () => link.end(),
      destroy: () => link.destroy(),
    }
  }
  return {
    taps,
    transport: {
      createListener: (onLink) => inner.createListener((link) => onLink(wrap(link))),
      dial: async (address, options) => wrap(await inner.dial(address, options)),
    },
  }
}
