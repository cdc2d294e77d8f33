/** The processes (and proxies, servers…) a test file starts, all stopped after each test. */
import { afterAll, afterEach, beforeAll } from 'vitest'
import { assertBuilt, type Proc, spawnParley } from './parley-process.js'

export interface TestProcesses {
  /** Spawns the built `parley`; it is killed after the current test. */
  start(args: string[], env?: NodeJS.ProcessEnv): Proc
  /** Runs `cleanup` after the current test, once every process is gone. */
  defer(cleanup: () => void | Promise<void>): void
  /** Closes these (proxies, servers) after the current test. */
  closeAfter(...closables: { close(): unknown }[]): void
}

/**
 * For an end-to-end test file: checks the binaries are built, and stops what each test started.
 * @example const { start, defer } = useBuiltParley()
 */
export function useBuiltParley(): TestProcesses {
  const running: Proc[] = []
  const cleanups: (() => void | Promise<void>)[] = []
  beforeAll(() => assertBuilt())
  afterEach(async () => {
    for (const proc of running.splice(0)) {
      proc.kill('SIGKILL')
      await proc.exited
    }
    for (const cleanup of cleanups.splice(0)) await cleanup()
  })
  return {
    start(args, env) {
      const proc = spawnParley(args, env)
      // A test may kill a process while still writing to it.
      proc.child.stdin.on('error', () => undefined)
      running.push(proc)
      return proc
    },
    defer(cleanup) {
      cleanups.push(cleanup)
    },
    closeAfter(...closables) {
      for (const c of closables) cleanups.push(async () => void (await c.close()))
    },
  }
}

/**
 * For an end-to-end test file on a private DHT: one `parley bootstrap` on loopback for the whole file,
 * killed after it. `address()` is its `127.0.0.1:PORT`, for `--bootstrap`, once the file's tests run.
 */
export function useLoopbackBootstrap(): { address(): string } {
  let node: Proc | undefined
  let address: string | undefined
  beforeAll(async () => {
    node = spawnParley(['bootstrap', '--listen', '127.0.0.1:0'])
    address = await node.waitFor('stdout', /^127\.0\.0\.1:\d+$/)
  })
  afterAll(async () => {
    node?.kill('SIGKILL')
    await node?.exited
  })
  return {
    address() {
      if (address === undefined)
        throw new Error('the loopback bootstrap node is not up yet (use it inside a test)')
      return address
    },
  }
}
