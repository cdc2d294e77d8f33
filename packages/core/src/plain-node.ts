/**
 * Plain mode: no handshake, no encryption, no acknowledgements. Each line is a message, so a node
 * interoperates with netcat, socat and telnet. Every link is kept until its remote end closes it, since
 * a raw peer that listens and dials at once may close whichever link it did not prefer.
 */
import type { Address } from './address.js'
import { type Clock, systemClock } from './clock.js'
import { DEFAULT_MAX_FRAME } from './codec.js'
import { waitForDelivery } from './delivery.js'
import { Dialer, type DialSlot } from './dialer.js'
import { ProtocolError } from './errors.js'
import { HistoryRing } from './history-ring.js'
import type { HistoryEntry } from './journal.js'
import { LinkTable } from './link-table.js'
import {
  type ChatNode,
  type MemberInfo,
  NODE_DEFAULTS,
  type NodeEvent,
  type SendOptions,
  type SentMessage,
  type SessionInfo,
} from './node-types.js'
import {
  type Backoff,
  DEFAULT_BACKOFF,
  type PeerEvent,
  type PeerInfo,
  type PeerState,
} from './peer-machine.js'
import { DEFAULT_HISTORY_LIMIT, HISTORY_TEXT_BYTES } from './persistence.js'
import { platform } from './platform.js'
import { MAX_BODY_LENGTH } from './schema.js'
import { utf8End, utf8Length } from './text-cut.js'
import type { Link, Listener, Transport } from './transport.js'

export interface PlainNodeOptions {
  transport: Transport
  name: string
  listen: Address
  peers?: readonly Address[]
  clock?: Clock
  random?: () => number
  backoff?: Backoff
  dialTimeoutMs?: number
  /**
   * Longest line held from a peer, in bytes of UTF-8 (as `--max-frame` counts a frame); a longer one is
   * taken in parts of at most this many bytes (`more`), never cut inside a character.
   */
  maxLine?: number
  /** Connections accepted at once, at most; one more is refused with a line saying why. Default 64. */
  maxInbound?: number
  /** The same per source host. Default 8. */
  maxInboundPerHost?: number
  /**
   * Lines in runs, for a frontend that shows or sends many at once (piped files): the lines of one read
   * from a link come as one `lines` event instead of a `message` event each, and each write of lines sent
   * is confirmed by one `delivered` event, for its last line. Off by default.
   */
  runs?: boolean
}

interface PlainLink {
  readonly id: number
  readonly link: Link
  readonly peer: PeerInfo
  readonly slot?: DialSlot
  /** Where an accepted connection came from (see `Link.source`). */
  readonly source?: string
  partial: string
  /** The bytes `partial` takes in UTF-8, kept as it grows: a line dripped in small pieces is never counted again whole. */
  partialBytes: number
  nextSeq: number
  /** What this link's lines' ids start with: `${id}-`. */
  readonly idPrefix: string
  open: boolean
  /** Each link decodes its own UTF-8, so one client's split character never mixes with another's. */
  readonly decoder: { decode(bytes: Uint8Array, options?: { stream?: boolean }): string }
  /** The remote end is not reading: lines wait here instead of piling up in the socket. */
  blocked: boolean
  waiting: WrittenLines[]
  /** Lines in `waiting`, all chunks together. */
  waitingLines: number
  /** Lines written to this link so far, and the seqs of the first and last (each link takes a run of them). */
  writtenLines: number
  firstWritten?: number
  lastWritten: number
  /**
   * A link this node dialed whose first line was an encrypted parley node's answer: it is taken for one
   * once the link closes with nothing more; anything more, and it was a person typing, whose lines show.
   */
  heldAnswer?: string
  /** It turned out an encrypted node: it read none of the lines written to it. */
  readNone: boolean
  /** Ended by `finishSending`: still read, until the remote end closes too. */
  finishing: boolean
}

/**
 * Lines sent together, each ending in a newline: they took the seqs `firstSeq` to `firstSeq + count - 1`,
 * since every line sent takes the next seq, and they go out in the order they were sent.
 */
interface LineRun {
  readonly text: string
  readonly firstSeq: number
  readonly count: number
}

/** A run encoded once, for every link it is written to. */
interface WrittenLines {
  readonly bytes: Uint8Array
  readonly firstSeq: number
  readonly count: number
}

