/**
 * A live parley node under hostile frames. The node is the real runtime (codec, link machine, inbound
 * gate, room, message signatures, persistence with a disk quota); only its surroundings are stand-ins
 * that make a run deterministic and fast (stand-ins.ts): links in memory that carry the key a secure
 * transport would have proven, a clock that moves with the frames, and a journal that counts bytes.
 *
 * A run fails on the first untyped failure: an exception thrown out of the runtime that is not a coded
 * parley error (from a read, a timer or a promise), a journal error, a node that no longer shows an
 * honest member's message at the end, or heap growth past the bound.
 */
import { AddressError, type Link, ParleyNode, ProtocolError, TransportError } from '@parley/core'
import { createMessageAuth } from '@parley/secure'
import { type Action, frameOf, HostilePeers } from './frames.js'
import { idOf, Rng, seededKeyPair } from './random.js'
import { CountingJournal, FuzzClock, FuzzLink } from './stand-ins.js'

export interface FuzzOptions {
  /** Frames to send. */
  readonly frames: number
  readonly seed: number
  /** Stop sending after this long (ms), whatever the count. */
  readonly deadlineMs?: number
  /** Heap growth allowed between the end of the warm-up and the end of the run (MiB). */
  readonly heapGrowthMb?: number
  /** Told of every frame before it is delivered (the worker keeps the last one, in case the process dies). */
  readonly onFrame?: (index: number, bytes: Uint8Array) => void
  /** Installs a fault in the node under test, to prove the fuzzer catches it (see `FAULTS`). */
  readonly fault?: FaultName
}

export interface FuzzFailure {
  readonly kind: 'untyped-throw' | 'unhandled-rejection' | 'journal-error' | 'stuck' | 'heap-growth' | 'crash'
  readonly seed: number
  /** The frame being delivered (or the last one delivered) when it happened, from 1. */
  readonly index: number
  readonly label: string
  /** The frame, as text when it is UTF-8, else hex; cut to a readable length. */
  readonly frame: string
  readonly error: string
}

export interface FuzzReport {
  readonly seed: number
  readonly frames: number
  /** Links opened by the hostile peers. */
  readonly links: number
  readonly ms: number
  readonly framesPerSecond: number
  /** Why the node closed hostile links, by code. */
  readonly codes: Record<string, number>
  /** Kinds of frame after which the node closed the link. */
  readonly closers: Record<string, number>
  /** Coded parley errors thrown out of a read (allowed, counted). */
  readonly typedThrows: number
  readonly shown: number
  readonly heapMb: { readonly warm: number; readonly end: number }
  readonly stoppedByDeadline: boolean
  readonly failure?: FuzzFailure
}

/** Faults the fuzzer can install in the node under test, to prove it finds them. */
export const FAULTS = {
  /** A listener that throws a TypeError while the node shows a message: inside a promise callback. */
  'throw-on-message': (node: ParleyNode) =>
    node.on((event) => {
      if (event.type === 'message' && event.body.includes('中'))
        throw new TypeError('injected: cannot show this')
    }),
  /** A listener that keeps 8 KiB for every message shown: memory that grows with the run. */
  'leak-messages': (node: ParleyNode) => {
    const kept: string[] = []
    return node.on((event) => {
      if (event.type === 'message') kept.push(`${event.body}${' '.repeat(4096)}`.slice(0, 4096) + event.id)
    })
  },
  /** A listener that throws while the node reports a refused link: inside a read, synchronously. */
  'throw-on-refusal': (node: ParleyNode) =>
    node.on((event) => {
      if (event.type === 'link-error' && event.code === 'BAD_UTF8')
        throw new RangeError('injected: bad refusal')
    }),
} as const
export type FaultName = keyof typeof FAULTS

const MAX_FRAME = 64 * 1024
/** Frames between two turns of the event loop (journal appends settle, messages are shown, timers fire). */
const TURN = 32
const TURN_MS = 25
/** Journal counts are reset this often, as a compaction would free them, so quotas are hit and left again. */
const COMPACT_EVERY = 200_000

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const run = new FuzzRun(options)
  return run.run()
}

