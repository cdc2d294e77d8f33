/**
 * The node's thread: parley-tui runs its node here, off the thread that reads keys and draws. A flood's
 * decryption, decoding, journal writes and their garbage collection then never stand between a key and its
 * echo; the screen's thread gets the node's events in batches and asks it to do things by message.
 */
import { readlinkSync } from 'node:fs'
import { getPriority, setPriority } from 'node:os'
import { type MessagePort, parentPort, workerData } from 'node:worker_threads'
import type { ChatNode, NodeEvent } from '@parley/core'
import {
  AloneNote,
  connectTo,
  disconnectFrom,
  FatalError,
  type LinkRoute,
  parseFlags,
  preloadSecureStack,
  recentHistory,
  type StartedNode,
  sendInParts,
  startNode,
  startupNotes,
  stopNode,
  waitWhileProgressing,
} from '@parley/launcher'
import { FlowGate, weightOf } from './flow-gate.js'
import type { FromNode, NodeThreadData, ToNode } from './protocol.js'

/**
 * The node's thread runs this much nicer than the screen's (Linux, where a nice value is per thread). On a
 * busy machine the scheduler then lets a key's echo (and the terminal that delivers the key) preempt the
 * node's work at once; the node still gets every idle moment, and a third of a CPU's share against busy
 * threads of normal priority. In the flood benchmark, alternated runs at load 5: key echo p90 17-22 ms in
 * three of four runs at 5, 27-47 ms at 10, 31-67 ms before the node had a thread of its own.
 * `PARLEY_TUI_NODE_NICE=N` (0-19) changes it, 0 keeps the process's priority.
 */
export const NODE_THREAD_NICE = 5

/** Events that can change the member list: the state sent after them includes it. */
const MEMBER_EVENTS: ReadonlySet<NodeEvent['type']> = new Set([
  'connected',
  'disconnected',
  'member',
  'member-left',
  'member-lost',
])

/**
 * Serves one node over `port`: starts it when the screen says `start` (the thread is made, and loads the
 * node's modules, while the screen's thread loads its own), forwards its events, performs what the screen
 * asks. Exported apart from the thread's entry so that it can run on any MessagePort; `exit` ends the
 * thread once the node is closed.
 */