/** The id of the line sent with this seq (`sentId('')`: what every such id starts with). */
function sentId(seq: number | ''): string {
  return `plain-${seq}`
}

/** Lines sent in one turn go out in one write, up to about this many characters. */
const BATCH_CHARS = 32 * 1024

const HISTORY_LIMIT = DEFAULT_HISTORY_LIMIT

/** Every line is "durable" at once (plain mode keeps nothing): one settled promise serves them all. */
const SETTLED: Promise<void> = Promise.resolve()

/** What a plain node answers to a peer that opened with binary bytes (a secure parley node). */
export const NOT_SECURE_REPLY =
  'parley: this node runs --plain and does not speak the parley secure protocol\n'

/**
 * What an encrypted parley node answers to a peer that opened with text (nc, telnet, a --plain node), and
 * then reads nothing more from it. A plain node that hears it as a link's first line knows that the peer
 * took none of the lines it wrote there.
 */
export const ENCRYPTED_NODE_REPLY =
  'parley: this is an encrypted parley node; talk to it with parley (parley --peer HOST:PORT), or run it with --plain for nc and telnet\n'
const ENCRYPTED_NODE_LINE = ENCRYPTED_NODE_REPLY.slice(0, -1)

/** A node that speaks newline-separated text instead of parley frames. */
export class PlainNode implements ChatNode {
  readonly id: string
  private nameValue: string
  /** Made once (and on rename), not per line sent. */
  private selfInfo: PeerInfo
  private readonly transport: Transport
  private readonly clock: Clock
  private readonly random: () => number
  private readonly backoff: Backoff
  private readonly dialTimeoutMs: number
  private readonly maxLine: number
  /** Every link, and the caps on accepted ones: each is a peer at once, so each counts while open. */
  private readonly table: LinkTable<number>
  private readonly listeners = new Set<(event: NodeEvent) => void>()
  /** `listeners` as an array, made again when it changes: every line is an event, so no copy per event. */
  private listenerList: readonly ((event: NodeEvent) => void)[] = []
  private readonly links = new Map<number, PlainLink>()
  private readonly dialer: Dialer
  private readonly runs: boolean
  /** Runs of lines sent while no link was open, waiting for the first one; `queuedLines` counts them. */
  private readonly queue: LineRun[] = []
  private queuedLines = 0
  /** Lines sent this turn, written together once the turn's code has run (one write instead of one each). */
  private batch: string[] = []
  /** Lines in `batch`, whose pieces each end in a newline and may hold many lines. */
  private batchLines = 0
  private batchFirstSeq = 0
  private batchChars = 0
  private readonly encoder = new platform.TextEncoder()
  /** What `history` gives: the last lines in and out, as a node with a journal keeps them. */
  private readonly historyRing = new HistoryRing(HISTORY_LIMIT, HISTORY_TEXT_BYTES)
  private readonly initialPeers: readonly Address[]
  private listenAddress: Address
  private listener?: Listener
  private running = false
  private closed = false
  private nextLinkId = 1
  private nextSeq = 1
  /** When the first of the currently open links opened. */
  private connectedSince = 0
  /** Sources already told they are not speaking plain text. */
  private readonly warnedSources = new Set<string>()
  /**
   * Seqs written to links that read none of them (encrypted parley nodes), and to links that took them: a
   * line is lost when no link took it.
   */
  private readonly unread: [number, number][] = []
  private readonly taken: [number, number][] = []
  /** Told of every link that closes while `finishSending` waits. */
  private finishing: (() => void) | undefined

