/**
 * What the screen's thread and the node's thread say to each other. Everything here is plain data: it
 * crosses a MessagePort by structured clone.
 */
import type { MemberInfo, NodeEvent } from '@parley/core'
import type { ExitCode, HistoryLine, LinkRoute, StatusLine } from '@parley/launcher'

/** What the node's thread needs to start: the same argv and environment the process got. */
export interface NodeThreadData {
  readonly argv: readonly string[]
  readonly env: Readonly<Record<string, string | undefined>>
}

/** A started node, as the screen shows it. */
export interface StartedInfo {
  readonly id: string
  readonly name: string
  readonly secure: boolean
  readonly dataDir?: string
  readonly fingerprint?: { readonly full: string; readonly short: string }
  /** The launcher's start-up notes (compaction, a waiting outbox, a stale lock taken over). */
  readonly notes: readonly string[]
  /** The last `--history N` lines of the history, oldest first, a line sent in parts as its parts. */
  readonly history: readonly HistoryLine[]
  /** The node's first run on its data dir (`StartedNode.firstRun`): catch-up was sent before it joined. */
  readonly firstRun?: true
}

/** The node's state the screen reads synchronously, as of the end of a batch of events. */
export interface NodeState {
  readonly pending: number
  /** Sent only when it may have changed (a connection, a disconnection, a new member, a request). */
  readonly members?: readonly MemberInfo[]
}

export type FromNode =
  /** Events in the order the node emitted them, then the state after them. */
  | {
      readonly type: 'events'
      readonly events: readonly (readonly [NodeEvent, LinkRoute | undefined])[]
      readonly state: NodeState
    }
  | { readonly type: 'started'; readonly info: StartedInfo; readonly state: NodeState }
  /** The node could not start (or a request failed for a reason the screen must exit on). */
  | {
      readonly type: 'failed'
      /** A FatalError's exit code; undefined for an internal error. */
      readonly exitCode: ExitCode | undefined
      readonly message: string
      readonly stack?: string
    }
  /** A line to show while the node starts (a DHT join that takes more than a moment). */
  | { readonly type: 'progress'; readonly text: string }
  /** The answer to a request with this `ask` number. */
  | { readonly type: 'answer'; readonly ask: number; readonly line?: StatusLine; readonly left?: number }

export type ToNode =
  /** The first message: start the node (the thread may have been made before the flags were checked). */
  | {
      readonly type: 'start'
      readonly data: NodeThreadData
      /** The FlowGate's shared counters: what the node sent, what the screen took. */
      readonly flow: SharedArrayBuffer
    }
  | {
      readonly type: 'send'
      readonly bodies: readonly string[]
      /** Body `i`'s line goes on in body `i + 1` (a line cut in parts); absent, none does. */
      readonly goOn?: readonly boolean[]
      readonly ask: number
    }
  | { readonly type: 'rename'; readonly name: string }
  | {
      readonly type: 'connect'
      readonly address: string
      readonly dht: boolean
      readonly plain: boolean
      readonly ask: number
    }
  | { readonly type: 'disconnect'; readonly address: string; readonly ask: number }
  | { readonly type: 'members'; readonly ask: number }
  | { readonly type: 'mark-shown'; readonly shown: ReadonlyMap<string, number> }
  /** Wait while acknowledgements keep coming, up to `idleMs` without one; answered with what is left. */
  | { readonly type: 'drain'; readonly idleMs: number; readonly ask: number }
  /** Stop a drain now (a second quit). */
  | { readonly type: 'leave-now' }
  /** Stop the start (a signal came while the node starts): it fails with the launcher's StartInterrupted. */
  | { readonly type: 'interrupt' }
  /** Close the node and end the thread. */
  | { readonly type: 'close'; readonly reason: string }
