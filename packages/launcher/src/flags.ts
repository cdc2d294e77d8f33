import { userInfo } from 'node:os'
import { parseArgs } from 'node:util'
import {
  type Address,
  AddressError,
  DEFAULT_WINDOW as CORE_DEFAULT_WINDOW,
  DEFAULT_JOURNAL_QUOTA,
  DEFAULT_MAX_FRAME,
  DEFAULT_RATE_LIMIT,
  type JournalQuota,
  NODE_DEFAULTS,
  nameProblem,
} from '@parley/core'
import { DhtError, parseBootstrap, parsePublicKey, parseRoomCode } from '@parley/transport-dht/addresses'
import { COMMANDS as CHAT_COMMANDS, helpLines, LINE_COMMANDS } from './commands.js'
import type { DhtFlags } from './dht.js'
import { ExitCode, FatalError } from './exit-codes.js'
import { DHT, dialProblem, isAddressInvite, keyProblemOf, parseAddress } from './transports.js'

/**
 * What the program was asked to do: chat (the default), print this node's id, an invite or a new room
 * code, or run a bootstrap node or a relay of a DHT.
 */
export type Command = 'chat' | 'id' | 'invite' | 'room' | 'bootstrap' | 'relay'

const COMMANDS: readonly Command[] = ['id', 'invite', 'room', 'bootstrap', 'relay']

/** Everything a frontend needs to start a node, parsed and checked. */
export interface Flags {
  command: Command
  /** Undefined on a DHT node given no --listen: it listens on the DHT alone, under its key. */
  listen: Address | undefined
  /** Set when the node uses the DHT: `--dht`, or a key-only peer, `--room`, `--bootstrap` or `--relay`. */
  dht?: DhtFlags
  peers: Address[]
  /** `--peer-key`: the i-th key pins the i-th `--peer`. `--join` adds its own pairs. */
  pins: { address: Address; key: string }[]
  name: string
  json: boolean
  /** When input ends, how long to wait without any new acknowledgement before giving up (ms). */
  waitMs: number
  /** Never read stdin: receive until signalled (also the rule when stdin ends before any line was sent). */
  recvOnly: boolean
  /** Where identity, known peers, history and the outbox live; undefined means the XDG default. */
  dataDir?: string
  /** No handshake, no encryption: newline-separated text, for netcat and friends. */
  plain: boolean
  /** `--allow` keys or fingerprints; when any are given (or an allow file), only those peers are accepted. */
  allow: string[]
  allowFile?: string
  /** `--join` invite codes, decoded by the node wiring (they need the secure package). */
  joins: string[]
  /** Print this many messages of history at start. */
  history: number
  /** A link silent this long is dropped and redialed (ms). */
  deadAfterMs: number
  /** Where the structured event log goes; undefined means DATA_DIR/parley.log (none in plain mode). */
  logFile?: string
  /** Messages per second accepted from one peer (0: no limit), and the burst allowed on top. */
  rate: number
  burst: number
  /** Bytes per second accepted from one peer (0: no byte limit); the burst is eight seconds' worth. */
  rateBytes: number
  /** A link must finish its handshake within this long (ms). */
  handshakeTimeoutMs: number
  /** Largest frame accepted from a peer, in bytes. */
  maxFrame: number
  /** Recent messages kept per member of the room, to relay and to catch others up. */
  window: number
  /** `--share-history`: a room may be caught up on what this data dir holds from another chat. */
  shareHistory?: boolean
  /** Journal bytes kept for each other member and for all of them (MiB on the command line). */
  diskQuota: JournalQuota
  help: boolean
  version: boolean
}

export const DEFAULT_LISTEN = '127.0.0.1:1235'
export const DEFAULT_WAIT_MS = 10_000
// The node's own defaults, defined once in core.
export const DEFAULT_DEAD_AFTER_MS = NODE_DEFAULTS.deadAfterMs
export const DEFAULT_RATE = DEFAULT_RATE_LIMIT.perSecond
export const DEFAULT_BURST = DEFAULT_RATE_LIMIT.burst
export const DEFAULT_RATE_BYTES = DEFAULT_RATE_LIMIT.bytesPerSecond ?? 0
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = NODE_DEFAULTS.handshakeTimeoutMs
export const DEFAULT_MAX_FRAME_BYTES = DEFAULT_MAX_FRAME
export const DEFAULT_WINDOW = CORE_DEFAULT_WINDOW