  constructor(options: PlainNodeOptions) {
    this.transport = options.transport
    this.nameValue = options.name
    this.selfInfo = { id: 'plain', name: options.name }
    this.listenAddress = options.listen
    this.initialPeers = options.peers ?? []
    this.clock = options.clock ?? systemClock
    this.random = options.random ?? Math.random
    this.backoff = options.backoff ?? DEFAULT_BACKOFF
    this.dialTimeoutMs = options.dialTimeoutMs ?? NODE_DEFAULTS.dialTimeoutMs
    this.maxLine = options.maxLine ?? DEFAULT_MAX_FRAME
    this.runs = options.runs ?? false
    this.table = new LinkTable({
      limits: {
        ...(options.maxInbound !== undefined ? { max: options.maxInbound } : {}),
        ...(options.maxInboundPerHost !== undefined ? { maxPerSource: options.maxInboundPerHost } : {}),
      },
      whenFull: 'refuse',
      counting: 'open',
    })
    this.id = 'plain'
    this.dialer = new Dialer({
      transport: this.transport,
      clock: this.clock,
      random: this.random,
      backoff: this.backoff,
      dialTimeoutMs: this.dialTimeoutMs,
      adopt: (link, slot) => this.adopt(link, slot)?.id,
      closeLink: (id, reason) => {
        const record = this.links.get(id)
        if (record) this.drop(record, reason, false)
      },
      stateChanged: (slot) => this.emit({ type: 'peer-state', target: slot.key, state: slot.state }),
      dialFailed: (slot, code, message) => this.emit({ type: 'dial-error', target: slot.key, code, message }),
    })
  }

  get name(): string {
    return this.nameValue
  }

  get self(): PeerInfo {
    return this.selfInfo
  }

  get address(): Address {
    return this.listenAddress
  }

  /** Lines not yet handed to any link: typed before one opened, or waiting for a peer that does not read. */
  get pending(): number {
    let waiting = 0
    for (const l of this.links.values()) waiting = Math.max(waiting, l.waitingLines)
    return this.queuedLines + this.batchLines + waiting
  }

  get history(): readonly HistoryEntry[] {
    return this.historyRing.entries()
  }

  on(listener: (event: NodeEvent) => void): () => void {
    this.listeners.add(listener)
    this.listenerList = [...this.listeners]
    return () => {
      const removed = this.listeners.delete(listener)
      this.listenerList = [...this.listeners]
      return removed
    }
  }

  async start(): Promise<Address> {
    const listener = this.transport.createListener((link) => this.adopt(link))
    this.listenAddress = await listener.listen(this.listenAddress)
    this.listener = listener
    this.running = true
    this.emit({ type: 'listening', address: this.listenAddress })
    for (const peer of this.initialPeers) this.connect(peer)
    return this.listenAddress
  }

  connect(target: Address): void {
    if (!this.running) throw new Error('the node is not running')
    this.dialer.add(target)
  }

  /** Stops dialing `target` and closes the link that dial made; false when the node does not dial it. */
  disconnect(target: Address): boolean {
    if (!this.running) return false
    // Every slot still dialing stands on the first link that opens: only its own dial's link is closed.
    const dialedBy = (link: number, slot: DialSlot) => this.links.get(link)?.slot === slot
    return this.dialer.remove(target, 'disconnected by the user', dialedBy)
  }

  /**
   * Writes the text to every open link, one line per line of text; queues it while none is open. `more`:
   * its last line goes on in the next text sent, so it is written without its line end, and a line longer
   * than a message reaches the peer (netcat, or a plain parley up to its `--max-frame`) as one line.
   */
  send(body: string, options?: SendOptions): SentMessage {
    this.mustSend(body)
    const seq = this.nextSeq++
    const ts = this.clock.now()
    const more = options?.more === true
    this.historyRing.push('out', sentId(seq), seq, ts, this.self, body, more ? true : undefined)
    this.addToBatch(more ? body : `${body}\n`, 1, seq)
    return { id: sentId(seq), seq, ts, durable: SETTLED }
  }

  sendLines(bodies: readonly string[]): void {
    if (this.closed) throw new Error('the node is closed')
    // Checked and cut into batch-sized pieces in one pass: none is sent unless every line may be.
    const cuts: number[] = []
    let start = 0
    let chars = this.batchChars
    for (let i = 0; i < bodies.length; i++) {
      const length = (bodies[i] as string).length
      if (length > MAX_BODY_LENGTH) this.mustSend(bodies[i] as string)
      if (chars + length + 1 > BATCH_CHARS && i > start) {
        cuts.push(i)
        start = i
        chars = 0
      }
      chars += length + 1
    }
    const first = this.nextSeq
    this.nextSeq += bodies.length
    const ts = this.clock.now()
    this.historyRing.pushLines('out', sentId(''), first, ts, this.self, bodies)
    // Into the batch as a few pieces of text, each as much as a batch holds, not as a string per line.
    start = 0
    for (const end of [...cuts, bodies.length]) {
      if (end === start) continue
      const piece = start === 0 && end === bodies.length ? bodies : bodies.slice(start, end)
      this.addToBatch(`${piece.join('\n')}\n`, end - start, first + start)
      start = end
    }
  }

