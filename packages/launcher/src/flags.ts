import { userInfo } from 'node:os'
import { parseArgs } from 'node:util'
import { type Address, AddressError, parseAddress } from '@parley/core'
import { ExitCode, FatalError } from './exit-codes.js'

/** Everything a frontend needs to start a node, parsed and checked. */
export interface Flags {
  listen: Address
  peers: Address[]
  name: string
  json: boolean
  /** How long to wait for acknowledgements when input ends (ms). */
  waitMs: number
  help: boolean
  version: boolean
}

export const DEFAULT_LISTEN = '127.0.0.1:1235'
export const DEFAULT_WAIT_MS = 10_000

const OPTIONS = {
  listen: { type: 'string', short: 'l' },
  peer: { type: 'string', short: 'p', multiple: true },
  name: { type: 'string', short: 'n' },
  json: { type: 'boolean' },
  wait: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const

/** The flag reference shown by `--help`, shared by every frontend. */
export function usage(program: string, summary: string): string {
  return `${program}: ${summary}

Usage: ${program} [--listen HOST:PORT] [--peer HOST:PORT]... [--name NAME] [options]

Options:
  -l, --listen HOST:PORT  address to listen on (default ${DEFAULT_LISTEN}; port 0 picks a free port)
  -p, --peer HOST:PORT    peer to dial, redialed until it answers; repeatable
  -n, --name NAME         display name (default: your user name)
      --json              one JSON object per line on stdout for every event
      --wait SECONDS      when input ends, wait this long for acknowledgements (default ${DEFAULT_WAIT_MS / 1000})
  -h, --help              show this help
  -V, --version           show the version

IPv6 addresses are written in brackets: [::1]:4001.
Exit codes: 0 ok, 1 internal error, 2 bad usage, 3 cannot listen, 4 messages left undelivered.`
}

/**
 * Parses command-line flags.
 * @throws FatalError with exit code USAGE and a one-line reason
 */
export function parseFlags(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Flags {
  let values: ReturnType<typeof parse>['values']
  try {
    values = parse(argv).values
  } catch (error) {
    throw usageError(error instanceof Error ? simplifyParseError(error.message) : String(error))
  }
  const listen = address('--listen', values.listen ?? DEFAULT_LISTEN)
  const peers = (values.peer ?? []).map((p) => address('--peer', p))
  const name = values.name ?? defaultName(env)
  if (name.trim() === '' || name.length > 64 || /[\p{Cc}]/u.test(name)) {
    throw usageError(`--name must be 1-64 printable characters, got ${JSON.stringify(name)}`)
  }
  let waitMs = DEFAULT_WAIT_MS
  if (values.wait !== undefined) {
    const seconds = Number(values.wait)
    if (!Number.isFinite(seconds) || seconds < 0 || seconds > 86_400) {
      throw usageError(`--wait takes a number of seconds (0-86400), got "${values.wait}"`)
    }
    waitMs = Math.round(seconds * 1000)
  }
  return {
    listen,
    peers,
    name: name.trim(),
    json: values.json ?? false,
    waitMs,
    help: values.help ?? false,
    version: values.version ?? false,
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false })
}

function address(flag: string, text: string): Address {
  try {
    return parseAddress(text)
  } catch (error) {
    if (error instanceof AddressError) throw usageError(`${flag}: ${error.message}`)
    throw error
  }
}

function defaultName(env: NodeJS.ProcessEnv): string {
  try {
    return env.PARLEY_NAME || env.USER || env.LOGNAME || userInfo().username || 'anonymous'
  } catch {
    return 'anonymous'
  }
}

function usageError(reason: string): FatalError {
  return new FatalError(ExitCode.USAGE, `${reason} (see --help)`)
}

/** node:util's messages mention internals ("To specify an option argument..."); keep the first sentence. */
function simplifyParseError(message: string): string {
  const first = message.split('. ')[0] ?? message
  return first.replace(/\.$/, '')
}
