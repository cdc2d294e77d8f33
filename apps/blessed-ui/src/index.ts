import { runProgram } from '@parley/launcher'
import { main } from './main.js'
import { restoreTerminal } from './view/terminal.js'

export { KeyDecoder, type KeyEvent } from './input/key-decoder.js'
export { fail, main, SUMMARY, version } from './main.js'
export { ChatModel, type ChatOptions, type Effect, type Entry, type Frame, nickColour } from './model/chat.js'
export { InputLine } from './model/input-line.js'
export { DEFAULT_CAP, MessageList } from './model/message-list.js'
export { type GraphemeWidth, graphemeWidth } from './text/width.js'
export type { TuiIo } from './view/tui.js'

/** The `parley-tui` executable: wires the process to `main`, restores the terminal on every way out, exits. */
export function run(argv: readonly string[]): void {
  // A terminal that hung up fails every write (EIO): SIGHUP, on its way, shuts the node down cleanly; the
  // screen has nobody left to show to, so the failed writes are dropped rather than thrown.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined)
  runProgram(
    { name: 'parley-tui', signals: ['SIGINT', 'SIGTERM', 'SIGHUP'], cleanup: restoreTerminal },
    (interrupted) =>
      main(argv, {
        stdin: process.stdin,
        stdout: process.stdout,
        stderr: process.stderr,
        env: process.env,
        interrupted,
      }),
  )
}
