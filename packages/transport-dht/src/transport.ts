/// <reference path="./types/hyper.d.ts" />
import { type DialOptions, untilAborted } from '@parley/core'
import type HyperDHT from 'hyperdht'
import type Hyperswarm from 'hyperswarm'
import {
  ADMISSION_BYTES,
  type Admission,
  decodeAdmission,
  encodeAdmission,
  Purpose,
  proofMatches,
  roomProof,
} from './admission.js'
import { ANNOUNCE_CHECK_MS, announcedNowhere } from './announcement.js'
import { type BootstrapNode, chooseBootstrap } from './bootstrap.js'
import { DHT } from './commonjs.js'
import { DhtError, describe, dialError, isHolepunchFailure, shortKey } from './errors.js'
import { type KeyPair, parsePublicKey, toDhtKeyPair, toHex } from './keys.js'
import { DhtLink, type LinkPath, type LinkPurpose } from './link.js'
import { type LookupResult, LookupSchedule } from './lookups.js'
import { openRoom, type Room } from './room-code.js'
import { RoomSwarm } from './swarm.js'

export interface DhtTransportOptions {
  /** The node's identity: its ed25519 key pair is also its DHT key pair, so its key is its address. */
  keyPair: KeyPair
  /** Bootstrap nodes of the DHT to use. Without them the public HyperDHT nodes are used, unless the guard is on. */
  bootstrap?: readonly BootstrapNode[]
  /** A blind relay's public key (hex), used when holepunching fails or this node's NAT is randomized. */
  relayThrough?: string
  /** Set false on a host known to be reachable from anywhere (it then skips holepunching). Default: probed;
   * false on a loopback DHT (every bootstrap node on 127.0.0.0/8), where nothing stands in the way. */
  firewalled?: boolean
  /** The address to bind the UDP socket to. Default: 127.0.0.1 on a loopback DHT, else every interface. */
  host?: string
  /** The UDP port to bind. Default: any free port. */
  port?: number
  /** Least time between two randomized-NAT punches (HyperDHT's default is 20 s; tests that repeat lower it). */
  randomPunchIntervalMs?: number
  /** Dial deadline when `dial` is given no `timeoutMs` (per attempt: direct, then relayed). Default 30 000 ms; `Infinity` waits. */
  dialTimeoutMs?: number
  /** How long a new connection may take to say what it is for before it is dropped. Default 10 000 ms. */
  admissionTimeoutMs?: number
  /** Where the guard looks for PARLEY_DHT_PRIVATE_ONLY. Default: `process.env`. */
  env?: Readonly<Record<string, string | undefined>>
  /**
   * Stops the start when aborted: the DHT is let go at once and `startDhtTransport` rejects with ABORTED,
   * however long the bootstrap nodes would have taken to answer (or not).
   */
  signal?: AbortSignal
  /** Every link made by a dial, accepted by key, or found in a room. */
  onLink(link: DhtLink): void
  /** Inbound connections refused (no proof, or dialed by key while not listening). Default: ignored. */
  onRefused?(error: DhtError, remoteKey: string): void
}

/** A room this node joined, and how many members it found there on joining. */
export interface JoinedRoom extends Room {
  /** Members this node connected to while joining; 0 with `settled` means nobody else is in the room yet. */
  membersFound: number
  /**
   * Every dial to a member found on joining ended within the join's wait. False when some were still
   * going (a member that left recently is still announced): members that connect later join as usual, and
   * `membersFound` 0 then says nothing.
   */
  settled: boolean
}

/** What the DHT tells this node about its own network position. */
export interface DhtNetworkInfo {
  /** This node's address as the DHT sees it, when its NAT keeps one port (undefined behind some NATs). */
  publicAddress: { host: string; port: number } | undefined
  firewalled: boolean
  /** The NAT gives each destination a new port: holepunching then needs luck or a relay. */
  randomized: boolean
}

const DEFAULT_DIAL_TIMEOUT_MS = 30_000
const MAX_TIMER_MS = 2 ** 31 - 1
const DEFAULT_ADMISSION_TIMEOUT_MS = 10_000
/** Connections still in admission at once; more are dropped, so a flood cannot make the node hold more. */
const MAX_PENDING_ADMISSIONS = 64
/** The largest first record accepted while waiting for an admission (an admission is 34 bytes). */
const MAX_FIRST_RECORD_BYTES = 64 * 1024
/**
 * A room is looked up again this soon after joining, after this node's announcement on it is stored at last
 * (it failed before), and after a link to a member is lost, then twice as late each time, up to the last
 * delay. A lookup that failed is tried again this soon too, then twice as late each time up to
 * LAST_RETRY_MS: until one succeeds, nobody who joins can find this node.
 */
