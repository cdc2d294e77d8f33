/** Messages between the bench and a case worker. */
export interface VisitRequest {
  type: 'visit'
  messages: number
  window: number
  rtt: number
}

export type VisitReply =
  | { type: 'ready' }
  | { type: 'run'; throughput: number; connectMs: number; rtts: number[] }
  | { type: 'error'; message: string }
