/**
 * The message every case moves: the shape of a parley `msg` from a secure node (its id is a 64-hex-digit
 * public key) with a 16-character body, so the baselines carry the same JSON the runtime does.
 */
export const BODY = 'ok, see you at 5'
export const REPLY = 'sure, see you! 5'

export interface WireMessage {
  type: 'msg'
  id: string
  seq: number
  ts: number
  from: string
  body: string
}

/** Builds the baselines' messages: a fresh object per message, as the runtime builds one per send. */
export class MessageMaker {
  private seq = 0

  constructor(private readonly from: string) {}

  next(body: string): WireMessage {
    this.seq++
    return {
      type: 'msg',
      id: this.seq.toString(16).padStart(16, '0'),
      seq: this.seq,
      ts: Date.now(),
      from: this.from,
      body,
    }
  }
}

export function randomHex(bytes: number): string {
  const buffer = new Uint8Array(bytes)
  globalThis.crypto.getRandomValues(buffer)
  return Buffer.from(buffer).toString('hex')
}

/** Bytes of one message's JSON as it travels mid-run (a five-digit seq), before any framing. */
export const MESSAGE_BYTES = Buffer.byteLength(
  JSON.stringify({ ...new MessageMaker(randomHex(32)).next(BODY), id: randomHex(8), seq: 12_345 }),
)
