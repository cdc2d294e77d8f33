import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const DIST = fileURLToPath(new URL('../../dist/index.js', import.meta.url))

/** The agent runs the built package, as a user's node would. */
export function assertBuilt(): void {
  if (!existsSync(DIST)) throw new Error(`${DIST} is missing; run "pnpm build" first`)
}

export interface AgentEvent {
  event: string
  [field: string]: unknown
}

/** A running agent: every JSON line it printed, and a way to wait for the next line that matches. */
export class Agent {
  readonly events: AgentEvent[] = []
  readonly exited: Promise<number | null>
  #waiters: { match: (e: AgentEvent) => boolean; resolve: (e: AgentEvent) => void }[] = []
  #stderr = ''

  constructor(readonly child: ChildProcess) {
    let buffered = ''
    child.stdout?.setEncoding('utf8').on('data', (text: string) => {
      buffered += text
      let newline = buffered.indexOf('\n')
      while (newline >= 0) {
        const line = buffered.slice(0, newline)
        buffered = buffered.slice(newline + 1)
        newline = buffered.indexOf('\n')
        if (line.startsWith('{')) this.#push(JSON.parse(line) as AgentEvent)
      }
    })
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      this.#stderr += text
    })
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)))
  }

  get stderr(): string {
    return this.#stderr
  }

  /** The first event (already seen or still to come) that matches. */
  next(match: (event: AgentEvent) => boolean): Promise<AgentEvent> {
    const seen = this.events.find(match)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve) => this.#waiters.push({ match, resolve }))
  }

  event(name: string, extra: (event: AgentEvent) => boolean = () => true): Promise<AgentEvent> {
    return this.next((event) => event.event === name && extra(event))
  }

  /** Ends stdin: the agent closes its transport and must then exit by itself. */
  stop(): Promise<number | null> {
    this.child.stdin?.end()
    return this.exited
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL')
  }

  #push(event: AgentEvent): void {
    this.events.push(event)
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!waiter.match(event)) return true
      waiter.resolve(event)
      return false
    })
  }
}

/** Starts the agent with `command` before it (such as `ip netns exec NS`), or directly when empty. */
export function startAgent(args: readonly string[], command: readonly string[] = []): Agent {
  return startScript('agent.mjs', args, command)
}

/** Starts one of the scripts next to this file (agent.mjs, services.mjs, probe.mjs). */
export function startScript(script: string, args: readonly string[], command: readonly string[] = []): Agent {
  const path = fileURLToPath(new URL(`./${script}`, import.meta.url))
  const argv = [...command, process.execPath, path, ...args]
  const child = spawn(argv[0] as string, argv.slice(1), {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, PARLEY_DHT_PRIVATE_ONLY: '1' },
  })
  return new Agent(child)
}