const OPTIONS = {
  listen: { type: 'string', short: 'l' },
  peer: { type: 'string', short: 'p', multiple: true },
  'peer-key': { type: 'string', multiple: true },
  name: { type: 'string', short: 'n' },
  json: { type: 'boolean' },
  wait: { type: 'string' },
  'recv-only': { type: 'boolean' },
  'data-dir': { type: 'string', short: 'd' },
  plain: { type: 'boolean' },
  allow: { type: 'string', multiple: true },
  'allow-file': { type: 'string' },
  join: { type: 'string', short: 'j', multiple: true },
  history: { type: 'string' },
  'dead-after': { type: 'string' },
  'log-file': { type: 'string' },
  rate: { type: 'string' },
  burst: { type: 'string' },
  'rate-bytes': { type: 'string' },
  'handshake-timeout': { type: 'string' },
  'max-frame': { type: 'string' },
  window: { type: 'string' },
  'disk-quota': { type: 'string' },
  dht: { type: 'boolean' },
  room: { type: 'string', multiple: true },
  'share-history': { type: 'boolean' },
  bootstrap: { type: 'string' },
  relay: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const

/**
 * The flag reference shown by `--help`, shared by every frontend. A full-screen frontend (`screen`) lists
 * neither the line-mode commands (`id`, `invite`, `room`, `bootstrap`, `relay`) nor the flags it refuses
 * or that only pipes use, and points to `/help` for its keys.
 */
export function usage(program: string, summary: string, frontend: 'line' | 'screen' = 'line'): string {
  const line = frontend === 'line'
  const commands = line
    ? `
       ${program} id [--data-dir DIR]          print this node's fingerprint
       ${program} invite [--listen HOST:PORT]  print invites to this node: by address, and by key
       ${program} room [--bootstrap HOST:PORT,...]
                                              print a new room code (last line of stdout)
       ${program} bootstrap --listen HOST:PORT [--bootstrap HOST:PORT,...]
                                              run a bootstrap node of a private DHT
       ${program} relay [--bootstrap HOST:PORT,...] [--listen HOST:PORT]
                                              run a blind relay; prints its key`
    : `
(id, invite, room, bootstrap and relay are commands of the line-mode parley: run parley --help)`
  return `${program}: ${summary}

Usage: ${program} [--listen HOST:PORT] [--peer HOST:PORT]... [--name NAME] [options]
       ${program} --peer FINGERPRINT [options]  reach a node by its key alone, through NATs (the DHT)
       ${program} --room CODE [options]        meet everyone who joins with the same room code
       ${program} --join INVITE [options]${commands}

Connecting:
  -l, --listen HOST:PORT  address to listen on (default ${DEFAULT_LISTEN}, or none on a DHT node;
                          port 0 picks a free port)
  -p, --peer ADDRESS      peer to dial, redialed until it answers; repeatable. HOST:PORT over TCP, or
                          a full fingerprint, 64-hex key or parley://FINGERPRINT over the DHT
      --peer-key KEY      the key (full fingerprint or hex) expected at the --peer in the same position
  -j, --join INVITE       dial the address in an invite, with its key pinned; repeatable

The DHT (HyperDHT: finds nodes by key and punches through NATs; see "Reaching anyone" in the README):
      --dht               announce this node under its key so others can reach it by its fingerprint
      --room CODE         join the room of a code from "parley room"; repeatable (implies --dht).
                          A data dir holding messages from a chat without this room is refused
                          (exit 12): they would reach everyone in it
      --share-history     join the room anyway, catching its members up on those messages
      --bootstrap HOST:PORT[,HOST:PORT...]  use a private DHT (default: HyperDHT's public one;
                          implies --dht)
      --relay KEY         a blind relay ("parley relay") for NATs that cannot be punched (implies --dht)
  -n, --name NAME         display name (default: $PARLEY_NAME, else your user name)

Trust and storage:
  -d, --data-dir DIR      identity, known peers, history and outbox (default $XDG_DATA_HOME/parley);
                          one conversation: whoever links is caught up on its recent messages
      --allow KEY         accept only these peers (full fingerprint or hex key); repeatable
      --allow-file FILE   accept only the peers listed in FILE, one key per line
      --plain             no encryption, no handshake: plain lines, for nc, socat and telnet

Output:${
    line
      ? `
      --json              one JSON object per line on stdout for every event (id, invite, room,
                          bootstrap and relay print theirs as one object too)`
      : ''
  }
${
  line
    ? `      --history N         show the last N messages of history at start (default 0); a one-shot send
                          (input from a pipe or file) shows catch-up only with --history
      --wait SECONDS      when input ends, give up after this long without a new acknowledgement
                          (default ${DEFAULT_WAIT_MS / 1000}); also while piped input is paused at a
                          full outbox (exit 10; 0: wait there as long as it takes)
      --recv-only         never read stdin: receive until stopped (Ctrl-C, SIGTERM); stdin that
                          ends before any line was sent (< /dev/null, systemd) means the same`
    : `      --history N         show the last N messages of history at start (default 0)
      --wait SECONDS      on /quit, wait this long without a new acknowledgement for your
                          undelivered messages before leaving (default ${DEFAULT_WAIT_MS / 1000}; 0: leave at once)`
}
      --dead-after SECS   drop and redial a link silent this long (default ${DEFAULT_DEAD_AFTER_MS / 1000})
      --log-file FILE     structured log of connections and refusals (default DATA_DIR/parley.log)

Limits (see "Limits and abuse" in the README):
      --rate N            lines per second accepted from one peer, 0 for no limit (default ${DEFAULT_RATE})
      --burst N           lines a peer may send at once on top of --rate (default ${DEFAULT_BURST})
      --rate-bytes N      bytes per second accepted from one peer, 0 for no limit; eight seconds'
                          worth may come at once (default ${DEFAULT_RATE_BYTES})
      --handshake-timeout SECS  drop links that have not finished the handshake (default ${DEFAULT_HANDSHAKE_TIMEOUT_MS / 1000})
      --max-frame BYTES   largest frame accepted from a peer, in bytes; with --plain, the longest line
                          taken whole, in bytes of UTF-8 (default ${DEFAULT_MAX_FRAME_BYTES})
      --window N          recent messages kept per member, to relay and to catch up members who were
                          away or join later (default ${DEFAULT_WINDOW})
      --disk-quota MIB[,MIB]  journal kept for each other member, and for all of them; past it their
                          messages are refused (default ${DEFAULT_JOURNAL_QUOTA.perOrigin / MiB},${DEFAULT_JOURNAL_QUOTA.total / MiB})
  -h, --help              show this help
  -V, --version           show the version

While chatting, a line that starts with / is a command, not a message:
${helpLines(line ? LINE_COMMANDS : CHAT_COMMANDS.map((c) => c.name))
  .map((text) => `  ${text}`)
  .join('\n')}
${
  line
    ? 'On a terminal an unknown /word is never sent; from a pipe, a line that is not a command is sent as it is.'
    : 'An unknown /word is never sent. Keys (editing, history, scrolling): /help in the app.'
}

IPv6 addresses are written in brackets: [::1]:4001.
Exit codes: 0 ok (everything delivered), 1 internal error, 2 bad usage, 3 cannot listen,
4 messages lost (plain mode keeps nothing: no peer took them), 5 data dir unusable (locked, unwritable),
6 key or trust file unusable, or every peer dialed refused on its key,
7 messages not acknowledged yet, kept in the outbox for the next run,
8 as 7, and no node on the DHT announces a key they were for, 9 the DHT cannot be joined${
    line
      ? `,
10 piped input not read to its end (the outbox stayed full for --wait; the line says where to resume),
11 stdout was closed by its reader (| head): stopped; the line says where to resume.`
      : '.'
  }`
}

/**
 * Parses command-line flags.
 * @throws FatalError with exit code USAGE and a one-line reason
 */
export function parseFlags(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Flags {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(argv)
  } catch (error) {
    throw usageError(error instanceof Error ? simplifyParseError(error.message) : String(error))
  }
  const { values, positionals } = parsed
  // `parley help` (alone) is `parley --help`, as git and most tools take it.
  if (positionals.length === 1 && positionals[0] === 'help') {
    positionals.length = 0
    values.help = true
  }
  const command = commandOf(positionals)
  refuseUnusedFlags(command, values)
  const peers = (values.peer ?? []).map((p) => dialable('--peer', address('--peer', p)))
  const dht = dhtFlags(values, [...peers, ...(values.join ?? [])])
  // A DHT node is reached by its key; it listens on TCP too only when asked to.
  // A bootstrap node has no default: it is reached where it is told to be (see startBootstrapNode).
  const listen =
    values.listen !== undefined || (dht === undefined && command !== 'bootstrap')
      ? address('--listen', values.listen ?? DEFAULT_LISTEN)
      : undefined
  const keys = values['peer-key'] ?? []
  if (keys.length > peers.length) {
    throw usageError(
      `--peer-key was given ${keys.length} time(s) but --peer only ${peers.length}; each key pins one --peer`,
    )
  }
  const pins = keys.map((key, i) => ({ address: peers[i]!, key }))
  const fallback = values.name === undefined ? defaultName(env) : undefined
  const name = values.name ?? fallback!.name
  const nameWrong = nameProblem(name.trim())
  if (nameWrong)
    throw usageError(
      fallback
        ? `the name taken from ${fallback.from}, ${JSON.stringify(name)}, cannot be used: ${nameWrong}; give one with --name NAME`
        : `--name: ${nameWrong}, got ${JSON.stringify(name)}`,
    )
  const plain = values.plain ?? false
  const allow = values.allow ?? []
  const joins = values.join ?? []
  if (plain && (keys.length > 0 || allow.length > 0 || values['allow-file'] || joins.length > 0)) {
    throw usageError(
      '--plain has no keys: it cannot be combined with --peer-key, --allow, --allow-file or --join',
    )
  }
  if (plain && dht) {
    throw usageError(
      '--plain is TCP only: it cannot be combined with --dht, --room, --bootstrap, --relay or a peer given by its key',
    )
  }
  return {
    command,
    listen,
    ...(dht ? { dht } : {}),
    peers,
    pins,
    name: name.trim(),
    json: values.json ?? false,
    waitMs: seconds('--wait', values.wait, DEFAULT_WAIT_MS, 0),
    recvOnly: values['recv-only'] ?? false,
    ...(values['share-history'] === true ? { shareHistory: true } : {}),
    ...(values['data-dir'] !== undefined ? { dataDir: nonEmpty('--data-dir', values['data-dir']) } : {}),
    plain,
    allow,
    ...(values['allow-file'] !== undefined
      ? { allowFile: nonEmpty('--allow-file', values['allow-file']) }
      : {}),
    joins,
    history: count('--history', values.history),
    deadAfterMs: seconds('--dead-after', values['dead-after'], DEFAULT_DEAD_AFTER_MS, 1),
    ...(values['log-file'] !== undefined ? { logFile: nonEmpty('--log-file', values['log-file']) } : {}),
    rate: bounded('--rate', values.rate, DEFAULT_RATE, 0, 1_000_000),
    burst: bounded('--burst', values.burst, DEFAULT_BURST, 1, 1_000_000),
    rateBytes: bounded(
      '--rate-bytes',
      values['rate-bytes'],
      DEFAULT_RATE_BYTES,
      0,
      1_000_000_000,
      'bytes a second',
    ),
    handshakeTimeoutMs: seconds(
      '--handshake-timeout',
      values['handshake-timeout'],
      DEFAULT_HANDSHAKE_TIMEOUT_MS,
      1,
    ),
    maxFrame: bounded(
      '--max-frame',
      values['max-frame'],
      DEFAULT_MAX_FRAME_BYTES,
      1024,
      16 * 1024 * 1024,
      'bytes',
    ),
    window: bounded('--window', values.window, DEFAULT_WINDOW, 1, 100_000),
    diskQuota: diskQuota(values['disk-quota']),
    help: values.help ?? false,
    version: values.version ?? false,
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: true })
}