const FIRST_LOOKUP_AGAIN_MS = 1_000
/**
 * A join waits this long at most for its dials to the members it found. A member that left recently is
 * still announced for a while, and the dial to it runs to its timeout (8 s here): the start waited for
 * that. Live members on loopback and in the NAT lab connect well within it (50-1,200 ms).
 */
const JOIN_WAIT_MS = 2_000
const LAST_LOOKUP_AGAIN_MS = 60_000
/**
 * Lookups that fail (no DHT node answered; a network that is gone) are tried at least this often: a failed
 * one costs the DHT little, and a member that joins meanwhile is met at most this long after the DHT answers
 * this node again.
 */
const LAST_RETRY_MS = 8_000
/** Relays this node remembers by address; a peer may name any relay, so the map is bounded. */
const MAX_KNOWN_RELAYS = 64
/** Keys remembered as linked directly in this run (for the silent-path hint); bounded like the relays. */
const MAX_DIRECT_KEYS = 1_024

/** How often a bootstrap node that stopped answering is asked whether it is back. */
const SILENT_BOOTSTRAP_RECHECK_MS = 30_000

/**
 * HyperDHT connects to a blind relay through its own `connect(key)` with no options; noting the address of
 * each such connection tells a link whether its UDP path leads to a relay or to the peer.
 *
 * While the routing table is small, as on any private DHT of fewer than 20 nodes, every lookup and
 * announce also asks each bootstrap node, and ends only once each one answered or timed out: one bootstrap
 * node down made each of them take 6 s more. A bootstrap node whose request timed out is left out of them,
 * while one answers, until it answers a ping again.
 */
class RelayAwareDHT extends DHT {
  readonly relays = new Map<string, string>()
  /** Bootstrap nodes as resolved (`host:port`), and per silent one the timer that pings it. */
  readonly #bootstrapAddresses = new Set<string>()
  readonly #silentBootstrap = new Map<string, NodeJS.Timeout>()

