/** Messages between the bench and its idle-link child processes. */
export type ChildRequest =
  | { type: 'wait'; sessions: number }
  | { type: 'measure' }
  | { type: 'dial'; port: number; count: number; batch: number }

export interface Memory {
  rss: number
  heapUsed: number
  external: number
  arrayBuffers: number
}

export type ChildReply =
  | { type: 'ready'; port: number }
  | { type: 'sessions'; sessions: number }
  | ({ type: 'memory'; sessions: number } & Memory)
  | { type: 'dialed'; links: number }