/**
 * The flags each command other than chat reads: a chat flag given to one of them would be ignored, so it
 * is refused instead (`parley room --peer …` makes no one join). `--help` and `--version` go anywhere.
 */
const COMMAND_FLAGS: Readonly<Record<Exclude<Command, 'chat'>, readonly (keyof typeof OPTIONS)[]>> = {
  id: ['data-dir', 'json'],
  invite: ['listen', 'data-dir', 'dht', 'bootstrap', 'json'],
  room: ['bootstrap', 'json'],
  bootstrap: ['listen', 'bootstrap', 'json'],
  relay: ['listen', 'data-dir', 'dht', 'bootstrap', 'json'],
}

function refuseUnusedFlags(command: Command, values: Readonly<Record<string, unknown>>): void {
  if (command === 'chat') return
  const takes: readonly string[] = COMMAND_FLAGS[command]
  const unused = Object.keys(values).find(
    (flag) => values[flag] !== undefined && flag !== 'help' && flag !== 'version' && !takes.includes(flag),
  )
  if (unused === undefined) return
  const options = takes.map((flag) => `--${flag}`).join(', ')
  throw usageError(
    `"${command}" does not take --${unused}; it takes ${options === '' ? 'no options' : options}`,
  )
}

function commandOf(positionals: string[]): Command {
  if (positionals.length === 0) return 'chat'
  const [first, ...rest] = positionals
  if (rest.length > 0) throw usageError(`unexpected argument "${rest[0]}"`)
  const command = COMMANDS.find((c) => c === first)
  if (command) return command
  throw usageError(`unknown command "${first}"; the commands are ${COMMANDS.map((c) => `"${c}"`).join(', ')}`)
}