  protected override async *_resolveBootstrapNodes(): AsyncGenerator<HyperDHT.HostPort & { id: Buffer }> {
    const all: (HyperDHT.HostPort & { id: Buffer })[] = []
    for await (const node of super._resolveBootstrapNodes()) {
      this.#bootstrapAddresses.add(`${node.host}:${node.port}`)
      all.push(node)
    }
    const answering = all.filter((node) => !this.#silentBootstrap.has(`${node.host}:${node.port}`))
    yield* answering.length > 0 ? answering : all
  }

  protected override _ontimeout(request: { to: HyperDHT.HostPort }): void {
    super._ontimeout(request)
    const { host, port } = request.to
    const address = `${host}:${port}`
    if (this.destroyed || !this.#bootstrapAddresses.has(address) || this.#silentBootstrap.has(address)) return
    const recheck = setInterval(() => {
      if (!this.destroyed) this.ping({ host, port }).catch(() => {})
    }, SILENT_BOOTSTRAP_RECHECK_MS)
    recheck.unref()
    this.#silentBootstrap.set(address, recheck)
  }

  protected override _onresponse(response: { from: HyperDHT.HostPort }, external: boolean): void {
    super._onresponse(response, external)
    const address = `${response.from.host}:${response.from.port}`
    clearInterval(this.#silentBootstrap.get(address))
    this.#silentBootstrap.delete(address)
  }

  override destroy(options?: { force?: boolean }): Promise<void> {
    for (const recheck of this.#silentBootstrap.values()) clearInterval(recheck)
    this.#silentBootstrap.clear()
    return super.destroy(options)
  }

  override connect(remotePublicKey: Buffer, options?: HyperDHT.ConnectOptions): HyperDHT.SecretStream {
    const socket = super.connect(remotePublicKey, options)
    if (options === undefined) socket.once('open', () => this.#remember(socket, toHex(remotePublicKey)))
    return socket
  }

  #remember(socket: HyperDHT.SecretStream, key: string): void {
    const raw = socket.rawStream
    if (raw?.remoteHost == null) return
    if (this.relays.size >= MAX_KNOWN_RELAYS) this.relays.delete(this.relays.keys().next().value as string)
    this.relays.set(`${raw.remoteHost}:${raw.remotePort}`, key)
  }
}

/**
 * Starts a node on the DHT: binds its UDP socket, bootstraps and checks that the DHT answered.
 * Throws PUBLIC_BOOTSTRAP_REFUSED (guard on, no bootstrap) or BOOTSTRAP_UNREACHABLE.
 * @example
 * const dht = await startDhtTransport({ keyPair: identity, bootstrap: [{ host: '198.51.100.10', port: 49737 }], onLink })
 * await dht.listen()                  // others can now dial this node by its key
 * const link = await dht.dial(peerKey) // link.remoteKey === peerKey
 */
export async function startDhtTransport(options: DhtTransportOptions): Promise<DhtTransport> {
  const bootstrap = chooseBootstrap(options.bootstrap, options.env)
  const keyPair = toDhtKeyPair(options.keyPair)
  if (options.relayThrough !== undefined) parsePublicKey(options.relayThrough)
  // A DHT whose bootstrap nodes are all on loopback lives on this machine only: bind there, and skip the
  // firewall probe, which cannot tell loopback apart from a NAT and then punches where nothing is in the way
  // (and sometimes fails to).
  const loopbackOnly = bootstrap?.every(isLoopback) === true
  const host = options.host ?? (loopbackOnly ? '127.0.0.1' : undefined)
  const firewalled = options.firewalled ?? (loopbackOnly ? false : undefined)
  const dht = new RelayAwareDHT({
    ...(bootstrap === undefined ? {} : { bootstrap }),
    keyPair,
    port: options.port ? options.port : [0, 0],
    ...(host === undefined ? {} : { host }),
    ...(firewalled === undefined ? {} : { firewalled }),
    ...(options.randomPunchIntervalMs === undefined
      ? {}
      : { randomPunchInterval: options.randomPunchIntervalMs }),
  })
  const { signal } = options
  try {
    await untilAborted(dht.ready(), signal)
  } catch (error) {
    await dht.destroy({ force: true }).catch(() => {})
    if (signal?.aborted)
      throw new DhtError('ABORTED', 'joining the DHT was cancelled', { cause: signal.reason })
    throw new DhtError('BOOTSTRAP_UNREACHABLE', `cannot join the DHT: ${describe(error)}`, { cause: error })
  }
  if (dht.nodes.length === 0) {
    await dht.destroy({ force: true }).catch(() => {})
    const where = bootstrap === undefined ? 'the public bootstrap nodes' : bootstrapList(bootstrap)
    throw new DhtError(
      'BOOTSTRAP_UNREACHABLE',
      `no bootstrap node answered (${where}); check the network, or name reachable ones with --bootstrap HOST:PORT`,
    )
  }
  return new DhtTransport(dht, keyPair, options)
}

type TransportState = { status: 'open' } | { status: 'closing'; done: Promise<void> }

/** A parley node on HyperDHT: dial by key, be dialed by key, meet in rooms. Built by `startDhtTransport`. */
export class DhtTransport {
  /** This node's public key (lowercase hex): its address on the DHT. */
  readonly publicKey: string
  #state: TransportState = { status: 'open' }
  #listening = false
  readonly #swarm: RoomSwarm
  readonly #relay: Buffer | undefined
  readonly #rooms = new Map<string, Room>()
  /** Per room topic: when it is looked up next (see `LookupSchedule`). */
  readonly #lookups = new Map<string, LookupSchedule>()
  /** Keys of peers a link reached directly (not through a relay) in this run, oldest first. */
  readonly #linkedDirectly = new Set<string>()
  /** Once listening or in a room: the check that the key is still announced (see ANNOUNCE_CHECK_MS). */
  #announceCheck: NodeJS.Timeout | undefined
  /** Per room topic: connections opened to members found on it since joining. */
  readonly #membersFound = new Map<string, number>()
  readonly #sockets = new Set<HyperDHT.SecretStream>()
  #pendingAdmissions = 0

  constructor(
    private readonly dht: RelayAwareDHT,
    private readonly keyPair: HyperDHT.KeyPair,
    private readonly options: DhtTransportOptions,
  ) {
    this.publicKey = toHex(keyPair.publicKey)
    this.#relay = options.relayThrough === undefined ? undefined : parsePublicKey(options.relayThrough)
    const relay = this.#relay
    this.#swarm = new RoomSwarm({
      dht,
      keyPair,
      // Like Hyperswarm's own default: relay when this NAT is randomized, or after a punch failed.
      relayThrough: relay === undefined ? null : (force) => (force || dht.randomized ? relay : null),
    })
    this.#swarm.on('connection', (socket, peer) => this.#onSwarmConnection(socket, peer))
  }

  /** Announces this node under its key, so that others can dial it. */
  async listen(): Promise<void> {
    this.#checkOpen()
    this.#listening = true
    await this.#swarm.listen()
    this.#watchAnnouncement()
  }

  /** From now on, checks that the key is still announced (see ANNOUNCE_CHECK_MS). */
  #watchAnnouncement(): void {
    if (this.#announceCheck !== undefined || this.#state.status !== 'open') return
    this.#announceCheck = setInterval(() => this.#keepAnnounced(), ANNOUNCE_CHECK_MS)
    this.#announceCheck.unref()
  }

  /**
   * Announces the key again when the last announce reached no DHT node (the network was gone then), instead
   * of leaving it unreachable until HyperDHT's next round, minutes later.
   */
  #keepAnnounced(): void {
    const server = this.#swarm.server
    if (this.#state.status === 'open' && announcedNowhere(server, this.dht)) server.refresh()
  }

  /** Connects to the node that announces `key` (64 hex); rejects with a DhtError (PEER_NOT_FOUND, …). */
  async dial(key: string, options: DialOptions = {}): Promise<DhtLink> {
    this.#checkOpen()
    const remote = parsePublicKey(key)
    if (remote.equals(this.keyPair.publicKey))
      throw new DhtError('BAD_KEY', 'that is this node’s own key; give the key of the node to reach')
    const deadline = options.timeoutMs ?? this.options.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS
    const relayFirst = this.#relay !== undefined && this.dht.randomized
    try {
      return await this.#dialOnce(remote, relayFirst ? this.#relay : undefined, deadline, options.signal)
    } catch (error) {
      if (error instanceof DhtError) throw error
      if (this.#relay === undefined || relayFirst || !isHolepunchFailure(error))
        throw dialError(error, relayFirst)
      try {
        return await this.#dialOnce(remote, this.#relay, deadline, options.signal)
      } catch (relayError) {
        if (relayError instanceof DhtError) throw relayError
        throw dialError(relayError, true)
      }
    }
  }

  /**
   * Joins the room a code stands for: announces this node on the room's topic and connects to every member
   * found there, now and as they arrive. Resolves once the first announce and lookup are done and the
   * members found were dialed; `membersFound` 0 means nobody else is in the room yet.
   */
  async joinRoom(code: string): Promise<JoinedRoom> {
    this.#checkOpen()
    const room = openRoom(code)
    const topic = room.topic.toString('hex')
    this.#rooms.set(topic, room)
    this.#membersFound.set(topic, 0)
    const discovery = this.#swarm.join(room.topic, { server: true, client: true })
    // False when the join's announcement stored this node nowhere: it is then tried again soon.
    const stored = await discovery.flushed()
    let timer: NodeJS.Timeout | undefined
    const settled = await Promise.race([
      this.#swarm.flush().then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), JOIN_WAIT_MS)
      }),
    ])
    clearTimeout(timer)
    this.#watchAnnouncement()
    this.#lookups.get(topic)?.stop()
    this.#lookups.set(
      topic,
      new LookupSchedule(() => this.#lookUp(topic, discovery), FIRST_LOOKUP_AGAIN_MS, LAST_LOOKUP_AGAIN_MS, {
        lastRetryMs: LAST_RETRY_MS,
        stored,
      }),
    )
    return { ...room, membersFound: this.#membersFound.get(topic) ?? 0, settled }
  }