class FuzzRun {
  private readonly rng: Rng
  private readonly clock = new FuzzClock()
  private readonly journal = new CountingJournal()
  private readonly peers: HostilePeers
  private readonly node: ParleyNode
  private readonly victimId: string
  private onLink: ((link: Link) => void) | undefined
  private readonly slots: (FuzzLink | undefined)[] = []
  private readonly codes: Record<string, number> = {}
  private readonly closers: Record<string, number> = {}
  private failure: FuzzFailure | undefined
  private index = 0
  private current: { label: string; bytes: Uint8Array } = { label: 'none yet', bytes: new Uint8Array() }
  private typedThrows = 0
  private links = 0
  private shown = 0
  private nextLink = 0

  constructor(private readonly options: FuzzOptions) {
    this.rng = new Rng(options.seed)
    const victimKey = seededKeyPair(this.rng)
    this.victimId = idOf(victimKey)
    const nodeRandom = new Rng(options.seed ^ 0x5eed)
    this.node = new ParleyNode({
      transport: {
        createListener: (onLink) => {
          this.onLink = onLink
          return { listen: async (address) => address, close: async () => undefined }
        },
        dial: () => Promise.reject(new TransportError('CONNECTION_REFUSED', 'the fuzzer dials nobody')),
      },
      clock: this.clock,
      random: () => nodeRandom.next(),
      id: this.victimId,
      name: 'victim',
      listen: 'fuzz:0',
      auth: createMessageAuth(victimKey),
      journal: this.journal,
      // Small, so that every bound is reached within a run and then held.
      journalQuota: { perOrigin: 3 * 1024 * 1024, total: 16 * 1024 * 1024 },
      historyLimit: 500,
      windowSize: 100,
      maxFrame: MAX_FRAME,
    })
    this.peers = new HostilePeers(this.rng, this.victimId, MAX_FRAME)
    this.node.on((event) => {
      if (event.type === 'link-error') this.codes[event.code] = (this.codes[event.code] ?? 0) + 1
      else if (event.type === 'message') this.shown++
      else if (event.type === 'journal-error') this.fail('journal-error', event.message)
    })
    if (options.fault) FAULTS[options.fault](this.node)
  }

  async run(): Promise<FuzzReport> {
    const onRejection = (reason: unknown) => this.fail('unhandled-rejection', describe(reason))
    const onException = (error: unknown) => this.fail('untyped-throw', describe(error))
    process.on('unhandledRejection', onRejection)
    process.on('uncaughtException', onException)
    const started = performance.now()
    const deadline = started + (this.options.deadlineMs ?? Number.POSITIVE_INFINITY)
    let stoppedByDeadline = false
    let warm = 0
    const warmAt = Math.min(Math.ceil(this.options.frames / 5), 100_000)
    try {
      await this.node.start()
      while (this.index < this.options.frames && !this.failure) {
        this.act(this.peers.next())
        if (this.index % TURN !== 0) continue
        await this.turn()
        if (this.index % COMPACT_EVERY === 0) this.journal.compact()
        if (warm === 0 && this.index >= warmAt) warm = await heapMb()
        if (performance.now() > deadline) {
          stoppedByDeadline = true
          break
        }
      }
      const ms = performance.now() - started
      for (let slot = 0; slot < this.slots.length; slot++) this.slots[slot]?.remoteClose('end')
      for (let i = 0; i < 4; i++) await this.turn()
      if (!this.failure) await this.checkAlive()
      if (warm === 0) warm = await heapMb()
      const end = await heapMb()
      const bound = this.options.heapGrowthMb ?? 64
      if (!this.failure && end - warm > bound) {
        this.fail(
          'heap-growth',
          `heap grew from ${warm.toFixed(1)} to ${end.toFixed(1)} MiB (bound ${bound} MiB)`,
        )
      }
      await this.node.close()
      await this.turn()
      return {
        seed: this.options.seed,
        frames: this.index,
        links: this.links,
        ms,
        framesPerSecond: this.index / (ms / 1000),
        codes: this.codes,
        closers: this.closers,
        typedThrows: this.typedThrows,
        shown: this.shown,
        heapMb: { warm, end },
        stoppedByDeadline,
        ...(this.failure ? { failure: this.failure } : {}),
      }
    } finally {
      process.off('unhandledRejection', onRejection)
      process.off('uncaughtException', onException)
    }
  }