/** A `--relay` key as hex; a malformed one is told where a relay key comes from. */
function relayKey(text: string): string {
  try {
    return parsePublicKey(text).toString('hex')
  } catch (error) {
    if (!(error instanceof DhtError)) throw error
    throw new DhtError(
      'BAD_KEY',
      `"${text}" is not a relay key: expected the 64 hex characters that parley relay prints on its last line`,
      { cause: error },
    )
  }
}

/** The DHT settings, or undefined when nothing asks for the DHT. */
function dhtFlags(
  values: ReturnType<typeof parse>['values'],
  targets: readonly string[],
): DhtFlags | undefined {
  const rooms = values.room ?? []
  const byKey = targets.some((target) => DHT.owns(target))
  const wanted =
    values.dht === true ||
    byKey ||
    rooms.length > 0 ||
    values.bootstrap !== undefined ||
    values.relay !== undefined
  if (!wanted) return undefined
  try {
    // One room given twice (the same code, or written another way) is joined once: twice, the second
    // join found only this node there and said the room was empty.
    const seen = new Set<string>()
    const distinct = rooms.filter((code) => {
      const room = parseRoomCode(code).toString('hex')
      if (seen.has(room)) return false
      seen.add(room)
      return true
    })
    return {
      rooms: distinct,
      ...(values.bootstrap !== undefined ? { bootstrap: parseBootstrap(values.bootstrap) } : {}),
      ...(values.relay !== undefined ? { relay: relayKey(values.relay) } : {}),
    }
  } catch (error) {
    if (error instanceof DhtError) {
      const flag =
        { BAD_ROOM_CODE: '--room', BAD_BOOTSTRAP: '--bootstrap' }[error.code as string] ?? '--relay'
      // A message that starts by naming its flag already is not prefixed with it again.
      throw usageError(error.message.startsWith(`${flag} `) ? error.message : `${flag}: ${error.message}`)
    }
    throw error
  }
}