  /** Looks a joined room up again, which announces this node on it again too (see `LookupSchedule`). */
  async #lookUp(topic: string, discovery: Hyperswarm.Discovery): Promise<LookupResult> {
    if (!this.#rooms.has(topic) || this.#state.status !== 'open') return 'stored'
    // A member that finds this node dials its key: when the key's announce reached no DHT node either, it is
    // announced again now, not at the next check.
    this.#keepAnnounced()
    const done = await discovery.refresh().catch(() => false)
    return done === false ? 'failed' : 'stored'
  }

  /** Stops announcing on and looking up the room's topic; links already made stay open. */
  async leaveRoom(code: string): Promise<void> {
    const room = openRoom(code)
    const topic = room.topic.toString('hex')
    this.#rooms.delete(topic)
    this.#membersFound.delete(topic)
    this.#lookups.get(topic)?.stop()
    this.#lookups.delete(topic)
    await this.#swarm.leave(room.topic)
  }

  /** Resolves once every lookup and connection attempt started so far has finished. */
  async flush(): Promise<void> {
    this.#checkOpen()
    await this.#swarm.flush()
  }

  /**
   * Keeps room lookups and retries from dialing `key` (hex) for `ms` (0 lifts it), then dials it again if it
   * is still in a room of this node: for a peer that turned this node away and will do so again for a while
   * (another node runs with this node's key and holds its link there). Links it opens still come in.
   */
  holdBack(key: string, ms: number): void {
    if (this.#state.status !== 'open' || !/^[0-9a-f]{64}$/i.test(key)) return
    this.#swarm.holdBack(key.toLowerCase(), ms)
  }

  /** Whether room lookups and retries hold back from dialing `key` (hex) now (see `holdBack`). */
  heldBack(key: string): boolean {
    return this.#state.status === 'open' && this.#swarm.heldBack(key)
  }

  network(): DhtNetworkInfo {
    const address = this.dht.remoteAddress()
    return {
      publicAddress: address === null ? undefined : { host: address.host, port: address.port },
      firewalled: this.dht.firewalled,
      randomized: this.dht.randomized,
    }
  }

  /** Unannounces, closes every link and releases the UDP socket. */
  close(): Promise<void> {
    if (this.#state.status === 'closing') return this.#state.done
    const done = this.#close()
    this.#state = { status: 'closing', done }
    return done
  }

  async #close(): Promise<void> {
    clearInterval(this.#announceCheck)
    for (const lookups of this.#lookups.values()) lookups.stop()
    this.#lookups.clear()
    for (const socket of this.#sockets) socket.destroy()
    // The key comes off the DHT while the rooms are left, not after every room: a peer dialing this node by
    // key next must be told nobody announces it, even when the node leaves in a hurry. `destroy` stops the
    // swarm's dialing at once, then waits for the same close of the server.
    await Promise.all([this.#swarm.server.close().catch(() => undefined), this.#swarm.destroy()])
  }

  #checkOpen(): void {
    if (this.#state.status !== 'open') throw new DhtError('CLOSED', 'the DHT transport is closed')
  }

  #dialOnce(
    remote: Buffer,
    relayThrough: Buffer | undefined,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<DhtLink> {
    // A dial's error is told after the key it was for (`cannot reach key [hctq-n5kt]: …`): "it", as in
    // `dialError`, so that one line does not name one key in two forms.
    const who = 'it'
    if (signal?.aborted) return Promise.reject(new DhtError('ABORTED', `connecting to ${who} was cancelled`))
    const socket = this.dht.connect(remote, { keyPair: this.keyPair, relayThrough: relayThrough ?? null })
    this.#track(socket)
    return new Promise<DhtLink>((resolve, reject) => {
      let settled = false
      const settle = (error: unknown, link?: DhtLink) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        socket.off('error', onError)
        socket.off('close', onClose)
        if (link) return resolve(link)
        socket.destroy()
        reject(error)
      }
      const onError = (error: unknown) => settle(error)
      const onClose = () =>
        settle(new DhtError('CONNECTION_FAILED', `${who} closed the connection while it was set up`))
      const onAbort = () =>
        settle(new DhtError('ABORTED', `connecting to ${who} was cancelled`, { cause: signal?.reason }))
      const onTimeout = () =>
        settle(
          new DhtError(
            'TIMEOUT',
            `${who} did not answer within ${timeoutMs} ms; check that it is running with --dht`,
          ),
        )
      // setTimeout fires at once for delays it cannot represent, so those mean "no deadline".
      const timer = timeoutMs <= MAX_TIMER_MS ? setTimeout(onTimeout, Math.max(0, timeoutMs)) : undefined
      socket.on('error', onError)
      socket.on('close', onClose)
      signal?.addEventListener('abort', onAbort, { once: true })
      socket.once('open', () => {
        this.#admitAsClient(socket, { kind: 'key' }).then(
          (link) => settle(undefined, link),
          (error) => settle(error),
        )
      })
    })
  }

  #onSwarmConnection(socket: HyperDHT.SecretStream, peer: Hyperswarm.PeerInfo): void {
    // One that opens while the transport closes is not handed on as a link.
    if (this.#state.status !== 'open') {
      socket.destroy()
      return
    }
    this.#track(socket)
    if (!peer.client) {
      this.#admitAsServer(socket)
      return
    }
    const room = peer.topics
      .map((topic) => this.#rooms.get(topic.toString('hex')))
      .find((r) => r !== undefined)
    if (room === undefined) {
      socket.destroy()
      return
    }
    const topic = room.topic.toString('hex')
    this.#membersFound.set(topic, (this.#membersFound.get(topic) ?? 0) + 1)
    this.#admitAsClient(socket, { kind: 'room', code: room.code }).then(
      (link) => this.options.onLink(link),
      () => socket.destroy(),
    )
  }

  async #admitAsClient(socket: HyperDHT.SecretStream, purpose: LinkPurpose): Promise<DhtLink> {
    const room = purpose.kind === 'room' ? openRoom(purpose.code) : undefined
    const hash = handshakeHash(socket)
    socket.write(
      room === undefined
        ? encodeAdmission(Purpose.KEY)
        : encodeAdmission(Purpose.ROOM, roomProof(room.proofKey, hash, 'CLIENT')),
    )
    const { admission, rest } = await this.#readAdmission(socket)
    const expected = room === undefined ? Purpose.KEY : Purpose.ROOM
    const proven =
      admission.purpose === expected &&
      (room === undefined || proofMatches(roomProof(room.proofKey, hash, 'SERVER'), admission.proof))
    if (!proven) {
      socket.destroy()
      throw new DhtError(
        'REFUSED',
        `${shortKey(toHex(socket.remotePublicKey))} did not prove it is in the room`,
      )
    }
    return this.#linkOf(socket, 'outbound', purpose, rest)
  }

  #linkOf(
    socket: HyperDHT.SecretStream,
    direction: 'inbound' | 'outbound',
    purpose: LinkPurpose,
    rest: Uint8Array[],
  ): DhtLink {
    const link = new DhtLink(socket, direction, purpose, (host, port) => this.#path(host, port), rest)
    if (link.path.kind === 'holepunched') {
      this.#linkedDirectly.delete(link.remoteKey)
      if (this.#linkedDirectly.size >= MAX_DIRECT_KEYS)
        this.#linkedDirectly.delete(this.#linkedDirectly.values().next().value as string)
      this.#linkedDirectly.add(link.remoteKey)
    }
    if (purpose.kind === 'room') socket.once('close', () => this.#roomLinkLost(purpose.code, link.remoteKey))
    return link
  }

  /**
   * A link to a room member closed: unless another link to it is still open (one of two that crossed), or
   * it is held back, the room is looked up again soon, where the member may be back at another address.
   */
  #roomLinkLost(code: string, remoteKey: string): void {
    if (this.#state.status !== 'open' || this.#swarm.heldBack(remoteKey)) return
    for (const socket of this.#sockets)
      if (!socket.destroyed && toHex(socket.remotePublicKey) === remoteKey) return
    this.#lookups.get(openRoom(code).topic.toString('hex'))?.restart()
  }

  #admitAsServer(socket: HyperDHT.SecretStream): void {
    if (this.#pendingAdmissions >= MAX_PENDING_ADMISSIONS) {
      socket.destroy()
      return
    }
    this.#pendingAdmissions++
    const remoteKey = toHex(socket.remotePublicKey)
    this.#readAdmission(socket)
      .then(({ admission, rest }) => {
        const purpose = this.#accept(admission, handshakeHash(socket))
        if (purpose === undefined) {
          const why =
            admission.purpose === Purpose.KEY
              ? 'dialed this node by key, but it does not accept dials (it is not listening with --dht)'
              : 'tried to join a room without proving it knows the room code'
          this.options.onRefused?.(new DhtError('REFUSED', `${shortKey(remoteKey)} ${why}`), remoteKey)
          socket.destroy()
          return
        }
        const room = purpose.kind === 'room' ? openRoom(purpose.code) : undefined
        socket.write(
          room === undefined
            ? encodeAdmission(Purpose.KEY)
            : encodeAdmission(Purpose.ROOM, roomProof(room.proofKey, handshakeHash(socket), 'SERVER')),
        )
        this.options.onLink(this.#linkOf(socket, 'inbound', purpose, rest))
      })
      .catch((error: unknown) => {
        if (error instanceof DhtError && error.code === 'REFUSED') this.options.onRefused?.(error, remoteKey)
        socket.destroy()
      })
      .finally(() => this.#pendingAdmissions--)
  }

  #accept(admission: Admission, hash: Buffer): LinkPurpose | undefined {
    if (admission.purpose === Purpose.KEY) return this.#listening ? { kind: 'key' } : undefined
    for (const room of this.#rooms.values()) {
      if (proofMatches(roomProof(room.proofKey, hash, 'CLIENT'), admission.proof))
        return { kind: 'room', code: room.code }
    }
    return undefined
  }

  /** The remote's first record(s) up to the admission's size; bytes after it belong to the link. */
  #readAdmission(socket: HyperDHT.SecretStream): Promise<{ admission: Admission; rest: Uint8Array[] }> {
    const timeoutMs = this.options.admissionTimeoutMs ?? DEFAULT_ADMISSION_TIMEOUT_MS
    // A dial's error follows the key it was for (see `#dialOnce`); an inbound one names the key.
    const who = socket.isInitiator ? 'it' : shortKey(toHex(socket.remotePublicKey))
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = []
      let size = 0
      const finish = (error?: DhtError) => {
        clearTimeout(timer)
        socket.off('data', onData)
        socket.off('close', onClose)
        socket.pause()
        if (error) return reject(error)
        const all = Buffer.concat(chunks, size)
        const admission = decodeAdmission(all.subarray(0, ADMISSION_BYTES))
        if (admission === undefined)
          return reject(new DhtError('REFUSED', `${who} does not speak parley's DHT admission`))
        resolve({ admission, rest: size > ADMISSION_BYTES ? [all.subarray(ADMISSION_BYTES)] : [] })
      }
      const onData = (chunk: Buffer) => {
        // The admission is a record of its own; a first record far larger than it is not one of ours, and
        // is dropped rather than held.
        if (chunk.byteLength > MAX_FIRST_RECORD_BYTES)
          return finish(
            new DhtError(
              'REFUSED',
              `${who} sent ${chunk.byteLength} bytes before saying what the connection is for`,
            ),
          )
        chunks.push(chunk)
        size += chunk.byteLength
        if (size >= ADMISSION_BYTES) finish()
      }
      const onClose = () =>
        finish(new DhtError('CONNECTION_FAILED', `${who} closed the connection while it was set up`))
      // A client's connection opens as soon as the handshake relayed over the DHT is done, before any
      // packet has crossed the path: silence here usually means the UDP path does not work.
      // A peer that a link reached directly earlier in this run is more likely away for now than behind a
      // firewall: a relay is not what it needs.
      const silence = !socket.isInitiator
        ? `${who} did not say what the connection is for within ${timeoutMs} ms`
        : this.#linkedDirectly.has(toHex(socket.remotePublicKey))
          ? `no data came through from ${who} within ${timeoutMs} ms; it was reachable directly earlier in this run, and parley keeps trying`
          : `no data came through from ${who} within ${timeoutMs} ms; a firewall may block the UDP path (a relay may help: --relay KEY)`
      const timer = setTimeout(() => finish(new DhtError('TIMEOUT', silence)), timeoutMs)
      socket.on('data', onData)
      socket.on('close', onClose)
      socket.resume()
    })
  }

  #path(host: string, port: number): LinkPath {
    const relayKey = this.dht.relays.get(`${host}:${port}`)
    return relayKey === undefined
      ? { kind: 'holepunched', remoteHost: host, remotePort: port }
      : { kind: 'relayed', relayKey, relayHost: host, relayPort: port }
  }

  #track(socket: HyperDHT.SecretStream): void {
    this.#sockets.add(socket)
    // Errors reach whoever holds the socket (a dial, an admission, a link) through 'close'; without a
    // listener a late one would crash the process.
    socket.on('error', () => {})
    socket.once('close', () => this.#sockets.delete(socket))
  }
}

function handshakeHash(socket: HyperDHT.SecretStream): Buffer {
  if (socket.handshakeHash === null)
    throw new DhtError('CONNECTION_FAILED', 'the connection has no handshake yet')
  return socket.handshakeHash
}

function isLoopback(node: BootstrapNode): boolean {
  return /^127\./.test(node.host) || node.host === '::1' || node.host === 'localhost'
}

function bootstrapList(nodes: readonly BootstrapNode[]): string {
  return nodes.map((node) => `${node.host}:${node.port}`).join(', ')
}
