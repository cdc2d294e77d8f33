/** Real `parley` processes for the load test: spawn the built CLI, read its --json events, sample its memory. */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const PARLEY_BIN = fileURLToPath(new URL('../../../apps/cli/bin/parley.cjs', import.meta.url))
// What bin/parley.cjs runs: the CLI bundled into one file (see apps/cli/bin/boot.cjs).
const BUILT = fileURLToPath(new URL('../../../apps/cli/dist/parley.cjs', import.meta.url))

export function assertBuilt() {
  if (!existsSync(BUILT)) throw new Error('apps/cli is not built: run `pnpm build` first')
}

/**
 * A `parley --json` process. Every stdout line is parsed as an event and handed to `onEvent`; stderr is
 * drained (a node under attack prints one line per refused connection, and it writes stderr blocking).
 */
export function startParley(name, args, onEvent = () => {}, extra = {}) {
  // PARLEY_LOAD_NODE_ARGS: node flags for every parley started (say `--cpu-prof --cpu-prof-dir=DIR`, to
  // see where an attack's time goes, or `--trace-gc`); `extra.nodeArgs` and `extra.env` for this one.
  const flags = process.env.PARLEY_LOAD_NODE_ARGS?.split(' ').filter(Boolean) ?? []
  const nodeArgs = [...flags, ...(extra.nodeArgs ?? [])]
  const child = spawn(process.execPath, [...nodeArgs, PARLEY_BIN, '--json', '--name', name, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, PARLEY_DEBUG: '', ...extra.env },
  })
  const proc = {
    name,
    child,
    events: [],
    stderrLines: 0,
    stderrTail: [],
    exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal))),
    send(line) {
      child.stdin.write(`${line}\n`)
    },
    alive() {
      return child.exitCode === null && child.signalCode === null
    },
  }
  child.stdin.on('error', () => {})
  readLines(child.stdout, (line) => {
    let event
    try {
      event = JSON.parse(line)
    } catch {
      event = { type: 'not-json', line }
    }
    event.at = Date.now()
    proc.events.push(event)
    onEvent(event)
  })
  readLines(child.stderr, (line) => {
    proc.stderrLines++
    proc.stderrTail.push(line)
    if (proc.stderrTail.length > 20) proc.stderrTail.shift()
  })
  return proc
}

function readLines(stream, onLine) {
  let partial = ''
  stream.setEncoding('utf8')
  stream.on('data', (chunk) => {
    partial += chunk
    const lines = partial.split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) onLine(line)
  })
}

/** Resolves with the first event matching `match`, or rejects after `timeoutMs`. */
export function nextEvent(proc, match, timeoutMs, what) {
  const found = proc.events.find(match)
  if (found) return Promise.resolve(found)
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      const event = proc.events.find(match)
      if (event) {
        clearInterval(timer)
        clearTimeout(deadline)
        resolve(event)
      }
    }, 20)
    const deadline = setTimeout(() => {
      clearInterval(timer)
      reject(
        new Error(`${proc.name}: no ${what} within ${timeoutMs} ms (stderr: ${proc.stderrTail.join(' | ')})`),
      )
    }, timeoutMs)
  })
}

/** VmRSS and VmHWM (peak) of a live process, in MB, from /proc. */
export function memoryOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const field = (name) =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) / 1024
    return { rss: field('VmRSS'), hwm: field('VmHWM') }
  } catch {
    return { rss: Number.NaN, hwm: Number.NaN }
  }
}

/** Ends a process politely (SIGTERM), then for sure (SIGKILL) if it is still there after `graceMs`. */
export async function stop(proc, graceMs = 5_000) {
  if (!proc.alive()) return proc.exited
  proc.child.kill('SIGTERM')
  const timer = setTimeout(() => proc.alive() && proc.child.kill('SIGKILL'), graceMs)
  const code = await proc.exited
  clearTimeout(timer)
  return code
}