/** An address to dial: port 0 only means "any port" when listening, and nothing answers there. */
function dialable(flag: string, target: Address): Address {
  const problem = dialProblem(target)
  if (problem) throw usageError(`${flag}: ${problem}`)
  return target
}

function address(flag: string, text: string): Address {
  try {
    return parseAddress(text)
  } catch (error) {
    if (error instanceof AddressError) {
      if (isAddressInvite(text))
        throw usageError(
          `${flag}: "${text.trim()}" is an invite: give it to --join (parley --join INVITE), which dials its address with its key pinned`,
        )
      const keyProblem = keyProblemOf(text, error)
      throw usageError(
        keyProblem === undefined
          ? `${flag}: ${error.message}`
          : `${flag}: ${keyProblem}; copy the key again from "parley id" on the other side, or use its parley:// invite`,
      )
    }
    throw error
  }
}

function seconds(flag: string, text: string | undefined, fallbackMs: number, minimum: number): number {
  if (text === undefined) return fallbackMs
  // Decimal only: Number() would also take "0x10" or "1e3".
  const value = /^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isFinite(value) || value < minimum || value > 86_400) {
    throw usageError(`${flag} takes a number of seconds (${minimum}-86400), got "${text}"`)
  }
  // A moment above 0 stays above it: 0 may mean "as long as it takes".
  return value > 0 ? Math.max(1, Math.round(value * 1000)) : 0
}

function count(flag: string, text: string | undefined): number {
  if (text === undefined) return 0
  if (!/^\d{1,6}$/.test(text)) throw usageError(`${flag} takes a whole number (0-999999), got "${text}"`)
  return Number(text)
}

/** `unit`: what the number counts (`bytes`), said in the error so that no one counts characters instead. */
function bounded(
  flag: string,
  text: string | undefined,
  fallback: number,
  min: number,
  max: number,
  unit?: string,
): number {
  if (text === undefined) return fallback
  if (!/^\d{1,9}$/.test(text) || Number(text) < min || Number(text) > max) {
    const what = unit === undefined ? 'a whole number' : `a whole number of ${unit}`
    throw usageError(`${flag} takes ${what} from ${min} to ${max}, got "${text}"`)
  }
  return Number(text)
}