export function hostNode(
  port: MessagePort | typeof parentPort,
  exit: (code: number) => void = (code) => process.exit(code),
): void {
  if (!port) throw new Error('hostNode needs a port to the screen')
  const post = (message: FromNode) => port.postMessage(message)
  let started: StartedNode | undefined
  let gate: FlowGate | undefined
  let batch: [NodeEvent, LinkRoute | undefined][] = []
  let membersChanged = false
  let flushQueued = false

  const state = (node: ChatNode, withMembers: boolean) => ({
    pending: node.pending,
    ...(withMembers ? { members: node.members() } : {}),
  })
  // Events of one turn go out as one message; an answer first sends the events before it, in order.
  const flush = (always = false) => {
    flushQueued = false
    if (!started || (!always && batch.length === 0 && !membersChanged)) return
    const events = batch
    batch = []
    const withMembers = membersChanged
    membersChanged = false
    post({ type: 'events', events, state: state(started.node, withMembers) })
    let weight = 0
    for (const [event] of events) weight += weightOf(event)
    // Blocks this thread while the screen lags too far behind: the node then reads none of its links.
    gate?.sent(weight)
  }
  const sendState = (withMembers = false) => {
    membersChanged ||= withMembers
    flush(true)
  }
  // Made again at the start, once the flags say whether typed lines wait on disk (not with --plain).
  let alone = new AloneNote()
  const onEvent = (event: NodeEvent, route?: LinkRoute) => {
    alone.observe(event)
    batch.push([event, route])
    if (MEMBER_EVENTS.has(event.type)) membersChanged = true
    if (!flushQueued) {
      flushQueued = true
      // Before the event loop reads another socket: a flood goes out in batches of one read each.
      queueMicrotask(flush)
    }
  }

  let leaveNow: () => void = () => undefined
  const leave = new Promise<void>((resolve) => {
    leaveNow = resolve
  })

  const perform = async (message: ToNode, running: StartedNode) => {
    const node = running.node
    switch (message.type) {
      case 'send': {
        let line: { level: 'info' | 'warn'; text: string } | undefined
        try {
          // A part too large for a frame of this node's (a small --max-frame) goes in smaller parts.
          // Every part of a line cut in parts says that the line goes on, but its last.
          message.bodies.forEach((body, i) => {
            const goesOn = message.goOn?.[i] === true
            sendInParts((part, more) => node.send(part, { more }), body, undefined, goesOn)
          })
          // Typed with nobody to take it: said once each time this node is alone, as line mode says it.
          const text = alone.sent(node.pending)
          if (text) line = { level: 'info', text }
        } catch (error) {
          line = {
            level: 'warn',
            text: `not sent: ${error instanceof Error ? error.message : String(error)}`,
          }
        }
        sendState()
        post({ type: 'answer', ask: message.ask, ...(line ? { line } : {}) })
        return
      }
      case 'rename':
        node.rename(message.name)
        return
      case 'disconnect': {
        const line = disconnectFrom(node, message.address)
        // What it held may have settled: the status bar's count goes with the answer.
        sendState()
        flush()
        post({ type: 'answer', ask: message.ask, line })
        return
      }
      case 'connect': {
        let line: { level: 'info' | 'warn'; text: string } | undefined
        try {
          line = connectTo(node, message.address, { dht: message.dht, plain: message.plain })
        } catch (error) {
          line = {
            level: 'warn',
            text: `cannot connect: ${error instanceof Error ? error.message : String(error)}`,
          }
        }
        flush()
        post({ type: 'answer', ask: message.ask, ...(line ? { line } : {}) })
        return
      }
      case 'members':
        sendState(true)
        post({ type: 'answer', ask: message.ask })
        return
      case 'mark-shown':
        started?.markShown(message.shown)
        return
      case 'drain': {
        const left = await waitWhileProgressing(node, message.idleMs, leave)
        sendState()
        post({ type: 'answer', ask: message.ask, left })
        return
      }
      case 'start':
      case 'interrupt':
        return
      case 'leave-now':
        leaveNow()
        return
      case 'close':
        flush()
        // Its files closed and, on the DHT, its key and rooms taken down before the thread ends.
        await stopNode(running, message.reason)
        // Ends the thread: its exit hooks release the data dir's lock, and the screen waits for that.
        exit(0)
        return
      default: {
        const _exhaustive: never = message
        return _exhaustive
      }
    }
  }

  let starting = false
  // A signal while the node starts stops the start (a DHT join may wait seconds for silent bootstrap nodes).
  const interrupt = new AbortController()
  port.on('message', (message: ToNode) => {
    if (message.type === 'interrupt') {
      if (!started) interrupt.abort()
      return
    }
    if (message.type === 'start') {
      if (starting) return
      starting = true
      gate = new FlowGate(message.flow)
      start(message.data).catch(fail)
      return
    }
    if (!started) return
    perform(message, started).catch(fail)
  })

  const fail = (error: unknown) => {
    post({
      type: 'failed',
      exitCode: error instanceof FatalError ? error.exitCode : undefined,
      message: error instanceof Error ? error.message : String(error),
      ...(error instanceof Error && error.stack ? { stack: error.stack } : {}),
    })
  }

  const start = async (data: NodeThreadData) => {
    const env = { ...data.env }
    lowerPriority(niceOf(env))
    const flags = parseFlags(data.argv, env)
    alone = new AloneNote({ durable: !flags.plain })
    // Events from before the start (listening) wait until the screen knows the node: flush holds them.
    started = await startNode(
      flags,
      onEvent,
      { signal: interrupt.signal, onProgress: (text) => post({ type: 'progress', text }) },
      env,
    )
    // A data dir that fails under the running node (a full disk) ends the TUI as a failed start does:
    // its one line and exit code, once the node has stopped.
    void started.failed.then(fail)
    const node = started.node
    post({
      type: 'started',
      info: {
        id: node.id,
        name: node.name,
        secure: started.secure,
        ...(started.dataDir ? { dataDir: started.dataDir } : {}),
        ...(started.fingerprint ? { fingerprint: started.fingerprint } : {}),
        notes: startupNotes(started),
        history: recentHistory(node.history, flags.history),
        ...(started.firstRun ? { firstRun: true } : {}),
      },
      state: state(node, true),
    })
    membersChanged = false
    flush()
  }
}

/** The nice value the node's thread takes: `PARLEY_TUI_NODE_NICE` when it is 0-19, else NODE_THREAD_NICE. */
export function niceOf(env: Readonly<Record<string, string | undefined>>): number {
  const raw = env.PARLEY_TUI_NODE_NICE
  const value = Number(raw)
  return raw !== undefined && raw !== '' && Number.isInteger(value) && value >= 0 && value <= 19
    ? value
    : NODE_THREAD_NICE
}

/**
 * Makes the calling thread (only) `by` nicer. Linux: /proc/thread-self names the thread's id, and
 * setpriority on a thread id sets that thread's nice value. Elsewhere, or when refused, nothing changes.
 */
function lowerPriority(by: number): void {
  if (by === 0) return
  try {
    const thread = Number(readlinkSync('/proc/thread-self').split('/').pop())
    if (Number.isInteger(thread) && thread > 0) setPriority(thread, Math.min(19, getPriority() + by))
  } catch {
    // Not Linux, or not allowed: the node runs at the process's priority, as it would without a thread.
  }
}

if (parentPort && (workerData as { parleyNodeThread?: true } | undefined)?.parleyNodeThread) {
  hostNode(parentPort)
  // The thread is made before the flags are read: meanwhile it loads the encryption stack a secure start
  // needs (only --plain does without), so the start does not wait for it.
  void preloadSecureStack()
}
