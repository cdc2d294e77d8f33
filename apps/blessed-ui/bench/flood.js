#!/usr/bin/env node
// Flood benchmark (not a test): 10,000 messages arrive from a parley CLI peer while keys are typed into
// parley-tui running in tmux. Reports how fast the messages reached the screen, how long after its arrival
// the last one was on screen, and how long a typed key took to be echoed (median and p90), next to the same
// key echo with no flood. Needs `pnpm build` and tmux.
// Keys and pane captures go through one tmux control-mode client (`tmux -C`): starting a tmux client process
// for each key takes about 25 ms on a busy 2-core machine, which would be measured as key echo.
// parley-tui runs with --rate 0: the default per-peer limit (200 msg/s after a burst of 1,000) would make
// "rendered/s" a measure of that policy, not of the renderer. FLOOD_RATE=N runs it with --rate N instead.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { builtBinaries, sleep, stopTmux, tmuxOn, until as waitUntil } from './harness.js'

const MESSAGES = Number(process.env.FLOOD_MESSAGES ?? 10_000)
const RATE = Number(process.env.FLOOD_RATE ?? 0)
// FLOOD_PROFILE=DIR writes a CPU profile of parley-tui there.
const profile = process.env.FLOOD_PROFILE ? `--cpu-prof --cpu-prof-dir=${process.env.FLOOD_PROFILE}` : ''
// FLOOD_NODE_FLAGS='--max-semi-space-size=32' runs parley-tui with more Node.js flags, to try V8 settings.
const nodeFlags = process.env.FLOOD_NODE_FLAGS ?? ''
// FLOOD_TUI=FILE runs another build of parley-tui (to compare two builds on one machine, run for run).
const { tui: TUI, cli: CLI } = builtBinaries(process.env.FLOOD_TUI)

const dir = mkdtempSync(join(tmpdir(), 'parley-flood-'))
const trace = join(dir, 'trace')
// FLOOD_TMUX_SOCKET=PATH puts the tmux server's socket there, for a caller that may have to stop it.
const socket = process.env.FLOOD_TMUX_SOCKET || join(dir, 'tmux')
const tmux = tmuxOn(socket)
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const p90 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)]

/** Keys are timed in milliseconds: poll often. */
const until = (what, probe, timeoutMs) => waitUntil(what, probe, timeoutMs, 5)

/** Complete lines of the trace parley-tui writes; a line it is still writing is left for the next read. */
function traceLines() {
  if (!existsSync(trace)) return []
  const text = readFileSync(trace, 'utf8')
  return text.slice(0, text.lastIndexOf('\n') + 1).split('\n')
}

/**
 * Frames written by parley-tui: "<ms> render <full|input> <received> <newest arrival ms> <ms taken> <input
 * as JSON>".
 */
function renders() {
  return traceLines()
    .filter((l) => l.includes(' render '))
    .map((l) => {
      const fields = l.split(' ')
      if (fields[2] !== 'full' && fields[2] !== 'input') {
        // An earlier build (FLOOD_TUI) wrote "<ms> render <received> <input as JSON>".
        const [t, , received, ...rest] = fields
        const input = JSON.parse(rest.join(' '))
        return {
          t: Number(t),
          kind: 'full',
          received: Number(received),
          arrived: Number.NaN,
          took: Number.NaN,
          input,
        }
      }
      const [t, , kind, received, arrived, took, ...rest] = fields
      return {
        t: Number(t),
        kind,
        received: Number(received),
        arrived: Number(arrived),
        took: Number(took),
        input: JSON.parse(rest.join(' ')),
      }
    })
}

/** Garbage collection pauses in parley-tui: "<ms> gc <duration ms> <kind: 1 minor, 4 major, 8 incremental>". */
function collections() {
  return traceLines()
    .filter((l) => l.includes(' gc '))
    .map((l) => {
      const [t, , ms, kind] = l.split(' ')
      return { t: Number(t), ms: Number(ms), kind: Number(kind) }
    })
}

