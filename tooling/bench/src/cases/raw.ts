import { connect, createServer, type Server, type Socket } from 'node:net'
import {
  type BenchCase,
  IDLE_HANDLERS,
  LOOPBACK,
  type OpenedPair,
  type PairHandlers,
  type SideName,
} from '../pair.js'
import { MessageMaker, randomHex, type WireMessage } from '../shape.js'

/** Baseline 1: node:net with TCP_NODELAY (as transport-tcp sets it), one JSON object per line. */
export const rawCase: BenchCase = {
  key: 'raw',
  label: 'raw node:net + newline JSON',
  open: openRaw,
}

/**
 * The same pair flooded without a window: every message written at once, then read, so that no ratio to
 * raw flatters parley by holding raw to parley's window.
 */
export const rawUnwindowedCase: BenchCase = {
  key: 'rawUnwindowed',
  label: 'raw node:net, no window',
  unwindowed: true,
  open: openRaw,
}

async function openRaw(): Promise<OpenedPair> {
  const server = createServer()
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve))
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve))
  const { port } = server.address() as { port: number }
  const start = performance.now()
  const client = connect(port, LOOPBACK)
  const [, inbound] = await Promise.all([
    new Promise<void>((resolve) => client.once('connect', () => resolve())),
    accepted,
  ])
  const connectMs = performance.now() - start
  let handlers: PairHandlers = IDLE_HANDLERS
  const sides = { a: new LineSide(client, 'a'), b: new LineSide(inbound, 'b') }
  const deliver = (at: SideName, message: WireMessage) => {
    handlers.received(at, message.body)
    handlers.acknowledged(at === 'a' ? 'b' : 'a', 1)
  }
  sides.a.onMessage = (m) => deliver('a', m)
  sides.b.onMessage = (m) => deliver('b', m)
  return {
    connectMs,
    pair: {
      send: (from, body) => sides[from].send(body),
      setHandlers: (next) => {
        handlers = next
      },
      close: () => closeAll(server, [client, inbound]),
    },
  }
}

/** One end: writes `JSON + "\n"` per message, splits what arrives at newlines and parses each line. */
class LineSide {
  onMessage: (message: WireMessage) => void = () => {}
  private readonly maker = new MessageMaker(randomHex(32))
  private partial = ''

  constructor(
    private readonly socket: Socket,
    readonly name: SideName,
  ) {
    socket.setNoDelay(true)
    socket.setEncoding('utf8')
    socket.on('data', (text: string) => this.onText(text))
    socket.on('error', () => {})
  }

  send(body: string): void {
    this.socket.write(`${JSON.stringify(this.maker.next(body))}\n`)
  }

  private onText(text: string): void {
    const buffered = this.partial + text
    let from = 0
    let newline = buffered.indexOf('\n')
    while (newline !== -1) {
      this.onMessage(JSON.parse(buffered.slice(from, newline)) as WireMessage)
      from = newline + 1
      newline = buffered.indexOf('\n', from)
    }
    this.partial = buffered.slice(from)
  }
}

export async function closeAll(server: Server, sockets: Socket[]): Promise<void> {
  for (const socket of sockets) socket.destroy()
  await new Promise<void>((resolve) => server.close(() => resolve()))
}