  private mustSend(body: string): void {
    if (this.closed) throw new Error('the node is closed')
    if (body.length > MAX_BODY_LENGTH) {
      throw new ProtocolError('BAD_MESSAGE', `a message is at most ${MAX_BODY_LENGTH} characters long`)
    }
  }

  /** `text`: `lines` lines, each ending in a newline, the first with seq `firstSeq`. */
  private addToBatch(text: string, lines: number, firstSeq: number): void {
    // A batch stays under the bound, so a peer that does not read is never handed much more than a line.
    if (this.batchChars + text.length > BATCH_CHARS) this.flushBatch()
    if (this.batchLines === 0) {
      this.batchFirstSeq = firstSeq
      platform.queueMicrotask(() => this.flushBatch())
    }
    this.batch.push(text)
    this.batchLines += lines
    this.batchChars += text.length
  }

  rename(name: string): void {
    this.nameValue = name
    this.selfInfo = { id: this.id, name }
  }

  sessionsSnapshot(): SessionInfo[] {
    return this.openLinks().map((l) => ({
      peer: l.peer,
      connected: true,
      address: l.link.remoteAddress,
      localAddress: l.link.localAddress,
    }))
  }

  /** Plain mode relays nothing: the members are the open links. */
  members(): MemberInfo[] {
    return this.openLinks().map((l) => ({
      peer: l.peer,
      direct: true,
      connected: true,
      address: l.link.remoteAddress,
    }))
  }

  peerStates(): { target: string; state: PeerState }[] {
    return this.dialer.states()
  }

  whenDelivered(timeoutMs: number): Promise<number> {
    return waitForDelivery(
      () => this.queuedLines + this.batchLines,
      (listener) => this.on(listener),
      this.clock,
      timeoutMs,
    )
  }

  /**
   * Nothing more will be sent. Plain peers acknowledge nothing, so the one sign that a peer read what was
   * written is that it closes its end after ours: every open link is ended after what was written to it,
   * and this resolves once each peer has closed in turn, or after `timeoutMs`. Meanwhile each link is still
   * read, so an encrypted parley node's answer is heard.
   * @returns how many lines were written to a peer that read none of them (an encrypted parley node)
   */
  finishSending(timeoutMs: number): Promise<number> {
    this.flushBatch()
    const ending = this.openLinks()
    if (ending.length === 0) return Promise.resolve(this.lostLines())
    return new Promise((resolve) => {
      let timer: unknown
      const done = () => {
        this.finishing = undefined
        this.clock.clearTimeout(timer)
        resolve(this.lostLines())
      }
      this.finishing = () => {
        if (ending.every((l) => !l.open)) done()
      }
      timer = this.clock.setTimeout(done, timeoutMs)
      for (const l of ending) {
        l.finishing = true
        l.link.end()
      }
    })
  }

  async close(reason = 'quit'): Promise<void> {
    if (this.closed) return
    // Lines sent in this turn go out before the links are ended.
    this.flushBatch()
    this.closed = true
    this.dialer.stop()
    for (const l of [...this.links.values()]) this.drop(l, reason, false)
    this.dialer.closeAll(reason)
    if (this.running) await this.listener?.close().catch(() => undefined)
    this.running = false
    this.emit({ type: 'closed' })
  }

  /** Links lines are written to: open, and not ended by `finishSending`. */
  private openLinks(): PlainLink[] {
    return [...this.links.values()].filter((l) => l.open && !l.finishing)
  }