  private act(action: Action): void {
    switch (action.kind) {
      case 'open': {
        const link = new FuzzLink(
          `fuzz:${++this.nextLink}`,
          action.key,
          (slot) => this.peers.closed(slot),
          action.slot,
        )
        this.slots[action.slot] = link
        this.links++
        this.guard(() => this.onLink?.(link))
        return
      }
      case 'frame': {
        const link = this.slots[action.slot]
        if (!link || link.closedByNode) {
          this.peers.closed(action.slot)
          return
        }
        this.index++
        this.current = action
        this.options.onFrame?.(this.index, action.bytes)
        this.guard(() => link.deliver(action.bytes, action.pieces))
        if (link.closedByNode) this.closers[action.label] = (this.closers[action.label] ?? 0) + 1
        return
      }
      case 'close':
        this.guard(() => this.slots[action.slot]?.remoteClose(action.how))
        return
      default: {
        const _exhaustive: never = action
        throw new Error(`unknown action ${JSON.stringify(_exhaustive)}`)
      }
    }
  }

  /** Lets the node's promise callbacks run, moves the clock on (timers fire), and serves the links. */
  private async turn(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve))
    this.guard(() => this.clock.advance(TURN_MS))
    for (const link of this.slots) if (link) this.guard(() => link.serve())
  }

  private guard(step: () => void): void {
    try {
      step()
    } catch (error) {
      if (isCoded(error)) this.typedThrows++
      else this.fail('untyped-throw', describe(error))
    }
  }

  private fail(kind: FuzzFailure['kind'], error: string): void {
    if (this.failure) return
    this.failure = {
      kind,
      seed: this.options.seed,
      index: this.index,
      label: this.current.label,
      frame: showFrame(this.current.bytes),
      error,
    }
  }

  /** After everything, an honest member still gets through: a fresh key, a clean handshake, one message. */
  private async checkAlive(): Promise<void> {
    this.journal.compact()
    const honest = seededKeyPair(this.rng)
    const id = idOf(honest)
    const auth = createMessageAuth(honest)
    const link = new FuzzLink('fuzz:honest', id, () => undefined, -1)
    this.guard(() => this.onLink?.(link))
    const send = (message: object) => this.guard(() => link.deliver(frameOf(JSON.stringify(message)), 1))
    send({ type: 'hello', v: '1.0', id, name: 'honest', caps: ['room/1'] })
    if (id < this.victimId) send({ type: 'accept' })
    send({ type: 'ack', upTo: 0, base: 0 })
    const msg: Record<string, unknown> = {
      type: 'msg',
      id: 'honest-1',
      seq: 1,
      ts: 1,
      from: id,
      body: 'still there?',
    }
    const hash = auth.chain(auth.genesis(id), msg as never)
    msg.prev = auth.genesis(id)
    msg.sig = auth.sign(hash)
    let seen = false
    const off = this.node.on((e) => {
      if (e.type === 'message' && e.from.id === id) seen = true
    })
    send(msg)
    for (let i = 0; i < 40 && !seen && !this.failure; i++) await this.turn()
    off()
    if (!seen && !this.failure)
      this.fail('stuck', 'an honest member that connected after the run was not shown')
    link.remoteClose('end')
  }
}

/** The coded errors of the runtime: anything else thrown out of it is a bug. */
function isCoded(error: unknown): boolean {
  return error instanceof ProtocolError || error instanceof TransportError || error instanceof AddressError
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}\n${error.stack ?? ''}`
  return String(error)
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** A frame for a person: its length prefix, then its body as text when it is UTF-8, else as hex. */
export function showFrame(bytes: Uint8Array, limit = 2_000): string {
  const framed =
    bytes.length >= 4 && new DataView(bytes.buffer, bytes.byteOffset).getUint32(0) === bytes.length - 4
  const body = framed ? bytes.subarray(4) : bytes
  let text: string
  try {
    text = `text ${JSON.stringify(utf8.decode(body))}`
  } catch {
    text = `hex ${Buffer.from(body).toString('hex')}`
  }
  if (text.length > limit) text = `${text.slice(0, limit)}…`
  return `${bytes.length} bytes, ${framed ? 'a whole frame' : 'not one whole frame'}: ${text}`
}

async function heapMb(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc) {
    gc()
    await new Promise<void>((resolve) => setImmediate(resolve))
    gc()
  }
  return process.memoryUsage().heapUsed / 1_048_576
}
