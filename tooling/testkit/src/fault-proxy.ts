/**
 * A TCP proxy on loopback that sits between two parley nodes and misbehaves on command: cut every
 * connection, stall traffic without closing, delay it, reset in the middle of a frame, flip a bit, refuse
 * new connections, or record every byte. Bounded by construction: it only ever dials its one target.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'

export interface FaultProxy {
  /** The port to dial instead of the target's. */
  readonly port: number
  /** Every byte that crossed, per direction, in order. */
  readonly recorded: { toTarget: Buffer[]; fromTarget: Buffer[] }
  /** How many connections were accepted so far. */
  readonly accepted: number
  /** Destroys every open pair at once (both sockets see a reset or close). */
  cutAll(): void
  /** Stops forwarding in both directions without closing anything (a frozen peer, a dead cable). */
  stall(on: boolean): void
  /** Holds every chunk this long before forwarding it. */
  delay(ms: number): void
  /** The next chunk towards the target is cut in half: the first half goes through, then both sides reset. */
  resetMidFrameOnNextChunk(): void
  /** Flips one bit in the next chunk in the given direction. */
  flipBitOnNextChunk(direction: 'toTarget' | 'fromTarget'): void
  /** While on, new connections are accepted and immediately destroyed (a partition). */
  refuse(on: boolean): void
  /**
   * While on, a side that closes leaves the other open and silent, as a host that vanished without a
   * reset (a kill -9 behind a NAT or over the DHT): its peer learns it only from its own timeout.
   */
  silentClose(on: boolean): void
  close(): Promise<void>
}

interface Pair {
  client: Socket
  upstream: Socket
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  const pairs = new Set<Pair>()
  const silent = new Set<Socket>()
  const recorded = { toTarget: [] as Buffer[], fromTarget: [] as Buffer[] }
  let stalled = false
  let delayMs = 0
  let refusing = false
  let closingSilently = false
  let resetNext = false
  const flipNext = { toTarget: false, fromTarget: false }
  let accepted = 0
  const held: (() => void)[] = []

  const forward = (from: Socket, to: Socket, direction: 'toTarget' | 'fromTarget', pair: Pair) => {
    from.on('data', (chunk: Buffer) => {
      let data = Buffer.from(chunk)
      if (direction === 'toTarget' && resetNext) {
        resetNext = false
        const half = data.subarray(0, Math.max(1, Math.floor(data.length / 2)))
        to.write(half, () => destroyPair(pair))
        return
      }
      if (flipNext[direction]) {
        flipNext[direction] = false
        data = Buffer.from(data)
        const at = Math.floor(data.length / 2)
        data[at] = (data[at] ?? 0) ^ 0x10
      }
      recorded[direction].push(data)
      const send = () => {
        if (!to.destroyed) to.write(data)
      }
      if (stalled) held.push(send)
      else if (delayMs > 0) setTimeout(send, delayMs)
      else send()
    })
  }

  const destroyPair = (pair: Pair) => {
    pair.client.resetAndDestroy()
    pair.upstream.resetAndDestroy()
    pairs.delete(pair)
  }

  const server: Server = createServer((client) => {
    accepted++
    client.on('error', () => undefined)
    if (refusing) {
      client.destroy()
      return
    }
    const upstream = tcpConnect(target.port, target.host)
    upstream.on('error', () => undefined)
    const pair = { client, upstream }
    pairs.add(pair)
    forward(client, upstream, 'toTarget', pair)
    forward(upstream, client, 'fromTarget', pair)
    const end = () => {
      if (!pairs.has(pair)) return
      pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    const vanish = (gone: Socket, other: Socket) => {
      if (!closingSilently || !pairs.has(pair)) return end()
      // Kept open until the proxy closes or the other end gives up on it; nothing more reaches it.
      pairs.delete(pair)
      silent.add(other)
      other.on('close', () => silent.delete(other))
      gone.destroy()
    }
    client.on('close', () => vanish(client, upstream))
    upstream.on('close', () => vanish(upstream, client))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const port = (server.address() as { port: number }).port

  return {
    port,
    recorded,
    get accepted() {
      return accepted
    },
    cutAll() {
      for (const pair of [...pairs]) destroyPair(pair)
    },
    stall(on) {
      stalled = on
      if (!on) for (const send of held.splice(0)) send()
    },
    delay(ms) {
      delayMs = ms
    },
    resetMidFrameOnNextChunk() {
      resetNext = true
    },
    flipBitOnNextChunk(direction) {
      flipNext[direction] = true
    },
    refuse(on) {
      refusing = on
    },
    silentClose(on) {
      closingSilently = on
    },
    close() {
      for (const pair of [...pairs]) destroyPair(pair)
      for (const socket of [...silent]) socket.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