const MiB = 1024 * 1024

function diskQuota(text: string | undefined): JournalQuota {
  if (text === undefined) return DEFAULT_JOURNAL_QUOTA
  const match = /^(\d{1,7})(?:,(\d{1,7}))?$/.exec(text)
  const perOrigin = Number(match?.[1]) * MiB
  const total =
    match?.[2] === undefined ? Math.max(perOrigin, DEFAULT_JOURNAL_QUOTA.total) : Number(match[2]) * MiB
  if (!match || perOrigin < MiB || total < perOrigin) {
    throw usageError(
      `--disk-quota takes MiB per member and, after a comma, MiB in all (at least as many), such as 256,2048; got "${text}"`,
    )
  }
  return { perOrigin, total }
}

function nonEmpty(flag: string, text: string): string {
  if (text.trim() === '') throw usageError(`${flag} needs a path`)
  return text
}

/** The name to go by without --name, and where it came from (for the error when it cannot be used). */
function defaultName(env: NodeJS.ProcessEnv): { name: string; from: string } {
  for (const variable of ['PARLEY_NAME', 'USER', 'LOGNAME'] as const) {
    const value = env[variable]
    if (value) return { name: value, from: `$${variable}` }
  }
  try {
    const username = userInfo().username
    if (username) return { name: username, from: 'your user account' }
  } catch {
    // No user database entry (a container's numeric uid): fall through.
  }
  return { name: 'anonymous', from: 'the default' }
}

function usageError(reason: string): FatalError {
  return new FatalError(ExitCode.USAGE, `${reason} (see --help)`)
}

/** node:util's messages mention internals ("To specify an option argument..."); keep the first sentence. */
function simplifyParseError(message: string): string {
  // Node calls a value that starts with "-" ambiguous (it may be the next option): say what to type.
  const ambiguous = /^Option '(-[\w-]+)' argument is ambiguous/.exec(message)
  if (ambiguous) {
    const flag = ambiguous[1]!
    // `-p=-x` would give the value "=-x": only the long name takes `=`.
    return `${flag} needs a value after it; a value that starts with "-" is written ${longName(flag)}=-VALUE`
  }
  const missing = /^Option '(?:-\w, )?(--[\w-]+) <value>' argument missing/.exec(message)
  if (missing) return `${missing[1]} needs a value after it`
  // `--json=yes`: a switch takes no value, and the message says so in the words of the others.
  const switchValue = /^Option '(?:-\w, )?(--[\w-]+)' does not take an argument/.exec(message)
  if (switchValue) return `${switchValue[1]} is a switch and takes no value: write ${switchValue[1]} alone`
  const unknown = /^Unknown option '(-[^']*)'/.exec(message)
  if (unknown) {
    const given = unknown[1]!
    const closest = closestOption(given)
    return `unknown option ${given}${closest ? `; did you mean ${closest}?` : ''}`
  }
  const first = message.split(/\.\s|\n/)[0] ?? message
  return first.replace(/\.$/, '')
}

/** The long form of a flag: `--peer` for `-p`; a long flag as it is. */
function longName(flag: string): string {
  if (flag.startsWith('--')) return flag
  const letter = flag.slice(1)
  const name = Object.entries(OPTIONS).find(([, spec]) => (spec as { short?: string }).short === letter)?.[0]
  return name === undefined ? flag : `--${name}`
}

/** The long option nearest to a mistyped one (`--lissen` → `--listen`), when one is close enough. */
export function closestOption(given: string): string | undefined {
  const word = given.replace(/^-+/, '').split('=')[0]!.toLowerCase()
  let best: { name: string; distance: number } | undefined
  for (const name of Object.keys(OPTIONS)) {
    const distance = name.startsWith(word) && word.length >= 3 ? 0.5 : editDistance(word, name)
    if (!best || distance < best.distance) best = { name, distance }
  }
  if (!best || best.distance > Math.max(1, Math.floor(word.length / 3))) return undefined
  return `--${best.name}`
}

/**
 * Edits between two words: a letter added, dropped or changed, or two neighbours swapped (`--plian` is
 * one edit from `--plain`, the commonest slip of the fingers).
 */
function editDistance(a: string, b: string): number {
  let before: number[] = []
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      let best = Math.min(
        previous[j]! + 1,
        row[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      )
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, before[j - 2]! + 1)
      row.push(best)
    }
    before = previous
    previous = row
  }
  return previous[b.length]!
}
