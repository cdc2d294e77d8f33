import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
/**
 * Turns parsed flags into a running node: the data dir (locked), the identity key, the trust settings,
 * the secure transport over TCP, and the journal that makes the outbox and history durable.
 * Every failure becomes a FatalError with its own exit code and a one-line reason.
 */
import {
  type Address,
  type ChatNode,
  JournalError,
  type JournalRecord,
  JournalStartup,
  journalOrigin,
  journalRecordsJson,
  type NodeEvent,
  type NodeOptions,
  ParleyNode,
  type PeerInfo,
  PlainNode,
  restore,
  skimFrame,
  TransportError,
  untilAborted,
} from '@parley/core'
// The handshake and its native crypto load only for a secure node: `--plain` starts without them.
import type { Identity, Verify } from '@parley/secure'
import {
  decodeInvite,
  fingerprint,
  IdentityError,
  InviteError,
  isInvite,
  KeyFormatError,
  keyOfAddress,
  parseKeyOrFingerprint,
  TrustFileError,
} from '@parley/secure/keys'
import {
  AppendLog,
  type DataDir,
  DataDirError,
  defaultDataDir,
  diskTrouble,
  type FramePosition,
  LogError,
  openDataDir,
  systemCode,
} from '@parley/store'
import type { BootstrapNode } from '@parley/transport-dht/addresses'
import { dataDirFailure, journalWriteText } from './data-dir-failure.js'
import {
  decideRooms,
  ROOMS_FILE,
  type RoomRecord,
  readRoomRecord,
  refusalText,
  roomHash,
  writeRoomRecord,
} from './data-dir-rooms.js'
import { bootstrapList, DhtNetwork, type LinkRoute } from './dht.js'
import { countText } from './display.js'
import { DISPLAY_MARKS_FILE, DisplayMarks } from './display-marks.js'
import { EventLog } from './event-log.js'
import { ExitCode, FatalError } from './exit-codes.js'
import { DEFAULT_LISTEN, type Flags } from './flags.js'
import { endProgram } from './program.js'
import { parseAddress, routedTransport, TRANSPORT_KINDS, verifiedTransport } from './transports.js'

export const JOURNAL_FILE = 'journal.log'
export const LOG_FILE = 'parley.log'
/**
 * A journal found this large at start-up is written compacted as the node starts, and while the node runs
 * it is compacted once this large and 4 times its size after the last compaction (override with
 * `PARLEY_COMPACT_BYTES`). Each compaction reads back and replays the whole file, so a compaction per few
 * MiB cost a flood of durable messages a fifth of its throughput; at 16 MiB a burst of 50,000 messages
 * compacts at most once, and the disk a journal takes stays small.
 */
export const COMPACT_JOURNAL_BYTES = 16 * 1024 * 1024

/**
 * The one-line notes a frontend shows once a node has started: a waiting outbox, notices. (A long journal
 * is written compacted as the node starts: the `journal-compacted` event says so.)
 */
export function startupNotes(started: StartedNode, options: { rooms?: boolean } = {}): string[] {
  const notes: string[] = []
  if (started.restoredPending > 0)
    notes.push(
      `${countText(started.restoredPending)} message(s) from an earlier run wait in the outbox; they go to the room, to whichever peer this node links with first`,
    )
  notes.push(...started.notices)
  if (options.rooms ?? true)
    for (const code of started.emptyRooms)
      notes.push(`nobody else is in room ${code} yet; waiting for others to join with the same code`)
  return notes
}

