import type { FuzzOptions } from './harness.js'

/** What the main thread gives the worker. */
export interface WorkerInput {
  readonly options: Omit<FuzzOptions, 'onFrame'>
  /** [index, length] as int32, then the frame's bytes (cut to fit). */
  readonly shared: SharedArrayBuffer
}

export const SHARED_HEADER = 8
