import type { NodeEvent } from '@parley/core'
import {
  ExitCode,
  FatalError,
  type Flags,
  type LinkRoute,
  packageVersion,
  parseFlags,
  reportFailure,
  usage,
} from '@parley/launcher'
import { NodeThread } from './node-thread/node-thread.js'
import type { PreparedTerminal } from './view/prepare.js'
import { restoreTerminal } from './view/terminal.js'
import type { TuiIo } from './view/tui.js'

export const SUMMARY = 'peer-to-peer chat for the terminal, full screen'

export function version(): string {
  return packageVersion(new URL('../package.json', import.meta.url))
}

/**
 * The screen's modules (blessed, the model, the width tables), loaded once the node thread was told to start.
 * Also what the build runs to make the bundle's code cache hold them.
 */
export function loadScreen(): Promise<typeof import('./view/tui.js')> {
  return import('./view/tui.js')
}

/** Runs parley-tui; resolves with the process exit code. */
export async function main(argv: readonly string[], io: TuiIo): Promise<number> {
  let flags: Flags
  let starting: Promise<NodeThread> | undefined
  let node: NodeThread | undefined
  let terminal: PreparedTerminal | undefined
  try {
    flags = parseFlags(argv, io.env)
    if (flags.help) {
      io.stdout.write(`${usage('parley-tui', SUMMARY, 'screen')}\n`)
      return ExitCode.OK
    }
    if (flags.version) {
      io.stdout.write(`parley-tui ${version()}\n`)
      return ExitCode.OK
    }
    if (flags.command !== 'chat') {
      throw new FatalError(
        ExitCode.USAGE,
        `"${flags.command}" is a line-mode command: run parley ${flags.command}`,
      )
    }
    if (flags.json)
      throw new FatalError(ExitCode.USAGE, '--json is for line mode: use parley --json (see --help)')
    if (!io.stdin.isTTY || !io.stdout.isTTY) {
      throw new FatalError(
        ExitCode.USAGE,
        'needs a terminal on stdin and stdout; for pipes and scripts use parley (line mode)',
      )
    }
    // Listen before taking over the screen, so a taken port is one plain line on a normal terminal.
    // Events that come before the screen exists wait in `early` and are replayed to it.
    // A connection comes with how its link was made (direct TCP, holepunched, relayed).
    const early: [NodeEvent, LinkRoute | undefined][] = []
    let deliver: (event: NodeEvent, route?: LinkRoute) => void = (event, route) => {
      early.push([event, route])
    }
    // The node runs on a thread of its own, so that a flood never holds up keys and drawing here. It is
    // told to start first: it starts the node while this thread loads the screen's modules (blessed) and
    // asks the terminal how it draws emoji (nothing is drawn yet).
    // A signal while the node starts stops the start (a DHT join may wait seconds for bootstrap nodes that
    // never answer): it fails with a line and exit 0, as a quit. Until the screen exists, what the start
    // says while it takes long goes on the terminal as a line, once the probe has given the terminal back.
    const interrupt = new AbortController()
    void io.interrupted.then(() => interrupt.abort())
    let probed: Promise<unknown> = Promise.resolve()
    const progress = (text: string) => {
      void probed.then(() => io.stderr.write(`parley-tui: ${text}\n`))
    }
    starting = NodeThread.start({ argv, env: { ...io.env } }, (event, route) => deliver(event, route), {
      signal: interrupt.signal,
      onProgress: progress,
    })
    // Awaited below, or in `catch` when something else fails first.
    starting.catch(() => undefined)
    // The probe is written first: the terminal answers while the screen's modules load.
    terminal = (await import('./view/prepare.js')).prepareTerminal(io)
    probed = terminal.probe.catch(() => undefined)
    const screen = loadScreen()
    screen.catch(() => undefined)
    node = await starting
    const { runTui } = await screen
    return await runTui(
      node,
      flags,
      io,
      (handler) => {
        for (const [event, route] of early.splice(0)) handler(event, route)
        deliver = handler
      },
      terminal,
    )
  } catch (error) {
    // A node thread told to start is closed, started or not, so that no lock of its data dir is left.
    node ??= await starting?.catch(() => undefined)
    await node?.close('error').catch(() => undefined)
    // The probe ends by erasing its line: it must be done before the error is printed there.
    await terminal?.probe
    return fail(error)
  }
}

/** Gives the terminal back, then prints one line; returns the exit code for `error`. */
export function fail(error: unknown): number {
  restoreTerminal()
  return reportFailure('parley-tui', error)
}
