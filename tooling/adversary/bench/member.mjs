// A member over a real secure link with a throwaway key, for the budget benchmark: hello, accept, opening
// ack; then it sends what it is told, awaiting drain so it holds little itself.
import { randomBytes } from 'node:crypto'
import { encodeFrame, FrameDecoder, PROTOCOL_VERSION, ROOM_CAP } from '@parley/core'
import { createSecureTransport, generateKeyPair } from '@parley/secure'
import { createTcpTransport } from '@parley/transport-tcp'

export const hex = (bytes) => randomBytes(bytes).toString('hex')

/** A member over a real secure link: hello, accept, opening ack; then whatever it is told. */
export async function member(address, name) {
  const keyPair = generateKeyPair()
  const id = Buffer.from(keyPair.publicKey).toString('hex')
  const link = await createSecureTransport(createTcpTransport(), { keyPair }).dial(address)
  const decoder = new FrameDecoder()
  const inbox = []
  let wake = () => {}
  let closed = false
  let drained = () => {}
  link.attach({
    data: (chunk) => {
      inbox.push(...decoder.push(chunk).messages)
      wake()
    },
    drain: () => drained(),
    close: () => {
      closed = true
      wake()
      drained()
    },
  })
  const next = (match) =>
    new Promise((resolve) => {
      const check = () => {
        const found = inbox.find(match)
        if (found || closed) resolve(found)
        else wake = check
      }
      check()
    })
  const send = async (message) => {
    if (closed) return false
    if (!link.write(encodeFrame(message, Number.MAX_SAFE_INTEGER))) await new Promise((r) => (drained = r))
    return !closed
  }
  const caps = [`instance:${hex(4)}`, `epoch:${hex(4)}`, ROOM_CAP]
  await send({ type: 'hello', v: PROTOCOL_VERSION, id, name, caps })
  const hello = await next((m) => m.type === 'hello')
  if (id < hello.id) await send({ type: 'accept' })
  else await next((m) => m.type === 'accept')
  await send({ type: 'ack', upTo: 0, base: 0 })
  return { id, keyPair, inbox, send, next, link, isClosed: () => closed, closed: next(() => false) }
}
