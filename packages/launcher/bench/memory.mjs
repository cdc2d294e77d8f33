// Memory a relaying node spends per member of the room, with each member's window full: the messages it
// keeps, as decoded from the wire with their chain hash and signature, which are also what it forwards
// (hops lowered in place). The node also caches the frames of its 1024 newest messages (about 0.5 MiB,
// whatever the size of the room).
// Run after `pnpm build`: node --expose-gc bench/memory.mjs [members] [window] [body-chars]

import { encodeFrame } from '@parley/core'
import { createMessageAuth, generateKeyPair } from '@parley/secure'
// The room's routing state is internal to core; this bench measures it directly, from core's build.
import { Room } from '../../core/dist/room.js'

const MEMBERS = Number(process.argv[2] ?? 50)
const WINDOW = Number(process.argv[3] ?? 1000)
const BODY = Number(process.argv[4] ?? 80)

if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc')
  process.exit(1)
}
const heap = () => {
  globalThis.gc()
  globalThis.gc()
  const usage = process.memoryUsage()
  // Frames are Uint8Arrays: their bytes live outside the JS heap.
  return usage.heapUsed + usage.arrayBuffers
}

const hex = (key) => Buffer.from(key).toString('hex')
const receiverKeys = generateKeyPair()
const receiver = new Room({
  self: { id: hex(receiverKeys.publicKey), name: 'relay' },
  auth: createMessageAuth(receiverKeys),
  windowSize: WINDOW,
})
const from = hex(generateKeyPair().publicKey)
const to = hex(generateKeyPair().publicKey)
for (const [id, name] of [
  [from, 'upstream'],
  [to, 'downstream'],
]) {
  receiver.linkOpened(id, { name, relays: true })
  receiver.onAck(id, { type: 'ack', upTo: 0 })
}

/** Each member says WINDOW + 100 lines, one per burst (so every message is signed, as in a chat). */
function wireMessages(index) {
  const keys = generateKeyPair()
  const peer = { id: hex(keys.publicKey), name: `member-${index}` }
  const author = new Room({ self: peer, auth: createMessageAuth(keys) })
  const out = []
  for (let k = 0; k < WINDOW + 100; k++) {
    const body = `${k} `.padEnd(BODY, 'x')
    author.compose({ id: `${index}-${k}`.padStart(16, '0'), ts: Date.now(), body, name: peer.name })
    out.push(JSON.stringify(author.seal()[0]))
  }
  return out
}

const before = heap()
const wire = Array.from({ length: MEMBERS }, (_, i) => wireMessages(i))
for (const messages of wire) {
  for (const text of messages) {
    for (const effect of receiver.receive(from, JSON.parse(text), false)) {
      if (effect.type === 'accept') receiver.markShown(effect.msg.from, effect.msg.seq)
    }
  }
  // Forwarding makes (and the room keeps) the copy with one hop fewer.
  for (const item of receiver.outgoing(to)) if (item.kind === 'msg') encodeFrame(item.msg)
}
wire.length = 0
const after = heap()
const kept = receiver.members().filter((m) => !m.direct).length
const perMember = (after - before) / MEMBERS
const sample = receiver.logOf(receiver.members().find((m) => !m.direct).peer.id).at(-1)
const frameSize = encodeFrame({ ...sample, hops: 63 }).length
console.log(`${kept} members, window ${WINDOW}, ${BODY}-character bodies, every message signed`)
console.log(`one message on the wire: ${frameSize} bytes (frame, with prev, sig and hops)`)
console.log(
  `memory per member: ${(perMember / 1024).toFixed(0)} KiB (${(perMember / WINDOW).toFixed(0)} bytes per kept message, ` +
    `the kept message is what goes on)`,
)
console.log(`memory for all ${MEMBERS} members: ${((after - before) / 1024 / 1024).toFixed(1)} MiB`)