  private adopt(link: Link, slot?: DialSlot): PlainLink | undefined {
    if (!this.running || this.closed) {
      link.destroy()
      return undefined
    }
    const id = this.nextLinkId++
    const source = slot ? undefined : (link.source ?? link.remoteAddress)
    const admission = this.table.admit(id, source)
    if (!admission.ok) {
      const refusal = admission.reason
      // Plain peers are people at netcat: tell them in their own terms, then hang up.
      link.write(new platform.TextEncoder().encode(`parley: ${refusal}\n`))
      link.end()
      this.emit({ type: 'link-error', address: link.remoteAddress, code: 'TOO_MANY', message: refusal })
      return undefined
    }
    const address = slot ? slot.key : link.remoteAddress
    const record: PlainLink = {
      id,
      link,
      peer: { id: `plain:${link.remoteAddress}`, name: address },
      partial: '',
      partialBytes: 0,
      nextSeq: 1,
      idPrefix: `${id}-`,
      open: true,
      decoder: new platform.TextDecoder('utf-8'),
      blocked: false,
      waiting: [],
      waitingLines: 0,
      writtenLines: 0,
      lastWritten: 0,
      readNone: false,
      finishing: false,
      ...(slot ? { slot } : {}),
      ...(source !== undefined ? { source } : {}),
    }
    this.links.set(record.id, record)
    link.attach({
      data: (chunk) => this.onData(record, chunk),
      drain: () => this.onDrain(record),
      close: (error) => this.drop(record, error ? error.message : 'connection closed', true),
    })
    if (this.openLinks().length === 1) this.connectedSince = this.clock.now()
    this.emit({
      type: 'connected',
      peer: record.peer,
      address: link.remoteAddress,
      direction: link.direction,
    })
    for (const s of this.dialer.slots.values()) {
      // Plain links carry no identity: any open link satisfies the peer we dial. A dial in flight goes
      // on, since a raw peer that dialed us too may keep the link we dialed and close its own.
      if (s === slot || s.state.status === 'connecting' || s.state.status === 'reconnecting') {
        this.step(s, { type: 'session-open', link: record.id, peer: record.peer, keepDial: true })
      }
    }
    if (this.queue.length > 0) {
      this.queuedLines = 0
      for (const run of this.queue.splice(0)) this.transmit(run)
    }
    return record
  }

  private onData(record: PlainLink, chunk: Uint8Array): void {
    if (!record.open) return
    if (record.nextSeq === 1 && record.partial === '' && looksBinary(chunk)) {
      // A parley node without --plain opens with a binary handshake: tell it in words it can report,
      // and say so here once per host instead of printing noise on every redial.
      record.link.write(new platform.TextEncoder().encode(NOT_SECURE_REPLY))
      const source = record.source ?? record.link.source ?? record.link.remoteAddress
      if (!this.warnedSources.has(source)) {
        this.warnedSources.add(source)
        this.emit({
          type: 'link-error',
          address: record.link.remoteAddress,
          code: 'NOT_PLAIN',
          message: `peer at ${record.link.remoteAddress} is not sending plain text (is it a parley node running without --plain?)`,
        })
      }
      this.drop(record, 'not plain text', false, true)
      return
    }
    const text = record.decoder.decode(chunk, { stream: true })
    record.partial += text
    const lines = record.partial.split('\n')
    record.partial = lines.pop() ?? ''
    // What is left of the line still coming: all of this chunk's text when it ended no line, else a piece of it.
    record.partialBytes =
      lines.length === 0 ? record.partialBytes + utf8Length(text) : utf8Length(record.partial)
    if (record.heldAnswer !== undefined) {
      // More came after the answer: a person typed it. It shows, with what follows.
      lines.unshift(record.heldAnswer)
      record.heldAnswer = undefined
    } else if (record.slot && record.nextSeq === 1 && lines[0] === ENCRYPTED_NODE_LINE) {
      // Only from an address this node dialed, and only if the link then closes with nothing more: a
      // netcat user who types these words to us, or at a listener we dial, is not taken for one.
      record.heldAnswer = lines.shift()
      if (lines.length === 0 && record.partial === '') return
      lines.unshift(record.heldAnswer as string)
      record.heldAnswer = undefined
    }
    // A line past the bound is taken in parts of at most `maxLine` bytes, each but its last saying that the
    // line goes on (`more`), as parley sends a line longer than a message: never held whole, shown as one line.
    let from = 0
    for (let i = 0; i < lines.length; i++) {
      let line = lines[i] as string
      if (line.charCodeAt(line.length - 1) === 0x0d) line = lines[i] = line.slice(0, -1)
      if (!this.pastBound(line)) continue
      if (i > from) this.receive(record, lines.slice(from, i))
      this.receive(record, [this.receiveParts(record, line)])
      from = i + 1
    }
    if (from < lines.length) this.receive(record, from === 0 ? lines : lines.slice(from))
    // A line still coming: its parts past the bound go now, the rest waits for more of it.
    if (record.partialBytes > this.maxLine) {
      record.partial = this.receiveParts(record, record.partial)
      record.partialBytes = utf8Length(record.partial)
    }
  }