/**
 * One tmux control-mode client (`tmux -C`), attached to a session of its own so that it gets no copy of
 * parley-tui's output and does not change the size of its window. Commands are answered in order, each
 * between `%begin` and `%end` (or `%error`).
 */
class ControlClient {
  constructor() {
    this.waiting = []
    this.block = undefined
    this.buffer = ''
    this.child = spawn('tmux', ['-S', socket, '-f', '/dev/null', '-C', 'attach', '-t', 'control'], {
      stdio: ['pipe', 'pipe', 'ignore'],
    })
    this.child.stdout.setEncoding('utf8').on('data', (chunk) => {
      this.buffer += chunk
      let end = this.buffer.indexOf('\n')
      while (end >= 0) {
        this.line(this.buffer.slice(0, end))
        this.buffer = this.buffer.slice(end + 1)
        end = this.buffer.indexOf('\n')
      }
    })
  }

  line(text) {
    if (this.block === undefined) {
      if (text.startsWith('%begin ')) this.block = []
      return
    }
    if (text.startsWith('%end ') || text.startsWith('%error ')) {
      const lines = this.block
      this.block = undefined
      const next = this.waiting.shift()
      if (!next) return
      if (text.startsWith('%error ')) next.reject(new Error(`tmux: ${lines.join(' ')}`))
      else next.resolve(lines)
      return
    }
    this.block.push(text)
  }

  /** Sends one command line; resolves with its output lines. */
  command(line) {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject })
      this.child.stdin.write(`${line}\n`)
    })
  }

  close() {
    this.child.stdin.end()
    this.child.kill()
  }
}

/** When input reached parley-tui's key handler: "<ms> input". */
function inputs() {
  return traceLines()
    .filter((l) => l.endsWith(' input'))
    .map((l) => Number(l.split(' ')[0]))
}

/**
 * Types `count` keys (more while `keepGoing()`), one every `gapMs` whether or not the last one has been
 * echoed yet, as a typist would, then measures each key's echo from the render trace: in total, and inside
 * parley-tui (from its input handler to the frame). Waiting for each echo before the next key would sample
 * a long stall only once, and would fall into step with the 33 ms frame timer.
 */
async function typeKeys(count, gapMs, keepGoing = () => false) {
  const before = renders().at(-1)?.input.length ?? 0
  const sent = []
  for (let i = 0; i < count || keepGoing(); i++) {
    sent.push(Date.now())
    void control.command('send-keys -t tui -l x')
    await sleep(gapMs)
  }
  const typed = before + sent.length
  const last = sent.at(-1)
  await until(
    'the last key echo',
    () => renders().some((r) => r.t >= last && r.input.length >= typed),
    10_000,
  )
  const frames = renders()
  const arrivals = inputs()
  return sent.map((at, i) => {
    const shown = frames.find((r) => r.t >= at && r.input.length >= before + i + 1)
    const arrived = arrivals.find((t) => t >= at)
    return {
      sent: at,
      latency: shown.t - at,
      inside: arrived === undefined || arrived > shown.t ? undefined : shown.t - arrived,
    }
  })
}

let control

const latencies = (keys) => keys.map((k) => k.latency)
const insides = (keys) => keys.filter((k) => k.inside !== undefined).map((k) => k.inside)

