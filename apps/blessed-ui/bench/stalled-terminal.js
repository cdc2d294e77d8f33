#!/usr/bin/env node
// Stalled-terminal benchmark (not a test): parley-tui's terminal stops reading (its tmux server is stopped
// with SIGSTOP, as a stalled SSH link or a suspended terminal would) while a parley CLI peer floods it.
// Reports parley-tui's RSS each second meanwhile, which must level off: the node's thread waits once the
// screen's thread lags too far behind (src/node-thread/flow-gate.ts), and then reads no link. Then the
// terminal resumes and it reports how long the last message took to show. Needs `pnpm build` and tmux.
// STALL_MESSAGES=N changes the flood (default 60,000), STALL_SECONDS=N the stall (default 15),
// STALL_TUI=FILE runs another build's parley-tui.js.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { builtBinaries, sleep, stopTmux, tmuxOn, until } from './harness.js'

const MESSAGES = Number(process.env.STALL_MESSAGES ?? 60_000)
const SECONDS = Number(process.env.STALL_SECONDS ?? 15)
const { tui: TUI, cli: CLI } = builtBinaries(process.env.STALL_TUI)
const dir = mkdtempSync(join(tmpdir(), 'parley-stall-'))
const socket = join(dir, 'tmux')
const tmux = tmuxOn(socket)

// The CLI stops reading its input once its outbox has stayed full without an acknowledgement for --wait
// seconds (10 by default), which the stall outlasts: it waits longer here.
const cli = spawn(
  process.execPath,
  [CLI, '--listen', '127.0.0.1:0', '--name', 'flood', '--json', '--wait', String(SECONDS + 120)],
  {
    stdio: 'pipe',
    env: { ...process.env, XDG_DATA_HOME: join(dir, 'cli-data') },
  },
)
let cliOut = ''
let cliErr = ''
cli.stderr.setEncoding('utf8').on('data', (chunk) => {
  cliErr += chunk
})
// Had the CLI stopped taking the flood, the write would fail: say why instead of crashing on it.
cli.stdin.on('error', (error) =>
  console.error(`the CLI stopped reading the flood (${error.message}): ${cliErr}`),
)
cli.stdout.setEncoding('utf8').on('data', (chunk) => {
  // Only the start matters (listening, connected); the flood's "sent" lines would fill memory.
  if (cliOut.length < 100_000) cliOut += chunk
})
let server
try {
  const port = await until(
    'the CLI to listen',
    () => /"listening","address":"[^"]*:(\d+)"/.exec(cliOut)?.[1],
    10_000,
  )
  const trace = join(dir, 'trace')
  tmux(
    'new-session',
    '-d',
    '-x',
    '120',
    '-y',
    '40',
    '-s',
    'tui',
    `PARLEY_TUI_TRACE=${trace} XDG_DATA_HOME=${join(dir, 'tui-data')} ${process.execPath} ${TUI} --rate 0 --listen 127.0.0.1:0 --peer 127.0.0.1:${port} --name bench`,
  )
  await until('the connection', () => cliOut.includes('"type":"connected"'), 10_000)
  await until('the first frame', () => existsSync(trace) && readFileSync(trace, 'utf8').includes(' render '))
  const pid = Number(/ start (\d+)/.exec(readFileSync(trace, 'utf8'))[1])
  const rss = () =>
    Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024)
  server = Number(tmux('display-message', '-p', '#{pid}').trim())
  const before = rss()
  process.kill(server, 'SIGSTOP')
  const lines = Array.from(
    { length: MESSAGES },
    (_, i) => `flood ${i + 1} of ${MESSAGES}: the quick brown fox 😀 日本語`,
  )
  cli.stdin.write(`${lines.join('\n')}\n`)
  const samples = []
  for (let i = 0; i < SECONDS; i++) {
    await sleep(1000)
    samples.push(rss())
  }
  process.kill(server, 'SIGCONT')
  server = undefined
  const resumed = Date.now()
  await until(
    'the last message on screen',
    () => tmux('capture-pane', '-p', '-t', 'tui').includes(`flood ${MESSAGES} of ${MESSAGES}`),
    180_000,
  )
  console.log(
    `stalled-terminal benchmark: ${MESSAGES} messages while the terminal reads nothing for ${SECONDS} s`,
  )
  console.log(`  parley-tui RSS before              ${before} MB`)
  console.log(`  … each second while stalled       ${samples.join(' ')} MB`)
  console.log(`  last message on screen after the terminal resumed  ${Date.now() - resumed} ms`)
} finally {
  if (server) process.kill(server, 'SIGCONT')
  stopTmux(socket)
  cli.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
}