/** A started node and what frontends show about it. */
export interface StartedNode {
  readonly node: ChatNode
  /** False in --plain mode: frontends must say that nothing is encrypted. */
  readonly secure: boolean
  readonly dataDir?: string
  /** This node's fingerprint (secure mode). */
  readonly fingerprint?: { full: string; short: string }
  /** Messages (lines) that were waiting in the outbox from an earlier run. */
  readonly restoredPending: number
  /**
   * True when the journal held nothing at start (a new data dir, or one used only by `parley id`): this
   * node never sent or received a message before this run, so what it catches up on was sent before it
   * joined, not while it was away. False in plain mode, which keeps no journal.
   */
  readonly firstRun: boolean
  /**
   * Records how far each sender's messages have been shown. Call it right after writing them: messages
   * journaled but never marked are shown again on the next start, so a crash costs at most what lay
   * between the write and the mark. Returns false when the mark could not be written (the data dir
   * failed, see `failed`): show nothing more, or the next start would show it again. `insideLine`: the
   * write left the output inside a line (a part of a long line); called with no marks, it says only that.
   */
  readonly markShown: (shown: ReadonlyMap<string, number>, insideLine?: boolean) => boolean
  /**
   * The output (`FrontendOptions.lineOutput`, not a regular file) is the pipe the last run's last write left
   * inside a line, as the marks say: the first write must end that line.
   */
  readonly leftInsideLine?: true
  /**
   * Call it right before writing lines whose marks are `shown` (then `markShown`). With the output a
   * regular file (`FrontendOptions.lineOutput`), it announces the write in the marks file, so that a kill
   * between the write and its mark does not show it again at the next start. Returns false when the
   * announcement could not be written: write nothing then, as when `markShown` fails. Absent in plain mode.
   */
  readonly intendShown?: (shown: ReadonlyMap<string, number>, text: string) => boolean
  /** False when `markShown` records nothing (plain mode keeps no journal): nothing is ever shown again. */
  readonly keepsMarks: boolean
  /**
   * Why the node stopped, once a write to its data dir failed while it ran (a full disk, a used-up quota,
   * a file system turned read-only, a failing disk); undefined until then. From then on nothing more is
   * shown: it could not be marked as shown.
   */
  readonly failure: () => FatalError | undefined
  /**
   * Resolves with that failure (exit DATA_DIR, one line) once the node has stopped on it (a `bye` to its
   * peers) and its files are closed; never otherwise. Under `runProgram` the program then ends on it by
   * itself, with that line and exit code, whatever `main` does meanwhile.
   */
  readonly failed: Promise<FatalError>
  /** Things worth one info line that are not problems, such as a stale lock taken over after a crash. */
  readonly notices: readonly string[]
  /** Keys (hex) the node dials on the DHT whose last dial found no node announcing them. */
  readonly missingKeys: () => string[]
  /** Room codes (`--room`) where nobody else was yet when this node joined (`startupNotes` says so). */
  readonly emptyRooms: readonly string[]
  /**
   * Settles once the node has closed and so have its files, and its data dir is released: only then can
   * the same data dir be opened again in this process.
   */
  readonly stopped: Promise<void>
}

/** How long a stopping node waits for its files and the DHT to close before the process leaves anyway. */
export const STOP_CEILING_MS = 3_000

/**
 * Closes the node (each peer is told `bye` with `reason`), then waits for its files and its network to close,
 * up to `ceilingMs`: on the DHT that takes this node's key and rooms off the DHT, so whoever dials it next is
 * told at once that nobody announces it, not left trying a node that is gone. A frontend calls it before
 * the process exits.
 */
export async function stopNode(
  started: StartedNode,
  reason: string,
  ceilingMs = STOP_CEILING_MS,
): Promise<void> {
  await started.node.close(reason)
  await settledWithin(started.stopped, ceilingMs)
}

/**
 * Waits for `promise` to settle, or `ms` at most. The timer holds the process open meanwhile: a frontend
 * that awaits this before it returns its exit code must not have the process end under it with none.
 */
function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms)
    const done = () => {
      clearTimeout(timer)
      resolve()
    }
    promise.then(done, done)
  })
}

/** Where the node writes its structured log: `--log-file`, else DATA_DIR/parley.log (none in plain mode). */
export function logFileOf(flags: Flags, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (flags.logFile) return flags.logFile
  return flags.plain ? undefined : join(dataDirOf(flags, env), LOG_FILE)
}

/** Where a node keeps its files: `--data-dir`, else `$XDG_DATA_HOME/parley` or `~/.local/share/parley`. */
export function dataDirOf(flags: Flags, env: NodeJS.ProcessEnv = process.env): string {
  return flags.dataDir ?? defaultDataDir(env)
}

/** What a frontend can take from the node beyond the flags. */
export interface FrontendOptions {
  /**
   * The frontend handles `lines` events and wants one `delivered` per write (see `PlainNodeOptions.runs`):
   * a plain node then hands over each read of lines, and confirms each write, at once; a secure node the
   * lines each message carried (`NodeOptions.runs`).
   */
  readonly runs?: boolean
  /**
   * The descriptor a line frontend shows messages on (the CLI's stdout, 1). When it is a regular file,
   * a write that a kill parts from its display mark is found there at the next start instead of being
   * shown again (see `StartedNode.intendShown`).
   */
  readonly lineOutput?: number
  /**
   * Called once the node is built, before it listens, with the node and its display marks
   * (`MessageDisplay.bind` takes them): what arrives while the start goes on, such as a DHT join of a few
   * seconds, is then told with this node known (a peer using its name is told as such) and announced and
   * marked as anything later is, so that a kill meanwhile shows none of it again. The same fields are on
   * the `StartedNode`.
   */
  readonly onBuilt?: (built: BuiltNode) => void
  /**
   * Stops the start when aborted (the user's Ctrl-C or SIGTERM): a DHT join, which waits for bootstrap
   * nodes that may never answer, is given up at once, the node closed as on any quit (what waits in the
   * outbox stays there), and `startNode` rejects with `StartInterrupted`.
   */
  readonly signal?: AbortSignal
  /**
   * A line to show while the start goes on, when a step of it takes more than a moment: `joining the DHT
   * (bootstrap …)…`, once, after JOINING_NOTE_MS of a DHT join.
   */
  readonly onProgress?: (text: string) => void
}

