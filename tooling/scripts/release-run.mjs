/**
 * What the fixture scripts (`make-upgrade-fixture.mjs`, `make-restart-fixture.mjs`) share: running an
 * earlier release's parley with its `--json` events and stderr lines to wait on, and the file modes of
 * the data dirs it leaves (git keeps none of 0600/0700).
 */
import { spawn } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

const WAIT_MS = 30_000

/** Every dir and file under `root` with its permission bits, as the release created them. */
export function modesOf(root) {
  const modes = {}
  const walk = (path) => {
    for (const entry of readdirSync(path)) {
      const full = join(path, entry)
      const info = statSync(full)
      modes[relative(root, full)] = (info.mode & 0o777).toString(8).padStart(4, '0')
      if (info.isDirectory()) walk(full)
    }
  }
  walk(root)
  return modes
}

/** Waits for `proc` to exit, and throws unless its code is one of `clean`. */
export async function exitedWith(proc, clean = [0], who = proc.label) {
  const code = await proc.exited
  if (!clean.includes(code)) throw new Error(`${who} exited with ${code}`)
}

/**
 * The release's parley at `bin` run with `argv`, its data under `xdg` (`XDG_DATA_HOME`) and `env` added;
 * `running` holds it until it exits, so that a script can kill what is left when it fails.
 */
export function startRelease(bin, argv, { xdg, running, env = {} }) {
  const child = spawn(process.execPath, [bin, ...argv], {
    env: { ...process.env, PARLEY_DEBUG: '', XDG_DATA_HOME: xdg, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  running.add(child)
  const lines = { stdout: [], stderr: [] }
  const waiters = []
  for (const stream of ['stdout', 'stderr']) {
    let partial = ''
    child[stream].setEncoding('utf8')
    child[stream].on('data', (chunk) => {
      const parts = (partial + chunk).split('\n')
      partial = parts.pop()
      for (const line of parts) {
        lines[stream].push(line)
        for (const wake of [...waiters]) wake()
      }
    })
  }
  const exited = new Promise((done) =>
    child.on('exit', (code) => {
      running.delete(child)
      done(code)
    }),
  )
  const label = argv.join(' ')
  /** Resolves with the `count`th line that `match` accepts. */
  const waitLine = (stream, match, count = 1) =>
    new Promise((done, fail) => {
      const check = () => {
        const found = lines[stream].filter(match)
        if (found.length < count) return false
        waiters.splice(waiters.indexOf(check), 1)
        clearTimeout(timer)
        done(found[count - 1])
        return true
      }
      const timer = setTimeout(() => {
        fail(
          new Error(
            `${label}: no such ${stream} line\n${lines.stderr.join('\n')}\n${lines.stdout.join('\n')}`,
          ),
        )
      }, WAIT_MS)
      waiters.push(check)
      check()
    })
  const parse = (line) => {
    try {
      return JSON.parse(line)
    } catch {
      return undefined
    }
  }
  return {
    child,
    exited,
    label,
    send: (line) => child.stdin.write(`${line}\n`),
    end: () => child.stdin.end(),
    line: (stream, pattern) => waitLine(stream, (l) => pattern.test(l)),
    /** Resolves with the `count`th `--json` event of this type that `where` accepts. */
    event: async (type, where = () => true, count = 1) =>
      parse(
        await waitLine(
          'stdout',
          (l) => {
            const e = parse(l)
            return e?.type === type && where(e)
          },
          count,
        ),
      ),
  }
}
