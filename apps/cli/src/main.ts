import { readFileSync } from 'node:fs'
import * as readline from 'node:readline'
import type { NodeEvent, ParleyNode } from '@parley/core'
import {
  describeEvent,
  ExitCode,
  FatalError,
  type Flags,
  parseFlags,
  splitBody,
  startNode,
  usage,
} from '@parley/launcher'
import { formatMessage, formatStatus, jsonEvent, jsonSent } from './output.js'

export interface Io {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean }
  stdout: NodeJS.WritableStream & { isTTY?: boolean }
  stderr: NodeJS.WritableStream
  env: NodeJS.ProcessEnv
  /** Resolves when the user asks to quit (Ctrl-C, SIGTERM). */
  interrupted: Promise<void>
}

export const SUMMARY = 'peer-to-peer chat for the terminal; each line you type is one message'

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  return pkg.version
}

/** Runs the line-mode chat; resolves with the process exit code. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  let flags: Flags
  try {
    flags = parseFlags(argv, io.env)
  } catch (error) {
    return fail(io, error)
  }
  if (flags.help) {
    io.stdout.write(`${usage('parley', SUMMARY)}\n`)
    return ExitCode.OK
  }
  if (flags.version) {
    io.stdout.write(`parley ${version()}\n`)
    return ExitCode.OK
  }
  const interactive = Boolean(io.stdin.isTTY && io.stdout.isTTY) && !flags.json
  const rl = readline.createInterface({
    input: io.stdin,
    ...(interactive ? { output: io.stdout, terminal: true, prompt: '> ' } : { terminal: false }),
  })
  rl.pause()
  // Incoming lines are printed above the prompt, then the prompt and the half-typed line are redrawn.
  const print = (stream: NodeJS.WritableStream, text: string) => {
    if (!interactive) {
      stream.write(`${text}\n`)
      return
    }
    readline.clearLine(io.stdout, 0)
    readline.cursorTo(io.stdout, 0)
    stream.write(`${text}\n`)
    rl.prompt(true)
  }
  const json = (value: Record<string, unknown>) => io.stdout.write(`${JSON.stringify(value)}\n`)
  const onEvent = (event: NodeEvent) => {
    if (flags.json) {
      json(jsonEvent(event))
      if (event.type === 'link-error') io.stderr.write(`${formatStatus(describeEvent(event)!)}\n`)
      return
    }
    if (event.type === 'message') {
      print(io.stdout, formatMessage(event.from.name, event.body, event.ts, Boolean(io.stdout.isTTY)))
      return
    }
    const status = describeEvent(event)
    if (status) print(io.stderr, formatStatus(status))
  }
  let node: ParleyNode
  try {
    node = await startNode(flags, onEvent)
  } catch (error) {
    rl.close()
    return fail(io, error)
  }
  return chat(node, flags, io, rl, json)
}

async function chat(
  node: ParleyNode,
  flags: Flags,
  io: Io,
  rl: readline.Interface,
  json: (value: Record<string, unknown>) => void,
): Promise<number> {
  const interactive = Boolean(io.stdin.isTTY && io.stdout.isTTY) && !flags.json
  let sent = 0
  rl.on('line', (line) => {
    for (const body of splitBody(line)) {
      const message = node.send(body)
      sent++
      if (flags.json) json(jsonSent(message, body))
    }
    if (interactive) rl.prompt()
  })
  if (interactive) rl.prompt()

  const inputEnded = new Promise<'eof'>((resolve) => rl.once('close', () => resolve('eof')))
  rl.resume()
  const reason = await Promise.race([inputEnded, io.interrupted.then(() => 'interrupt' as const)])
  rl.close()

  let code: number = ExitCode.OK
  if (reason === 'eof' && node.pending > 0) {
    const note = (text: string) => io.stderr.write(`parley: ${text}\n`)
    note(
      `input ended; waiting up to ${flags.waitMs / 1000}s for ${node.pending} message(s) to be acknowledged`,
    )
    const left = await Promise.race([
      node.whenDelivered(flags.waitMs),
      io.interrupted.then(() => node.pending),
    ])
    if (left === 0) note(`all ${sent} message(s) delivered`)
    else {
      note(
        `${left} of ${sent} message(s) were not delivered: no peer acknowledged them (is the peer running?)`,
      )
      code = ExitCode.UNDELIVERED
    }
  }
  await node.close(reason === 'interrupt' ? 'quit' : 'input ended')
  return code
}

function fail(io: Io, error: unknown): number {
  if (error instanceof FatalError) {
    io.stderr.write(`parley: ${error.message}\n`)
    return error.exitCode
  }
  const message = error instanceof Error ? error.message : String(error)
  io.stderr.write(`parley: internal error: ${message} (please report this)\n`)
  if (process.env.PARLEY_DEBUG && error instanceof Error) io.stderr.write(`${error.stack}\n`)
  return ExitCode.INTERNAL
}
