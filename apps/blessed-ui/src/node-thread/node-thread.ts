/**
 * The screen's side of the node's thread: starts the node on a worker thread (see node-host.ts), hands
 * its events on, keeps what the screen reads synchronously (undelivered count, members) as of the last
 * batch, and turns the screen's requests into messages.
 */
import { readFileSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import type { Worker } from 'node:worker_threads'
import type { MemberInfo, NodeEvent } from '@parley/core'
import { FatalError, type LinkRoute, type StatusLine } from '@parley/launcher'
import { takeNodeWorker } from './early.js'
import { FlowGate, weightOf } from './flow-gate.js'
import { Inbox } from './inbox.js'
import type { FromNode, NodeState, NodeThreadData, StartedInfo, ToNode } from './protocol.js'
import { Senders } from './senders.js'

/** Why the node's thread stopped when nobody asked it to. */
export class NodeThreadError extends Error {
  override name = 'NodeThreadError'
  constructor(
    readonly code: 'THREAD_CRASHED' | 'THREAD_EXITED',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

type Answer = Extract<FromNode, { type: 'answer' }>

export interface StartOptions {
  /** Stops the start when aborted: it then rejects with the launcher's StartInterrupted (exit 0). */
  readonly signal?: AbortSignal
  /** A line to show while the node starts (`joining the DHT (bootstrap …)…`). */
  readonly onProgress?: (text: string) => void
}

/** The data dir's lock file (`LOCK_FILE` in @parley/store), holding the pid of the process that runs the node. */
const LOCK_FILE = 'lock'

export class NodeThread {
  private state: NodeState = { pending: 0 }
  private memberList: readonly MemberInfo[] = []
  private asks = 0
  private readonly answers = new Map<number, (answer: Answer) => void>()
  private closing = false
  private rejectFailed: (error: Error) => void = () => undefined
  private resolveExited: () => void = () => undefined
  /** Rejects once the thread failed or ended unasked; never resolves. */
  readonly failed: Promise<never>
  /** Resolves once the thread has ended. */
  private readonly exited: Promise<void>

  private constructor(
    private readonly worker: Worker,
    readonly info: StartedInfo,
  ) {
    this.failed = new Promise<never>((_, reject) => {
      this.rejectFailed = reject
    })
    // Nobody may be racing it yet (a failure during the quit): that must not be an unhandled rejection.
    this.failed.catch(() => undefined)
    this.exited = new Promise((resolve) => {
      this.resolveExited = resolve
    })
  }

  /**
   * Starts the node that `data` describes on its own thread; resolves once it listens. Rejects with the
   * launcher's FatalError (its exit code and one line) when the node cannot start. `onEvent` gets every
   * event, in order, from the start on.
   */
  static start(
    data: NodeThreadData,
    onEvent: (event: NodeEvent, route?: LinkRoute) => void,
    options: StartOptions = {},
  ): Promise<NodeThread> {
    const worker = takeNodeWorker()
    const gate = new FlowGate()
    const senders = new Senders()
    return new Promise<NodeThread>((resolve, reject) => {
      let thread: NodeThread | undefined
      const fail = (error: Error) => {
        if (thread) thread.rejectFailed(error)
        else reject(error)
      }
      // A flood arrives in large batches: the inbox hands them on a slice per turn, so keys get read between.
      const inbox = new Inbox({
        state: (state) => thread?.update(state),
        event: (event, route) => {
          onEvent(event.type === 'message' ? { ...event, from: senders.same(event.from) } : event, route)
          gate.taken(weightOf(event))
        },
        message: (message) => {
          switch (message.type) {
            case 'started':
              thread = new NodeThread(worker, message.info)
              thread.update(message.state)
              thread.releaseLockOnExit()
              resolve(thread)
              return
            case 'answer':
              thread?.answered(message)
              return
            case 'progress':
              options.onProgress?.(message.text)
              return
            case 'failed':
              fail(failure(message))
              if (!thread) void worker.terminate()
              return
            default: {
              const _exhaustive: never = message
              return _exhaustive
            }
          }
        },
      })
      worker.on('message', (message: FromNode) => inbox.push(message))
      worker.on('error', (error) => {
        fail(new NodeThreadError('THREAD_CRASHED', `the node stopped: ${error.message}`, { cause: error }))
      })
      worker.on('exit', (code) => {
        if (thread?.closing) {
          thread.resolveExited()
          return
        }
        thread?.resolveExited()
        fail(new NodeThreadError('THREAD_EXITED', `the node stopped unexpectedly (exit code ${code})`))
      })
      worker.postMessage({ type: 'start', data, flow: gate.shared } satisfies ToNode)
      options.signal?.addEventListener(
        'abort',
        () => {
          if (!thread) worker.postMessage({ type: 'interrupt' } satisfies ToNode)
        },
        { once: true },
      )
    })
  }

  /** Messages not acknowledged by any peer yet, as of the last batch of events. */
  get pending(): number {
    return this.state.pending
  }

  /** The room's members as of the last connection, disconnection or new member. */
  members(): readonly MemberInfo[] {
    return this.memberList
  }

  /**
   * Sends each body as a message, body `i` saying that its line goes on in the next when `goOn[i]`;
   * resolves with a line to show when that failed.
   */
  send(bodies: readonly string[], goOn?: readonly boolean[]): Promise<StatusLine | undefined> {
    return this.ask((ask) => ({ type: 'send', bodies, ...(goOn ? { goOn } : {}), ask })).then(
      (answer) => answer.line,
    )
  }

  rename(name: string): void {
    this.post({ type: 'rename', name })
  }

  /** Dials `address` (see the launcher's `connectTo`); resolves with the line it says, if any. */
  connect(address: string, options: { dht: boolean; plain: boolean }): Promise<StatusLine | undefined> {
    return this.ask((ask) => ({ type: 'connect', address, ...options, ask })).then((answer) => answer.line)
  }

  /** Stops dialing `address` (see the launcher's `disconnectFrom`); resolves with the line it says. */
  disconnect(address: string): Promise<StatusLine | undefined> {
    return this.ask((ask) => ({ type: 'disconnect', address, ask })).then((answer) => answer.line)
  }

  /** The member list as the node has it now. */
  async refreshMembers(): Promise<readonly MemberInfo[]> {
    await this.ask((ask) => ({ type: 'members', ask }))
    return this.memberList
  }

  markShown(shown: ReadonlyMap<string, number>): void {
    this.post({ type: 'mark-shown', shown })
  }

  /**
   * Waits while acknowledgements keep coming, giving up after `idleMs` without one or when `leave`
   * resolves; resolves with the count still unacknowledged.
   */
  async drain(idleMs: number, leave: Promise<unknown>): Promise<number> {
    void leave.then(() => this.post({ type: 'leave-now' }))
    const answer = await this.ask((ask) => ({ type: 'drain', idleMs, ask }))
    return answer.left ?? this.pending
  }

  /** Closes the node (saying `bye` with `reason`) and ends its thread. */
  async close(reason: string): Promise<void> {
    if (!this.closing) {
      this.closing = true
      this.post({ type: 'close', reason })
    }
    await this.exited
  }

  /**
   * A process that ends before the node's thread has (a second Ctrl-C, a crash) does not run that thread's
   * exit hooks, which release the data dir's lock; the lock holds this process's pid, so it is released
   * here, as the store would (only when it is still ours). Without this the next start would say that
   * parley did not exit cleanly.
   */
  private releaseLockOnExit(): void {
    const dir = this.info.dataDir
    if (!dir) return
    const lock = join(dir, LOCK_FILE)
    const release = () => {
      try {
        if (readFileSync(lock, 'utf8').trim() === String(process.pid)) unlinkSync(lock)
      } catch {
        // Already released by the node's thread, or the dir is gone.
      }
    }
    process.on('exit', release)
    void this.exited.then(() => process.removeListener('exit', release))
  }

  private update(state: NodeState): void {
    this.state = state
    if (state.members) this.memberList = state.members
  }

  private answered(answer: Answer): void {
    const resolve = this.answers.get(answer.ask)
    this.answers.delete(answer.ask)
    resolve?.(answer)
  }

  private ask(message: (ask: number) => ToNode): Promise<Answer> {
    const ask = ++this.asks
    const answer = new Promise<Answer>((resolve) => this.answers.set(ask, resolve))
    this.post(message(ask))
    return Promise.race([answer, this.failed])
  }

  private post(message: ToNode): void {
    if (this.closing && message.type !== 'close') return
    this.worker.postMessage(message)
  }
}

/** The error the node's thread reported, as the error it was: its exit code and line survive. */
function failure(message: Extract<FromNode, { type: 'failed' }>): Error {
  if (message.exitCode !== undefined) return new FatalError(message.exitCode, message.message)
  const error = new Error(message.message)
  if (message.stack) error.stack = message.stack
  return error
}