// Each node gets its own data dir: two nodes on one machine must not share (and lock) the default one.
const cli = spawn(process.execPath, [CLI, '--listen', '127.0.0.1:0', '--name', 'flood', '--json'], {
  stdio: 'pipe',
  env: { ...process.env, XDG_DATA_HOME: join(dir, 'cli-data') },
})
let cliOut = ''
let cliErr = ''
// When the CLI said it accepted the last line of the flood (its "sent" line: durable in its outbox).
const lastLine = `"body":"flood ${MESSAGES} of ${MESSAGES}:`
let lastAccepted
cli.stdout.setEncoding('utf8').on('data', (c) => {
  cliOut += c
  if (lastAccepted === undefined && cliOut.includes(lastLine, Math.max(0, cliOut.length - c.length - 200)))
    lastAccepted = Date.now()
})
cli.stderr.setEncoding('utf8').on('data', (c) => {
  cliErr += c
})
try {
  const port = await until(
    'the CLI to listen',
    () => /"listening","address":"[^"]*:(\d+)"/.exec(cliOut)?.[1],
    10_000,
  ).catch((error) => {
    throw new Error(`${error.message}: ${cliErr}`)
  })
  // Spawn to the first frame, which shows the `listening` line: what a user waits for at every start.
  const spawned = Date.now()
  tmux(
    'new-session',
    '-d',
    '-x',
    '120',
    '-y',
    '40',
    '-s',
    'tui',
    `PARLEY_TUI_TRACE=${trace} XDG_DATA_HOME=${join(dir, 'tui-data')} ${process.execPath} ${profile} ${nodeFlags} ${TUI} --rate ${RATE} --listen 127.0.0.1:0 --peer 127.0.0.1:${port} --name bench`,
  )
  tmux('new-session', '-d', '-s', 'control', 'cat')
  control = new ControlClient()
  // The reply to the first command also says the client is attached.
  await control.command('display-message -p ready')
  await until('the connection', () => cliOut.includes('"type":"connected"'), 10_000)
  await until('the first frame', () => renders().length > 0, 10_000)
  const firstFrameMs = renders()[0].t - spawned
  const pid = Number(/ start (\d+)/.exec(readFileSync(trace, 'utf8'))[1])
  // The tmux server parses everything parley-tui writes, on the same CPUs: its time is part of the cost.
  const tmuxPid = Number((await control.command('display-message -p "#{pid}"'))[0])
  const cpuOf = (processId) => {
    const stat = readFileSync(`/proc/${processId}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(stat[11]) + Number(stat[12])) / 100
  }
  const tmuxBefore = cpuOf(tmuxPid)

  const idleKeys = await typeKeys(15, 40)
  await control.command('send-keys -t tui C-u')
  await sleep(200)

  const lines = Array.from(
    { length: MESSAGES },
    (_, i) => `flood ${i + 1} of ${MESSAGES}: the quick brown fox 😀 日本語`,
  )
  const started = Date.now()
  cli.stdin.write(`${lines.join('\n')}\n`)
  // Keys are typed until the last message is drawn. Those sent between the first frame that shows a message
  // and the last count as "while flooding"; the CLI peer takes a moment to start sending.
  const flooding = typeKeys(1, 30, () => (renders().at(-1)?.received ?? 0) < MESSAGES)
  // Its failure is awaited below; until then it must not crash the bench past the clean-up.
  flooding.catch(() => undefined)
  const done = await until(
    'every message on screen',
    () => renders().find((r) => r.received >= MESSAGES),
    120_000,
  )
  // tmux may still be drawing what parley-tui wrote: wait until the last message is really visible.
  const visible = await until(
    'the last message in the tmux pane',
    async () =>
      (await control.command('capture-pane -p -t tui')).some((l) =>
        l.includes(`flood ${MESSAGES} of ${MESSAGES}`),
      ) && Date.now(),
    30_000,
  )
  const first = renders().find((r) => r.received > 0)
  const duringKeys = (await flooding).filter((k) => k.sent >= first.t && k.sent < done.t)
  // FLOOD_KEEP=1 keeps the run's directory (the trace, and the keys typed during the flood) to study.
  if (process.env.FLOOD_KEEP) writeFileSync(join(dir, 'keys.json'), JSON.stringify(duringKeys))
  const flood = renders().filter((r) => r.t >= started && r.t <= done.t)
  const frames = flood.length
  const fullFrames = flood.filter((r) => r.kind === 'full').map((r) => r.took)
  const gcs = collections().filter((g) => g.t >= first.t && g.t <= done.t)
  const pauses = gcs.map((g) => g.ms)
  if (process.env.FLOOD_VERBOSE) console.log(`  gc: ${gcs.map((g) => `${g.ms}/${g.kind}`).join(' ')}`)
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const cpu = cpuOf(pid)
  // The process's first thread reads keys and draws; the node runs on another (a worker thread).
  const screenCpu = cpuOf(`${pid}/task/${pid}`)
  const cliCpu = cpuOf(cli.pid)
  const tmuxCpu = cpuOf(tmuxPid) - tmuxBefore
  const [during, duringInside, idle, idleInside] = [
    latencies(duringKeys),
    insides(duringKeys),
    latencies(idleKeys),
    insides(idleKeys),
  ]
  const seconds = (done.t - started) / 1000

  console.log(
    `flood benchmark: ${MESSAGES} messages from a parley CLI peer into parley-tui (tmux 120x40, ${RATE === 0 ? 'no rate limit: --rate 0' : `--rate ${RATE}`})`,
  )
  console.log(`  first frame after the spawn     ${firstFrameMs} ms (one start, in tmux, the peer listening)`)
  console.log(`  first message written after     ${((first.t - started) / 1000).toFixed(2)} s`)
  console.log(
    `  last message written after      ${seconds.toFixed(2)} s  (${Math.round(MESSAGES / seconds)} messages rendered/s)`,
  )
  console.log(`  …visible in the tmux pane after ${((visible - started) / 1000).toFixed(2)} s`)
  const since = (t) => (t === undefined ? 'not seen' : `${((t - started) / 1000).toFixed(2)} s`)
  console.log(
    `  last message accepted by the CLI ${since(lastAccepted)}, arrived in parley-tui ${since(done.arrived)}`,
  )
  console.log(
    `  last message on screen after it arrived: written ${done.t - done.arrived} ms, visible in the pane ${visible - done.arrived} ms`,
  )
  console.log(
    `  frames drawn meanwhile          ${frames} (${fullFrames.length} full: median ${median(fullFrames)} ms, max ${Math.max(...fullFrames)} ms each)`,
  )
  console.log(
    `  garbage collection meanwhile    ${pauses.length} pauses, ${Math.round(pauses.reduce((a, b) => a + b, 0))} ms in all, longest ${Math.round(Math.max(0, ...pauses))} ms`,
  )
  if (during.length === 0) {
    console.log(
      '  key echo while flooding         none: the flood was over before a key got into it (0 keys)',
    )
  } else {
    console.log(
      `  key echo while flooding         median ${median(during)} ms, p90 ${p90(during)} ms (${during.length} keys)`,
    )
    if (process.env.FLOOD_VERBOSE)
      console.log(`  samples: ${during.join(' ')}; inside ${duringInside.join(' ')}`)
    console.log(
      `    of which inside parley-tui    median ${median(duringInside)} ms, p90 ${p90(duringInside)} ms`,
    )
  }
  console.log(
    `  key echo with no flood          median ${median(idle)} ms, p90 ${p90(idle)} ms (${idle.length} keys)`,
  )
  console.log(`    of which inside parley-tui    median ${median(idleInside)} ms, p90 ${p90(idleInside)} ms`)
  console.log(
    `  parley-tui CPU time (total)     ${cpu.toFixed(2)} s, of which the thread that reads keys and draws ${screenCpu.toFixed(2)} s`,
  )
  console.log(`  parley CLI peer CPU time        ${cliCpu.toFixed(2)} s`)
  console.log(`  tmux server CPU time (the keys and the flood) ${tmuxCpu.toFixed(2)} s`)
  console.log(
    `  parley-tui peak RSS             ${Math.round(Number(/VmHWM:\s+(\d+)/.exec(status)[1]) / 1024)} MB`,
  )
  console.log(
    '  (key echo = a tmux send-keys command until parley-tui has written the frame showing the key;',
  )
  console.log('   "while flooding" counts the keys sent between the first and the last message written)')
} finally {
  control?.close()
  try {
    tmux('send-keys', '-t', 'tui', 'C-c')
    await sleep(500)
  } catch {
    // The server is already gone.
  }
  stopTmux(socket)
  cli.kill('SIGKILL')
  if (process.env.FLOOD_KEEP) console.log(dir)
  else rmSync(dir, { recursive: true, force: true })
}