/** A DHT join still going after this long is said once (`FrontendOptions.onProgress`). */
export const JOINING_NOTE_MS = 500

/**
 * The start was stopped by the user (`FrontendOptions.signal`) before it was done: a quit like any other,
 * exit 0. Its message says where the start was, and what waits in the outbox.
 */
export class StartInterrupted extends FatalError {
  override name = 'StartInterrupted'
  constructor(message: string) {
    super(ExitCode.OK, message)
  }
}

/** The node `startNode` is starting, and what a display needs to record what it showed (see `StartedNode`). */
export type BuiltNode = Pick<
  StartedNode,
  'node' | 'markShown' | 'intendShown' | 'keepsMarks' | 'failure' | 'firstRun' | 'leftInsideLine'
>

/**
 * Loads the encryption stack (`@parley/secure`, libsodium and the Noise libraries) that `startNode` loads on
 * demand for a secure node, without starting anything: a frontend that knows a start is coming and has a
 * CPU to spare meanwhile (the TUI's node thread, while the screen's thread loads its own modules) calls it
 * first, and the start then finds it loaded. Never rejects: a failure to load is `startNode`'s to report.
 */
export function preloadSecureStack(): Promise<void> {
  return import('@parley/secure').then(
    () => undefined,
    () => undefined,
  )
}

/**
 * Builds the node the flags describe and starts it: it listens first, then dials every peer.
 * `onEvent` is subscribed before the start, so it sees `listening` too, and it also receives the
 * connections the secure transport refused (as `link-error`).
 * @throws FatalError (LISTEN, DATA_DIR, TRUST, USAGE) with a one-line reason
 */