  /** Whether `text` takes more than `maxLine` bytes in UTF-8; counted only when its length leaves it open. */
  private pastBound(text: string): boolean {
    // A UTF-16 unit takes one to three bytes (a pair, two units, four).
    if (text.length * 3 <= this.maxLine) return false
    return text.length > this.maxLine || utf8Length(text) > this.maxLine
  }

  /**
   * Takes `text` in parts of at most `maxLine` bytes (UTF-8), each a message that says its line goes on;
   * returns what is left (at most `maxLine` bytes). A part never ends inside a character (nor between the
   * halves of a surrogate pair), nor on a carriage return that a newline may follow.
   */
  private receiveParts(record: PlainLink, text: string): string {
    let start = 0
    let left = utf8Length(text)
    while (left > this.maxLine) {
      let end = utf8End(text, start, this.maxLine)
      // A bound smaller than one character still takes a character a part.
      if (end === start) end = start + (utf8Length(text, start, start + 2) === 4 ? 2 : 1)
      else if (end - 1 > start && text.charCodeAt(end - 1) === 0x0d) end--
      left -= utf8Length(text, start, end)
      this.receivePart(record, text.slice(start, end))
      start = end
    }
    return text.slice(start)
  }

  /** One part of a line longer than `maxLine`: a message whose line goes on in the next (`more`). */
  private receivePart(record: PlainLink, body: string): void {
    const seq = record.nextSeq++
    const ts = this.clock.now()
    const { idPrefix, peer } = record
    const id = `${idPrefix}${seq}`
    this.historyRing.push('in', id, seq, ts, peer, body, true)
    this.emit({ type: 'message', id, seq, ts, from: peer, body, more: true })
  }

  /**
   * The peer is an encrypted parley node: it read none of the lines written to it, and never will. They
   * count as lost, and the address is no longer dialed, since every redial would lose the next lines too.
   */
  private readNothing(record: PlainLink): void {
    record.readNone = true
    if (record.firstWritten !== undefined) this.unread.push([record.firstWritten, record.lastWritten])
    const lost =
      record.writtenLines === 0
        ? ''
        : `: it read none of the ${record.writtenLines.toLocaleString('en-US')} line(s) written to it`
    this.emit({
      type: 'dial-error',
      target: record.slot?.key ?? record.link.remoteAddress,
      code: 'ENCRYPTED_PEER',
      message: `it is an encrypted parley node, which reads no plain text${lost}; run parley without --plain to talk to it`,
    })
    record.partial = ''
    record.partialBytes = 0
    // The dial goes first, so that losing its link does not start a redial; the line above said it all.
    if (record.slot) this.dialer.remove(record.slot.key, 'encrypted parley node', () => false)
    this.drop(record, 'encrypted parley node', false, true)
  }

  /** Lines written to some link that no link took: every link they went to read none of them. */
  private lostLines(): number {
    const taken = [...this.taken]
    const unread = [...this.unread]
    // A link whose answer came but not yet its close (the wait was cut short) read nothing either.
    for (const l of this.links.values())
      if (!l.readNone && l.firstWritten !== undefined)
        (l.heldAnswer === undefined ? taken : unread).push([l.firstWritten, l.lastWritten])
    return countOutside(unread, taken)
  }

  /** Lines from a link: one `lines` event (`runs`), or a `message` event each. */
  private receive(record: PlainLink, bodies: string[]): void {
    const first = record.nextSeq
    record.nextSeq += bodies.length
    const ts = this.clock.now()
    const { idPrefix, peer } = record
    this.historyRing.pushLines('in', idPrefix, first, ts, peer, bodies)
    if (this.runs) {
      this.emit({ type: 'lines', from: peer, firstSeq: first, idPrefix, ts, bodies })
      return
    }
    for (let i = 0; i < bodies.length; i++) {
      const seq = first + i
      this.emit({ type: 'message', id: `${idPrefix}${seq}`, seq, ts, from: peer, body: bodies[i] as string })
    }
  }

