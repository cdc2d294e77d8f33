import { createRequire } from 'node:module'
import { connect, createServer, type Socket } from 'node:net'
import {
  type BenchCase,
  IDLE_HANDLERS,
  LOOPBACK,
  type OpenedPair,
  type PairHandlers,
  type SideName,
} from '../pair.js'
import { MessageMaker, randomHex, type WireMessage } from '../shape.js'
import { closeAll } from './raw.js'

interface KeyPair {
  publicKey: Buffer
  secretKey: Buffer
}

/** The part of @hyperswarm/secret-stream (a streamx Duplex) this baseline drives. */
interface SecretStream {
  readonly opened: Promise<boolean>
  write(data: Uint8Array): boolean
  on(event: 'data', listener: (record: Buffer) => void): this
  on(event: 'error' | 'close', listener: (...args: unknown[]) => void): this
  destroy(): void
}

interface SecretStreamClass {
  new (isInitiator: boolean, rawStream: Socket, options?: { keyPair?: KeyPair }): SecretStream
  keyPair(): KeyPair
}

// The same library and version @parley/secure wraps (CommonJS, so it is loaded with require).
const SecretStream = createRequire(import.meta.url)('@hyperswarm/secret-stream') as SecretStreamClass

/**
 * Baseline 2: @hyperswarm/secret-stream straight over node:net, one message per encrypted record. Its own
 * Noise XX handshake with ed25519 keys (noise-handshake + noise-curve-ed, as @parley/secure uses), then
 * libsodium secretstream records (xchacha20-poly1305) with a 3-byte length prefix: parley's record layer.
 */
export const secretStreamCase: BenchCase = {
  key: 'cryptoBaseline',
  label: 'secret-stream, 1 message per record',
  open: openSecretStream,
}

async function openSecretStream(): Promise<OpenedPair> {
  const keys = { a: SecretStream.keyPair(), b: SecretStream.keyPair() }
  const server = createServer()
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve))
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve))
  const { port } = server.address() as { port: number }
  const start = performance.now()
  const client = connect(port, LOOPBACK)
  client.setNoDelay(true)
  const a = new SecretStream(true, client, { keyPair: keys.a })
  const inbound = await accepted
  inbound.setNoDelay(true)
  const b = new SecretStream(false, inbound, { keyPair: keys.b })
  await Promise.all([a.opened, b.opened])
  const connectMs = performance.now() - start
  let handlers: PairHandlers = IDLE_HANDLERS
  const makers = { a: new MessageMaker(randomHex(32)), b: new MessageMaker(randomHex(32)) }
  const streams = { a, b }
  const listen = (at: SideName, stream: SecretStream) => {
    const other: SideName = at === 'a' ? 'b' : 'a'
    stream.on('error', () => {})
    stream.on('data', (record) => {
      const message = JSON.parse(record.toString('utf8')) as WireMessage
      handlers.received(at, message.body)
      handlers.acknowledged(other, 1)
    })
  }
  listen('a', a)
  listen('b', b)
  return {
    connectMs,
    pair: {
      send: (from, body) => {
        streams[from].write(Buffer.from(JSON.stringify(makers[from].next(body))))
      },
      setHandlers: (next) => {
        handlers = next
      },
      close: async () => {
        a.destroy()
        b.destroy()
        await closeAll(server, [client, inbound])
      },
    },
  }
}
