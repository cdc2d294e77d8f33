/**
 * What one message costs the runtime itself, with no kernel in the way: two ParleyNodes in one process
 * over an in-memory transport that hands each link's writes over in chunks of up to 64 KiB on the next
 * turn of the event loop, as a socket would, and says "wait for drain" past 16 KiB. a floods b with the
 * bench's window (1,000 in flight, refilled at half); each visit opens a fresh pair.
 *
 *   node --expose-gc tooling/bench/dist/core-cost.js [--flavour plain|unsigned|secure] [--visits 8]
 *     [--count 50000] [--root DIR]
 *
 * `--root` runs another checkout's built packages (`DIR/packages/core/dist`, `DIR/packages/secure/dist`)
 * the same way, so two builds are compared by one harness. Times on a shared machine move by a fifth
 * from one second to the next; instruction counts do not. For those, run it under valgrind with one
 * visit, at two counts:
 *
 *   valgrind --tool=callgrind --smc-check=all node --single-threaded --expose-gc \
 *     tooling/bench/dist/core-cost.js --visits 1 --count 20000
 *
 * and again with `--count 40000`. The warm-up visit has the same count as the measured one, so the
 * difference between the two totals, over 40,000 messages, is the steady cost of one message: start-up
 * and compiling cancel out.
 */
import { randomBytes } from 'node:crypto'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { flood } from './drivers.js'
import { IDLE_HANDLERS, type Pair, type PairHandlers } from './pair.js'
import { median } from './stats.js'

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        flavour: { type: 'string', default: 'plain' },
        visits: { type: 'string', default: '8' },
        count: { type: 'string', default: '50000' },
        root: { type: 'string' },
      },
    })
  } catch (error) {
    console.error(
      `core-cost: ${(error as Error).message}; the flags are --flavour, --visits, --count and --root`,
    )
    process.exit(2)
  }
})()
const flavour = values.flavour
if (flavour !== 'plain' && flavour !== 'unsigned' && flavour !== 'secure') {
  console.error(`core-cost: unknown --flavour ${flavour}; use plain, unsigned or secure`)
  process.exit(2)
}
const visits = wholeNumber('visits', values.visits)
const count = wholeNumber('count', values.count)
const root = values.root ? resolve(values.root) : resolve(import.meta.dirname, '../../..')

function wholeNumber(flag: string, text: string): number {
  const value = Number(text)
  if (Number.isInteger(value) && value >= 1) return value
  console.error(`core-cost: --${flag} ${text} is not a whole number of at least 1`)
  process.exit(2)
}

/** Imports one of the build's packages, or says which build is missing and how to make it. */
async function load(pkg: string): Promise<unknown> {
  const file = `${root}/packages/${pkg}/dist/index.js`
  try {
    return await import(pathToFileURL(file).href)
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw error
    console.error(`core-cost: no built ${pkg} package at ${file}; run pnpm install && pnpm build in ${root}`)
    process.exit(2)
  }
}

/** The few members of a node and its packages this harness uses, as any build has them. */
interface CostNode {
  readonly address: unknown
  start(): Promise<unknown>
  connect(address: unknown): void
  send(body: string): unknown
  on(listener: (event: { type: string }) => void): () => void
  close(reason: string): Promise<void>
}
type Options = Record<string, unknown>
const core = (await load('core')) as {
  ParleyNode: new (options: Options) => CostNode
  parseAddress?: (text: string) => unknown
}
const secure =
  flavour === 'plain'
    ? undefined
    : ((await load('secure')) as {
        generateKeyPair(): { publicKey: Uint8Array; secretKey: Uint8Array }
        createMessageAuth(keyPair: unknown): unknown
        createSecureTransport(transport: unknown, options: { keyPair: unknown }): unknown
      })

/** Builds before the transport seam wrote addresses as `{host, port}`; later ones as text. */
const objectAddresses = typeof core.parseAddress?.('127.0.0.1:0') === 'object'
const textOf = (address: unknown): string =>
  typeof address === 'string'
    ? address
    : `${(address as { host: string }).host}:${(address as { port: number }).port}`
const asAddress = (text: string): unknown => {
  if (!objectAddresses) return text
  const colon = text.lastIndexOf(':')
  return { host: text.slice(0, colon), port: Number(text.slice(colon + 1)) }
}

const CHUNK_BYTES = 64 * 1024
const HIGH_WATER = 16 * 1024

interface Handlers {
  data(chunk: Uint8Array): void
  drain(): void
  close(error?: Error): void
}

/** One end of an in-memory connection that batches like a socket. */
class MemoryLink {
  peer!: MemoryLink
  readonly source = '127.0.0.1'
  private handlers?: Handlers
  private readonly queued: Uint8Array[] = []
  private queuedBytes = 0
  private readonly inbox: Uint8Array[] = []
  private paused = false
  private flushing = false
  private wantsDrain = false
  closed = false

  constructor(
    readonly direction: 'inbound' | 'outbound',
    readonly localAddress: string,
    readonly remoteAddress: string,
  ) {}

  attach(handlers: Handlers): void {
    this.handlers = handlers
    setImmediate(() => this.deliver())
  }

