/** Messages between the bench and a case worker. */
export interface VisitRequest {
  type: 'visit'
  messages: number
  window: number
  rtt: number
}

export type VisitReply =
  | { type: 'ready' }
  | {
      type: 'run'
      throughput: number
      /** CPU time (user + system, every thread of the worker) per message of the flood, in µs. */
      cpuUsPerMsg: number
      connectMs: number
      rtts: number[]
    }
  | { type: 'error'; message: string }