export async function startNode(
  flags: Flags,
  onEvent: (event: NodeEvent, route?: LinkRoute) => void,
  overrides: Partial<NodeOptions> & FrontendOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<StartedNode> {
  if (flags.plain) {
    const listen = flags.listen ?? DEFAULT_LISTEN
    const node = new PlainNode({
      transport: routedTransport(TRANSPORT_KINDS.map((kind) => ({ kind, transport: kind.create({}) }))),
      name: flags.name,
      listen,
      peers: flags.peers,
      maxLine: flags.maxFrame,
      runs: overrides.runs ?? false,
    })
    node.on((event) => onEvent(event, event.type === 'connected' ? { kind: 'tcp' } : undefined))
    const notices: string[] = []
    if (flags.logFile) attachLog(node, flags.logFile, (message) => notices.push(message))
    const stopped = new Promise<void>((resolve) => {
      node.on((event) => {
        if (event.type === 'closed') resolve()
      })
    })
    // Plain mode keeps no journal: nothing is marked, and nothing is ever shown again.
    const built: BuiltNode = {
      node,
      markShown: () => true,
      keepsMarks: false,
      failure: () => undefined,
      firstRun: false,
    }
    overrides.onBuilt?.(built)
    await listenOrFail(node, listen)
    return {
      ...built,
      secure: false,
      restoredPending: 0,
      failed: new Promise<FatalError>(() => undefined),
      notices,
      missingKeys: () => [],
      emptyRooms: [],
      stopped,
    }
  }

  const { runs, lineOutput, onBuilt, signal, onProgress, ...nodeOverrides } = overrides
  const joins = flags.joins.map(decodeJoin)
  contradictingPins(flags)
  pinsThatDisagree(flags, joins)
  const {
    createMessageAuth,
    createSecureTransport,
    KnownPeers,
    loadOrCreateIdentity,
    makeAnnouncementCheck,
    makePinCheck,
    makeVerifier,
    randomFill,
  } = await import('@parley/secure')
  const notices: string[] = []
  const dir = await openDir(dataDirOf(flags, env), (message) => notices.push(staleLockNotice(message)))
  let dht: DhtNetwork | undefined
  /** Messages from an earlier run in the outbox, once the journal was read. */
  let restoredCount = 0
  // A DHT join that takes more than a moment is said once, so a quiet start is not taken for a hang.
  const joiningNote =
    flags.dht && onProgress
      ? setTimeout(() => onProgress(joiningText(flags.dht?.bootstrap)), JOINING_NOTE_MS)
      : undefined
  // A write to the data dir that fails while the node runs stops it, once (see `StartedNode.failed`).
  let failure: FatalError | undefined
  /** The failure came from a journal append: its `journal-error` event is the one still told. */
  let journalFailed = false
  let stopOn: (failure: FatalError) => void = () => undefined
  /** The journal, once read and until a node owns it: a start that fails before closes it itself. */
  let unowned: { close(): Promise<unknown> } | undefined
  const fail = (error: unknown): void => {
    if (failure) return
    failure = dataDirFailure(dir.path, error)
    stopOn(failure)
  }
  try {
    const identity = await trust(() => loadOrCreateIdentity(dir.path))
    const self = { id: identity.id, name: flags.name }
    // Read before the DHT is joined: a room refused for this data dir's messages is told at once, not after
    // a join of seconds, nor hidden behind a DHT that cannot be reached.
    const { journal, records, restored, compactedFrom, fresh } = await restoreFromJournal(
      dir,
      self,
      flags.window,
      compactAt(env),
      // A torn tail cut off at open: one of the start-up notes, not a Node.js process warning.
      (message) => notices.push(message),
    )
    unowned = journal
    checkRooms(dir, flags, restored.history.length)
    // The identity key pair is the DHT key pair: the node's fingerprint is its address there.
    if (flags.dht) dht = await DhtNetwork.start(identity, flags.dht, env, signal)
    const listen = flags.listen ?? dht?.address ?? DEFAULT_LISTEN
    const knownPeers = await trust(() => KnownPeers.open(dir.path))
    const pins = await trust(
      () => new Map([...flags.pins, ...joins].map((p) => [p.address, parseKeyOrFingerprint(p.key)])),
    )
    const pinnedBy = new Map(joins.map((p) => [p.address, 'the invite given to --join']))
    const verify = failingOnDisk(
      makeVerifier({ knownPeers, pins, pinnedBy, ...(await trust(() => allowList(flags))) }),
      fail,
    )
    const checkPeer = makeAnnouncementCheck({ knownPeers, pins, pinnedBy })
    const pinnedAt = makePinCheck({ knownPeers, pins })
    const log = new EventLog(flags.logFile ?? dir.file(LOG_FILE), {
      onProblem: (message) => notices.push(message),
      refuseForeign: flags.logFile !== undefined,
    })
    const refused = (address: string, code: string, message: string) => {
      const event: NodeEvent = { type: 'link-error', address, code, message }
      log.record(event)
      onEvent(event)
    }
    // A transport that authenticates its links itself is not encrypted twice; both kinds pass `verify`.
    const transport = routedTransport(
      TRANSPORT_KINDS.map((kind) => {
        const inner = kind.create(dht ? { dht } : {})
        if (inner === undefined) return { kind, transport: undefined }
        return {
          kind,
          transport: kind.authenticated
            ? verifiedTransport(inner, verify, refused)
            : createSecureTransport(inner, {
                keyPair: identity,
                verify,
                handshakeTimeoutMs: flags.handshakeTimeoutMs,
                onRefused: (info) => refused(info.address, info.code, info.reason),
              }),
        }
      }),
    )
    const marks = new DisplayMarks(
      dir.file(DISPLAY_MARKS_FILE),
      lineOutput === undefined ? {} : { output: lineOutput },
    )
    let startRecords: readonly JournalRecord[] | undefined = records
    const peers = uniqueAddresses([...flags.peers, ...joins.map((j) => j.address)])
    const node = new ParleyNode({
      transport,
      id: identity.id,
      name: flags.name,
      listen,
      peers,
      journal: {
        append: (records) =>
          journal.append(records).catch((error: unknown) => {
            // A record that cannot be encoded is not the data dir's fault; a write that failed is.
            if (systemCode(error) === undefined) throw error
            journalFailed ||= failure === undefined
            fail(error)
            throw new LogError('IO', journalWriteText(journal.path, error), { cause: error })
          }),
        usage: journal.usage,
        // Compacted again while the node runs, with no record held in memory in between (see OnlineCompaction).
        compaction: {
          get records() {
            // Handed over once as the node is made, then let go.
            const handed = startRecords ?? []
            startRecords = undefined
            return handed
          },
          size: () => journal.plainSize,
          diskSize: () => journal.size,
          scan: async (onFrame) => {
            await journal.readAll({ onRecords: onFrame, skim: skimFrame })
          },
          load: (frames) => journal.readFrames(frames as FramePosition[]),
          rewrite: (kept) => journal.rewrite(kept),
          minBytes: compactAt(env),
          // Each append says where its frame went, and each rewrite where it put the journal: from an
          // empty file, or after a rewrite, compaction replays the appends instead of reading the file back.
          fresh,
          ...(compactedFrom === undefined ? {} : { compactedFrom }),
        },
      },
      journalQuota: flags.diskQuota,
      restored,
      // Our messages are signed with the identity key, and relayed ones checked against their origin's.
      auth: createMessageAuth(identity),
      // libsodium is loaded already; Web Crypto, the default, would load node:crypto during the start.
      randomBytes: randomFill,
      windowSize: flags.window,
      deadAfterMs: flags.deadAfterMs,
      keepaliveMs: Math.max(250, Math.floor(flags.deadAfterMs / 3)),
      handshakeTimeoutMs: flags.handshakeTimeoutMs,
      maxFrame: flags.maxFrame,
      rateLimit: rateLimitOf(flags),
      checkPeer,
      pinnedAt,
      ...(marks.marks ? { displayed: marks.marks } : {}),
      ...(runs ? { runs } : {}),
      ...nodeOverrides,
    })
    // The node closes the journal from here on (its `closed` event, or a failure of the data dir).
    unowned = undefined
    // Before anything is sent or acknowledged; in lines, as `pending` counts them (piped lines travel
    // a few dozen to a message).
    const restoredPending = node.pending
    restoredCount = restoredPending
    // A connection is told with how its link was made, read when it is made (a relayed link may move later).
    // Once the data dir failed, the node is stopping on it: only the journal's own failure is still news.
    node.on((event) => {
      if (failure && !(journalFailed && event.type === 'journal-error')) return
      onEvent(event, event.type === 'connected' ? routeOf(event.address, dht) : undefined)
    })
    node.on((event) => log.record(event))
    const network = dht
    if (network)
      node.on((event) => {
        if (event.type === 'disconnected') network.linkEnded(event.peer.id, event.refusal)
      })
    let reportFailed: (failure: FatalError) => void = () => undefined
    const failed = new Promise<FatalError>((resolve) => {
      reportFailed = resolve
    })
    const stopped = new Promise<void>((resolve) => {
      node.on((event) => {
        if (event.type !== 'closed') return
        closeMarks(marks)
        // A journal that cannot be closed (its last sync failed) is a data-dir failure, told as one; the log
        // and the network have nothing left to lose. None may reject into the exit as an internal error.
        const closing = [journal.close().catch(fail), log.close(), network?.close()]
        void Promise.all(closing.map((c) => c?.catch(() => undefined))).then(() => {
          dir.release()
          resolve()
          if (failure) reportFailed(failure)
        })
      })
    })
    /** A write to the marks file; false once the data dir failed, and a write that fails is that failure. */
    const written = (write: () => void): boolean => {
      if (failure) return false
      try {
        write()
        return true
      } catch (error) {
        fail(error)
        return false
      }
    }
    const built: BuiltNode = {
      node,
      markShown: (shown, insideLine) => written(() => marks.mark(shown, insideLine)),
      intendShown: (shown, text) => written(() => marks.intend(shown, text)),
      keepsMarks: true,
      failure: () => failure,
      firstRun: fresh,
      ...(marks.leftInsideLine ? { leftInsideLine: true as const } : {}),
    }
    onBuilt?.(built)
    const listening = listenOrFail(node, listen)
    stopOn = (failure) => {
      // What was shown and marked reaches the disk first, whatever ends the process.
      closeMarks(marks)
      // Under `runProgram` the process ends with the failure's line once the node has stopped.
      endProgram(failure, failed)
      // Appends under way settle first (the journal's own failure is told by then, once); the node goes on
      // meanwhile, so a frontend that sends is not refused, then says `bye` to its peers.
      void journal
        .close()
        .catch(() => undefined)
        .then(() => listening)
        .then(
          () => node.close('data dir unusable'),
          // Never started, so never closed: the start fails with its own error.
          () => reportFailed(failure),
        )
    }
    await listening
    let emptyRooms: string[] = []
    if (dht) {
      try {
        emptyRooms = await joinDht(dht, flags, listen, signal)
      } catch (error) {
        // The node already listens and may have shown and marked messages: it is closed as any node is
        // (a `bye` to its peers, its files closed) before the start fails.
        await node.close(signal?.aborted ? 'quit' : 'the start failed')
        await settledWithin(stopped, STOP_CEILING_MS)
        throw error
      }
    }
    clearTimeout(joiningNote)
    return {
      secure: true,
      dataDir: dir.path,
      fingerprint: fingerprint(identity.id),
      restoredPending,
      ...built,
      failed,
      notices,
      missingKeys: () => dht?.missing() ?? [],
      emptyRooms,
      stopped,
    }
  } catch (error) {
    clearTimeout(joiningNote)
    await unowned?.close().catch(() => undefined)
    // Off the DHT (for at most as long as a stop takes: a DHT that does not answer is not waited for).
    await settledWithin(dht?.close() ?? Promise.resolve(), STOP_CEILING_MS)
    dir.release()
    if (signal?.aborted && flags.dht) throw interruptedStart(restoredCount, dir.path)
    throw error
  }
}

/**
 * Refuses a room a data dir's messages were not in (they would catch its members up on them), and records
 * the rooms of a start that goes on. Before any link is made: nothing has reached the room.
 */
function checkRooms(dir: DataDir, flags: Flags, messages: number): void {
  const path = dir.file(ROOMS_FILE)
  let record: RoomRecord
  try {
    record = readRoomRecord(path)
  } catch (error) {
    throw dataDirFailure(dir.path, error)
  }
  const decision = decideRooms({
    record,
    joining: (flags.dht?.rooms ?? []).map(roomHash),
    holdsMessages: messages > 0,
    shareHistory: flags.shareHistory ?? false,
  })
  if (decision.type === 'refuse')
    throw new FatalError(ExitCode.ROOM_HISTORY, refusalText(dir.path, messages, decision))
  try {
    if (decision.record) writeRoomRecord(path, decision.record)
  } catch (error) {
    throw dataDirFailure(dir.path, error)
  }
}

/** `joining the DHT (bootstrap 127.0.0.1:4000)…`: what a DHT join that takes a while is waiting for. */
export function joiningText(bootstrap: readonly BootstrapNode[] | undefined): string {
  const where =
    bootstrap === undefined || bootstrap.length === 0
      ? "HyperDHT's public bootstrap nodes"
      : `bootstrap ${bootstrapList(bootstrap)}`
  return `joining the DHT (${where})…`
}

function interruptedStart(waiting: number, dataDir: string): StartInterrupted {
  // Nothing is read from the input before the start is over. The outbox is counted once the journal was
  // read; stopped before that, the journal was not touched.
  const outbox =
    waiting > 0
      ? `${countText(waiting)} message(s) not acknowledged yet are safe in the outbox (${dataDir}); they are sent when parley next runs with this --data-dir`
      : 'nothing was sent'
  return new StartInterrupted(`stopped while joining the DHT; ${outbox}`)
}

/**
 * The marks file synced and closed, whatever happens: a failed sync (the disk failing) costs only a
 * showing again after a machine crash, and must not throw into the node that is closing.
 */
function closeMarks(marks: DisplayMarks): void {
  try {
    marks.close()
  } catch {
    // Closed all the same (see DisplayMarks.close).
  }
}

/**
 * The trust check, stopping the node when the disk refuses what it learns (known_peers): a full disk
 * would otherwise refuse every new peer, each with a line of its own.
 */
function failingOnDisk(verify: Verify, fail: (error: unknown) => void): Verify {
  return async (info) => {
    try {
      return await verify(info)
    } catch (error) {
      if (diskTrouble(error) !== undefined) fail(error)
      throw error
    }
  }
}

function routeOf(address: string, dht: DhtNetwork | undefined): LinkRoute | undefined {
  if (keyOfAddress(address) === undefined) return { kind: 'tcp' }
  return dht?.pathOf(address)
}

/**
 * Announces the node under its key (a node listening on TCP only announced nothing yet) and joins each
 * room; an empty room is said once, then the node waits for the others. Resolves with the empty rooms.
 */
async function joinDht(
  dht: DhtNetwork,
  flags: Flags,
  listen: Address,
  signal: AbortSignal | undefined,
): Promise<string[]> {
  if (listen !== dht.address) await untilAborted(dht.announce(), signal)
  const empty: string[] = []
  for (const code of flags.dht?.rooms ?? []) {
    const found = await untilAborted(dht.joinRoom(code), signal)
    // Not known to be empty while dials to members it found were still going.
    if (found === undefined || found > 0) continue
    empty.push(code)
  }
  return empty
}

/**
 * `parley id` and `parley invite`: the node's identity, created on first use (`created` says so, since a
 * mistyped --data-dir is noticed that way). It works beside a running node: an existing key is only read,
 * without the data dir's lock, and creating one is safe against a node starting at the same moment.
 */
export async function showIdentity(flags: Flags, env: NodeJS.ProcessEnv = process.env) {
  const path = resolve(dataDirOf(flags, env))
  const { IDENTITY_KEY_FILE, loadOrCreateIdentity } = await import('@parley/secure')
  if (!existsSync(join(path, IDENTITY_KEY_FILE))) {
    // A new data dir is created and checked the same way a node does it.
    try {
      const dir = await openDir(path)
      dir.release()
    } catch (error) {
      // Locked: a node is starting there right now and makes the key itself; the key file is created
      // atomically, so reading or creating it here is still safe.
      if (!(error instanceof FatalError && (error.cause as DataDirError | undefined)?.code === 'LOCKED'))
        throw error
    }
  }
  const identity: Identity = await trust(() => loadOrCreateIdentity(path))
  return { id: identity.id, fingerprint: fingerprint(identity.id), dataDir: path, created: identity.created }
}

/** The rate limit the flags ask for (`--rate 0` turns every limit off). */
function rateLimitOf(flags: Flags): NodeOptions['rateLimit'] {
  if (flags.rate === 0) return false
  return {
    perSecond: flags.rate,
    burst: flags.burst,
    ...(flags.rateBytes > 0 ? { bytesPerSecond: flags.rateBytes, byteBurst: flags.rateBytes * 8 } : {}),
  }
}

/** The store's warning about a stale lock, as a notice: the node is fine, it only did not exit cleanly last time. */
function staleLockNotice(message: string): string {
  const match = /took over (.*) \(a parley that did not exit cleanly\)/.exec(message)
  return match
    ? `the last parley on this data dir did not exit cleanly: took over ${match[1]}; nothing is lost`
    : message
}

function attachLog(node: ChatNode, file: string, onProblem: (message: string) => void): void {
  // Plain mode logs only where --log-file says: a file the user named.
  const log = new EventLog(file, { onProblem, refuseForeign: true })
  node.on((event) => {
    log.record(event)
    if (event.type === 'closed') void log.close()
  })
}

async function listenOrFail(node: ChatNode, listen: Address): Promise<void> {
  try {
    await node.start()
  } catch (error) {
    if (error instanceof TransportError) {
      const where = `cannot listen on ${listen}: `
      const why = error.message.startsWith(where) ? error.message.slice(where.length) : error.message
      throw new FatalError(ExitCode.LISTEN, `${where}${why}`, {
        cause: error,
      })
    }
    throw error
  }
}

async function openDir(path: string, onWarning?: (message: string) => void): Promise<DataDir> {
  try {
    return await openDataDir(path, { onWarning: (message) => onWarning?.(message) })
  } catch (error) {
    if (error instanceof DataDirError)
      throw new FatalError(ExitCode.DATA_DIR, error.message, { cause: error })
    throw error
  }
}

async function openJournal(
  dir: DataDir,
  onWarning: (message: string) => void,
  onRecords?: (records: readonly unknown[], frame: FramePosition) => void,
): Promise<AppendLog> {
  try {
    return await AppendLog.open(dir.file(JOURNAL_FILE), {
      accountOf: journalOrigin,
      onWarning,
      // Our messages' JSON is made once, for the record and the frame alike.
      encode: journalRecordsJson,
      ...(onRecords ? { onRecords, skim: skimFrame } : {}),
    })
  } catch (error) {
    throw journalFailure(dir, error)
  }
}

/** A journal that cannot be read back, as one line: which file, what is wrong, what to do. */
function journalFailure(dir: DataDir, error: unknown): unknown {
  const path = dir.file(JOURNAL_FILE)
  // A full or failing disk is said as such, whichever write of the start found it.
  if (diskTrouble(error) !== undefined) return dataDirFailure(dir.path, error)
  if (error instanceof LogError) {
    // The store's message names the file already (`cannot open …/journal.log (EACCES)`).
    const text = error.message.includes(path) ? error.message : `cannot use ${path}: ${error.message}`
    const code = systemCode(error)
    const advice =
      code === 'EACCES' || code === 'EPERM'
        ? `; parley may not read or write it: give yourself access (chown or chmod u+rw it, chattr -i if it is immutable) or give another --data-dir`
        : ''
    return new FatalError(ExitCode.DATA_DIR, `${text}${advice}`, { cause: error })
  }
  if (error instanceof JournalError)
    return new FatalError(
      ExitCode.DATA_DIR,
      `cannot use ${path}: ${error.message}; move it away to start without its history and outbox`,
      { cause: error },
    )
  return error
}

/**
 * Opens the journal and replays it as it is read, without holding it (`JournalStartup`): the node starts
 * on the records that restore the same state, and a journal past `threshold` bytes that they would halve
 * is rewritten with them as the node starts, in the background (`compactedFrom`). A journal holding
 * records of a newer version is replayed whole and left as it is.
 */
async function restoreFromJournal(
  dir: DataDir,
  self: PeerInfo,
  windowSize: number,
  threshold: number,
  onWarning: (message: string) => void,
) {
  const startup = new JournalStartup<FramePosition>(self, undefined, windowSize)
  const journal = await openJournal(dir, onWarning, (records, frame) => startup.add(records, frame))
  try {
    const start = await startup.finish((frames) => journal.readFrames(frames))
    if (start) {
      const halved = journal.plainSize > threshold && start.records.length * 2 <= start.total
      return {
        journal,
        records: start.records,
        restored: start.state,
        compactedFrom: halved ? start.total : undefined,
        fresh: start.total === 0,
      }
    }
  } catch (error) {
    await journal.close().catch(() => undefined)
    throw journalFailure(dir, error)
  }
  await journal.close()
  const whole = await openJournal(dir, onWarning)
  const records = whole.records as JournalRecord[]
  // Replayed: the records need not stay in memory for the life of the process.
  whole.forgetRecords()
  return {
    journal: whole,
    records,
    restored: restore(records, self, undefined, windowSize),
    compactedFrom: undefined,
    fresh: false,
  }
}

function compactAt(env: NodeJS.ProcessEnv): number {
  const bytes = Number(env.PARLEY_COMPACT_BYTES)
  return env.PARLEY_COMPACT_BYTES && Number.isFinite(bytes) && bytes >= 0 ? bytes : COMPACT_JOURNAL_BYTES
}

/** Runs a step that reads keys or trust files, turning its typed errors into exit code TRUST. */
async function trust<T>(step: () => Promise<T> | T): Promise<T> {
  try {
    return await step()
  } catch (error) {
    if (error instanceof IdentityError || error instanceof TrustFileError) {
      throw new FatalError(ExitCode.TRUST, error.message, { cause: error })
    }
    if (error instanceof KeyFormatError) throw new FatalError(ExitCode.USAGE, `${error.message} (see --help)`)
    throw error
  }
}

/** An `--allow` value as a key; a file given to it is pointed to `--allow-file`. */
function allowedKey(text: string): string {
  try {
    return parseKeyOrFingerprint(text)
  } catch (error) {
    if (
      error instanceof KeyFormatError &&
      error.code === 'BAD_KEY' &&
      !isInvite(text) &&
      (text.includes('/') || existsSync(text))
    )
      throw new KeyFormatError(
        'BAD_KEY',
        `--allow ${error.message}; to read keys from a file, use --allow-file ${text}`,
        { cause: error },
      )
    throw error
  }
}

async function allowList(flags: Flags): Promise<{ allow?: Set<string> }> {
  if (flags.allow.length === 0 && !flags.allowFile) return {}
  const allow = new Set<string>()
  for (const key of flags.allow) allow.add(allowedKey(key))
  if (flags.allowFile) {
    const { readAllowFile } = await import('@parley/secure')
    for (const key of await readAllowFile(flags.allowFile)) allow.add(key)
    // An allowlist of nobody refuses every peer: an emptied or wrong file, far likelier than the intent.
    if (allow.size === 0)
      throw new FatalError(
        ExitCode.TRUST,
        `allow file ${flags.allowFile} lists no keys, so every peer would be refused; add the keys to accept (one full fingerprint or hex key per line), or drop --allow-file`,
      )
  }
  return { allow }
}

/**
 * A peer given by its key must prove that key: a `--peer-key` beside it that names another can never be
 * met, so it is a mistake in the command line, said before anything is dialed, not a refused link later
 * that reads like someone intercepting it.
 */
function contradictingPins(flags: Flags): void {
  for (const { address, key } of flags.pins) {
    const named = keyOfAddress(address)
    if (named === undefined) continue
    const pinned = (() => {
      try {
        return parseKeyOrFingerprint(key)
      } catch {
        return undefined
      }
    })()
    if (pinned === undefined || pinned === named) continue
    throw new FatalError(
      ExitCode.USAGE,
      `--peer-key ${fingerprint(pinned).full} contradicts its --peer ${fingerprint(named).full}: a peer given by its key must prove that very key; drop the --peer-key, or give the --peer you meant (see --help)`,
    )
  }
}

/**
 * Two pins for one address (`--join` and `--peer-key`, or two of either) that name different keys can
 * never both be met: one would silently win, so the command line is refused before anything is dialed.
 */
function pinsThatDisagree(flags: Flags, joins: { address: Address; key: string }[]): void {
  const seen = new Map<Address, { key: string; by: string }>()
  const given = [
    ...flags.pins.map((pin) => ({ ...pin, by: '--peer-key' })),
    ...joins.map((pin) => ({ ...pin, by: '--join' })),
  ]
  for (const { address, key: text, by } of given) {
    let key: string
    try {
      key = parseKeyOrFingerprint(text)
    } catch {
      continue
    }
    const earlier = seen.get(address)
    if (earlier === undefined) seen.set(address, { key, by })
    else if (earlier.key !== key) {
      const bys = earlier.by === by ? `two ${by}` : `${earlier.by} and ${by}`
      throw new FatalError(
        ExitCode.USAGE,
        `${bys} pin different keys for ${address} (${fingerprint(earlier.key).full} and ${fingerprint(key).full}): a peer proves one key; keep only the one you trust (see --help)`,
      )
    }
  }
}

function decodeJoin(code: string): { address: Address; key: string } {
  try {
    const invite = decodeInvite(code)
    return { address: parseAddress(invite.address), key: invite.key }
  } catch (error) {
    if (error instanceof InviteError)
      throw new FatalError(ExitCode.USAGE, `--join: ${error.message} (see --help)`)
    throw error
  }
}

function uniqueAddresses(addresses: Address[]): Address[] {
  return [...new Set(addresses)]
}
