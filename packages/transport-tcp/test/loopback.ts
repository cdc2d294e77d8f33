import { spawn } from 'node:child_process'
import { connect, createServer, type Server, type Socket } from 'node:net'
import type { Address, Link, Listener, Transport } from '@parley/core'
import { createTcpTransport, formatAddress, parseAddress, type TcpAddress } from '../src/index.js'

export const LOOPBACK = '127.0.0.1:0'

/** Things a test opened; `closeAll` runs in afterEach so a failing test leaks nothing. */
const openThings: Array<() => void> = []
export function closeAll(): void {
  for (const close of openThings.splice(0)) close()
}
function track(close: () => void): void {
  openThings.push(close)
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export async function canBind(host: string): Promise<boolean> {
  const server = createServer()
  const bound = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false))
    server.listen({ host, port: 0 }, () => resolve(true))
  })
  server.close()
  return bound
}

/** A raw node server holding a port, standing in for "another program". */
export async function rawServer(
  host = '127.0.0.1',
  onSocket: (socket: Socket) => void = () => {},
): Promise<Server> {
  const server = createServer(onSocket)
  await new Promise<void>((resolve) => server.listen({ host, port: 0 }, resolve))
  track(() => server.close())
  return server
}

export function portOf(server: Server): number {
  const info = server.address()
  if (info === null || typeof info === 'string') throw new Error('server is not bound')
  return info.port
}

/** A port that was just free: bound, then released. */
export async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve))
  const port = portOf(server)
  await new Promise((resolve) => server.close(resolve))
  return port
}

export interface Accepting {
  listener: Listener
  /** Where it listens, parsed (port 0 resolved). */
  address: TcpAddress
  nextLink(): Promise<Link>
}

/** A listener whose accepted links are handed out in order by `nextLink`. */
export async function accepting(
  transport: Transport = createTcpTransport(),
  at: Address = LOOPBACK,
): Promise<Accepting> {
  const links: Link[] = []
  const waiters: Array<(link: Link) => void> = []
  const listener = transport.createListener((link) => {
    track(() => link.destroy())
    const waiter = waiters.shift()
    if (waiter) waiter(link)
    else links.push(link)
  })
  track(() => void listener.close())
  const address = parseAddress(await listener.listen(at))
  const nextLink = () => {
    const link = links.shift()
    return link ? Promise.resolve(link) : new Promise<Link>((resolve) => waiters.push(resolve))
  }
  return { listener, address, nextLink }
}

/** A dialed link and the link its listener accepted for it. */
export async function connectedPair(at: Address = LOOPBACK): Promise<{ dialed: Link; accepted: Link }> {
  const transport = createTcpTransport()
  const { address, nextLink } = await accepting(transport, at)
  const dialed = await transport.dial(formatAddress(address))
  track(() => dialed.destroy())
  return { dialed, accepted: await nextLink() }
}

export { type Recording, record } from '@parley/testkit'

/** A raw client socket, connected. */
export async function rawClient(port: number, host = '127.0.0.1'): Promise<Socket> {
  const socket = connect({ host, port })
  socket.on('error', () => {})
  track(() => socket.destroy())
  await new Promise((resolve) => socket.once('connect', resolve))
  return socket
}

// Listens with a backlog of one, then blocks its event loop: the kernel queues a connection or two and then
// drops further SYNs, so a dial hangs without a single non-loopback address. It gives up after a minute.
const SILENT_PEER = `
const s = require('node:net').createServer()
s.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
  process.stdout.write(s.address().port + '\\n', () => {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000)
    process.exit(0)
  })
})`

/** An address on loopback that accepts no more connections and never answers: dials to it hang. */
export async function silentPeer(): Promise<Address> {
  const child = spawn(process.execPath, ['-e', SILENT_PEER], { stdio: ['ignore', 'pipe', 'inherit'] })
  track(() => child.kill('SIGKILL'))
  const port = await new Promise<number>((resolve) =>
    child.stdout.once('data', (line) => resolve(Number(String(line)))),
  )
  await fillBacklog(port)
  return `127.0.0.1:${port}`
}

async function fillBacklog(port: number): Promise<void> {
  for (let attempt = 0; attempt < 64; attempt++) {
    const socket = connect({ host: '127.0.0.1', port })
    socket.on('error', () => {})
    track(() => socket.destroy())
    // A connect the kernel completed is reported in the poll phase, after the timers of the same turn: a
    // turn that starts late must not take it for a dropped SYN, so the check phase after it decides.
    const connected = await Promise.race([
      new Promise((resolve) => socket.once('connect', () => resolve(true))),
      delay(500)
        .then(() => new Promise((resolve) => setImmediate(resolve)))
        .then(() => false),
    ])
    if (!connected) return
  }
  throw new Error('the silent peer kept accepting connections')
}
