/**
 * What every case provides: two connected ends in this process. Drivers send through `a` and `b` and
 * learn what arrived and what was acknowledged through the handlers, so the same flood and ping-pong
 * loops measure every case.
 */
export type SideName = 'a' | 'b'

export interface PairHandlers {
  /** A message arrived at `at`. */
  received(at: SideName, body: string): void
  /** `count` messages sent by `from` are acknowledged (for cases without acks: arrived at the other end). */
  acknowledged(from: SideName, count: number): void
}

export interface Pair {
  send(from: SideName, body: string): void
  setHandlers(handlers: PairHandlers): void
  close(): Promise<void>
}

export interface OpenedPair {
  pair: Pair
  /** From the moment both ends start to both ends connected (ms). */
  connectMs: number
}

export type CaseKey =
  | 'raw'
  | 'rawUnwindowed'
  | 'cryptoBaseline'
  | 'plain'
  | 'plainLines'
  | 'secureUnsigned'
  | 'secure'
  | 'secureNoStore'
  | 'secureDurable'
  | 'dht'
  | 'dhtDurable'

export interface BenchCase {
  readonly key: CaseKey
  readonly label: string
  /** Sends the whole flood at once instead of in windows (the raw baseline's honest figure). */
  readonly unwindowed?: true
  /**
   * Cases run in groups, one group's rounds after another's. The DHT cases form a group of their own: with
   * them in the same rounds, the TCP cases measured 30-50 % lower than without them.
   */
  readonly group?: 'dht'
  open(): Promise<OpenedPair>
}

export const IDLE_HANDLERS: PairHandlers = { received() {}, acknowledged() {} }

export const LOOPBACK = '127.0.0.1'

export function once<T>(register: (resolve: (value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve) => register(resolve))
}