  /** Hands the lines sent so far to every open link; they wait for the first link while none is open. */
  private flushBatch(): void {
    if (this.batchLines === 0) return
    const run: LineRun = {
      text: this.batch.length === 1 ? (this.batch[0] as string) : this.batch.join(''),
      firstSeq: this.batchFirstSeq,
      count: this.batchLines,
    }
    this.batch = []
    this.batchLines = 0
    this.batchChars = 0
    if (this.closed) return
    if (this.openLinks().length > 0) this.transmit(run)
    else {
      this.queue.push(run)
      this.queuedLines += run.count
    }
  }

  private transmit(run: LineRun): void {
    const written: WrittenLines = {
      bytes: this.encoder.encode(run.text),
      firstSeq: run.firstSeq,
      count: run.count,
    }
    for (const l of this.openLinks()) {
      if (l.blocked) {
        l.waiting.push(written)
        l.waitingLines += written.count
      } else this.writeLines(l, written)
    }
  }

  private writeLines(l: PlainLink, written: WrittenLines): void {
    if (!l.link.write(written.bytes)) l.blocked = true
    l.writtenLines += written.count
    const last = written.firstSeq + written.count - 1
    l.firstWritten ??= written.firstSeq
    l.lastWritten = last
    const first = this.runs ? last : written.firstSeq
    for (let seq = first; seq <= last; seq++)
      this.emit({ type: 'delivered', id: sentId(seq), seq, to: l.peer })
  }

  private onDrain(l: PlainLink): void {
    l.blocked = false
    while (!l.blocked && l.waiting.length > 0) {
      const written = l.waiting.shift()!
      l.waitingLines -= written.count
      this.writeLines(l, written)
    }
  }

  private drop(record: PlainLink, reason: string, remote: boolean, quiet = false): void {
    if (!record.open) return
    if (record.heldAnswer !== undefined && remote) {
      // The answer, then the close, and nothing else: an encrypted parley node.
      record.heldAnswer = undefined
      this.readNothing(record)
      return
    }
    record.open = false
    this.links.delete(record.id)
    this.table.delete(record.id)
    if (!record.readNone && record.firstWritten !== undefined)
      this.taken.push([record.firstWritten, record.lastWritten])
    if (remote) record.link.destroy()
    else record.link.end()
    if (record.partial.length > 0 && remote) this.receive(record, [record.partial])
    // A link ended by `finishSending` closes as asked: nothing to say, and nothing to redial.
    if (!quiet && !record.finishing) {
      const why = remote ? `${record.peer.name} closed the link` : reason
      this.emit({ type: 'disconnected', peer: record.peer, reason: why })
    }
    if (record.finishing) {
      this.finishing?.()
      return
    }
    // Ended by this node's own close: its slots go from connected to closing, never through reconnecting.
    if (this.openLinks().length > 0 || this.closed) return
    for (const slot of this.dialer.slots.values()) {
      if (slot.state.status !== 'connected') continue
      const lastedMs = this.clock.now() - this.connectedSince
      this.step(slot, {
        type: 'session-lost',
        link: slot.state.link,
        reason,
        lastedMs,
        random: this.random(),
      })
    }
  }

  private step(slot: DialSlot, event: PeerEvent): void {
    this.dialer.step(slot, event)
  }

  private emit(event: NodeEvent): void {
    // The list in hand when the event began: one added or removed by a listener counts from the next event.
    for (const listener of this.listenerList) listener(event)
  }
}

/**
 * True when the bytes cannot be text: a NUL among the first 64. A secure parley node opens with a
 * length in three little-endian bytes (`20 00 00`), a framed one with four big-endian bytes (`00 00 …`);
 * a person at a terminal never types a NUL, though they may send a bell or another control character,
 * which is shown (`^G`) like the rest.
 */
function looksBinary(bytes: Uint8Array): boolean {
  return bytes.subarray(0, 64).includes(0)
}

/** How many seqs in the runs of `ranges` are in none of `cover` (both inclusive `[first, last]` runs). */
function countOutside(ranges: readonly [number, number][], cover: readonly [number, number][]): number {
  const seen = new Set<number>()
  for (const [first, last] of ranges)
    for (let seq = first; seq <= last; seq++) if (!cover.some(([a, b]) => seq >= a && seq <= b)) seen.add(seq)
  return seen.size
}