  write(chunk: Uint8Array): boolean {
    if (this.closed) return false
    // Copied, as a socket copies into the kernel: the caller may reuse its buffer.
    this.queued.push(chunk.slice())
    this.queuedBytes += chunk.length
    if (!this.flushing) {
      this.flushing = true
      setImmediate(() => this.flush())
    }
    if (this.queuedBytes <= HIGH_WATER) return true
    this.wantsDrain = true
    return false
  }

  pause(): void {
    this.paused = true
  }

  resume(): void {
    if (!this.paused) return
    this.paused = false
    setImmediate(() => this.deliver())
  }

  end(): void {
    this.flush()
    this.destroy()
  }

  destroy(): void {
    if (this.closed) return
    this.closed = true
    setImmediate(() => {
      this.handlers?.close()
      if (this.peer.closed) return
      this.peer.closed = true
      this.peer.handlers?.close()
    })
  }

  private flush(): void {
    this.flushing = false
    if (this.closed) return
    while (this.queuedBytes > 0) {
      let bytes = 0
      let parts = 0
      while (parts < this.queued.length && (bytes === 0 || bytes + this.queued[parts]!.length <= CHUNK_BYTES))
        bytes += this.queued[parts++]!.length
      const chunk = new Uint8Array(bytes)
      let at = 0
      for (const part of this.queued.splice(0, parts)) {
        chunk.set(part, at)
        at += part.length
      }
      this.queuedBytes -= bytes
      this.peer.arrive(chunk)
    }
    if (this.wantsDrain) {
      this.wantsDrain = false
      this.handlers?.drain()
    }
  }

  private arrive(chunk: Uint8Array): void {
    this.inbox.push(chunk)
    this.deliver()
  }

  private deliver(): void {
    while (this.inbox.length > 0 && !this.paused && this.handlers && !this.closed)
      this.handlers.data(this.inbox.shift()!)
  }
}

const listeners = new Map<string, (link: MemoryLink) => void>()
let nextPort = 1_000

const memoryTransport = {
  createListener(onLink: (link: MemoryLink) => void) {
    let bound: string | undefined
    return {
      listen: async (_address: unknown) => {
        bound = `127.0.0.1:${nextPort++}`
        listeners.set(bound, onLink)
        return asAddress(bound)
      },
      close: async () => {
        if (bound !== undefined) listeners.delete(bound)
      },
    }
  },
  async dial(address: unknown) {
    await new Promise((done) => setImmediate(done))
    const remote = textOf(address)
    const onLink = listeners.get(remote)
    if (!onLink) throw new Error(`nothing listens on ${remote}`)
    const local = `127.0.0.1:${nextPort++}`
    const outbound = new MemoryLink('outbound', local, remote)
    const inbound = new MemoryLink('inbound', remote, local)
    outbound.peer = inbound
    inbound.peer = outbound
    setImmediate(() => onLink(inbound))
    return outbound
  },
}

async function launch(name: string): Promise<CostNode> {
  const common = { name, listen: asAddress('127.0.0.1:0'), rateLimit: false }
  let node: CostNode
  if (!secure) {
    node = new core.ParleyNode({ ...common, transport: memoryTransport, id: randomBytes(32).toString('hex') })
  } else {
    const keyPair = secure.generateKeyPair()
    const transport = secure.createSecureTransport(memoryTransport, { keyPair })
    const auth = flavour === 'secure' ? { auth: secure.createMessageAuth(keyPair) } : {}
    node = new core.ParleyNode({
      ...common,
      transport,
      id: Buffer.from(keyPair.publicKey).toString('hex'),
      ...auth,
    })
  }
  await node.start()
  return node
}

const WINDOW = 1_000
const STALL_MS = 20_000

/** One fresh pair, one flood with the bench's driver: microseconds per message, of CPU and by the clock. */
async function visit(): Promise<{ cpu: number; wall: number }> {
  const [a, b] = await Promise.all([launch('alice'), launch('bob')])
  const connected = Promise.all(
    [a, b].map(
      (node) =>
        new Promise<void>((done) => {
          const off = node.on((event) => {
            if (event.type !== 'connected') return
            off()
            done()
          })
        }),
    ),
  )
  a.connect(b.address)
  b.connect(a.address)
  await connected
  let handlers: PairHandlers = IDLE_HANDLERS
  a.on((event) => {
    if (event.type === 'delivered') handlers.acknowledged('a', 1)
  })
  const pair: Pair = {
    send: (from, body) => void (from === 'a' ? a : b).send(body),
    setHandlers: (next) => {
      handlers = next
    },
    close: async () => {
      await Promise.all([a.close('done'), b.close('done')])
    },
  }
  globalThis.gc?.()
  const cpuBefore = process.cpuUsage()
  const ms = await flood(pair, count, WINDOW, STALL_MS)
  const cpu = process.cpuUsage(cpuBefore)
  await pair.close()
  return { cpu: (cpu.user + cpu.system) / count, wall: (ms * 1000) / count }
}

await visit()
const measured: { cpu: number; wall: number }[] = []
for (let i = 0; i < visits; i++) measured.push(await visit())
const format = (values: number[]) => values.map((v) => v.toFixed(2)).join(' ')
console.log(
  `${flavour} ${root}: median ${median(measured.map((m) => m.wall)).toFixed(2)} µs/msg by the clock, ` +
    `${median(measured.map((m) => m.cpu)).toFixed(2)} µs/msg of CPU (visits: ${format(measured.map((m) => m.wall))})`,
)
