// Finding 2 of the review of authenticated attacks, at full size: throwaway keys dial a node one after
// another over real loopback TCP and the secure transport, each says one signed line and leaves. Then a
// member who joins through an honest neighbour speaks. Prints how long the keys took, whether the
// newcomer was shown, how many links were refused for too many members, the table's size and the RSS.
// Run after `pnpm build`: node bench/throwaway-keys.mjs [keys] [cap]

import { encodeFrame, FrameDecoder, makeHello, ParleyNode, ROOM_CAP } from '@parley/core'
import { createMessageAuth, createSecureTransport, generateKeyPair } from '@parley/secure'
import { createTcpTransport } from '@parley/transport-tcp'

const KEYS = Number(process.argv[2] ?? 1100)
const CAP = Number(process.argv[3] ?? 1000)
const hex = (key) => Buffer.from(key).toString('hex')
const mib = (bytes) => (bytes / 1024 / 1024).toFixed(0)

function honest(name, options = {}) {
  const keyPair = generateKeyPair()
  const node = new ParleyNode({
    transport: createSecureTransport(createTcpTransport(), { keyPair }),
    id: hex(keyPair.publicKey),
    name,
    listen: '127.0.0.1:0',
    auth: createMessageAuth(keyPair),
    ...options,
  })
  const waiters = new Set()
  const events = []
  node.on((event) => {
    events.push(event)
    for (const waiter of [...waiters]) waiter()
  })
  const until = (match) =>
    new Promise((resolve) => {
      const check = () => {
        const found = events.find(match)
        if (!found) return
        waiters.delete(check)
        resolve(found)
      }
      waiters.add(check)
      check()
    })
  return { node, events, until }
}

/** One throwaway key: handshake, hello, opening ack, one signed line, gone. */
async function throwaway(target, victimUntil, i) {
  const keyPair = generateKeyPair()
  const id = hex(keyPair.publicKey)
  const auth = createMessageAuth(keyPair)
  const link = await createSecureTransport(createTcpTransport(), { keyPair }).dial(target)
  const decoder = new FrameDecoder()
  const send = (message) => link.write(encodeFrame(message))
  const hello = new Promise((resolve) => {
    link.attach({
      data: (chunk) => {
        for (const m of decoder.push(chunk).messages) if (m.type === 'hello') resolve(m)
      },
      drain: () => undefined,
      close: () => undefined,
    })
  })
  send(makeHello({ id, name: `spam${i}`, instance: `t${i}` }, [`epoch:t${i}`, ROOM_CAP]))
  const theirs = await hello
  if (id < theirs.id) send({ type: 'accept' })
  send({ type: 'ack', upTo: 0, base: 0 })
  const msg = {
    type: 'msg',
    id: `s${i}`,
    seq: 1,
    ts: Date.now(),
    from: id,
    body: `spam ${i}`,
    name: `spam${i}`,
  }
  msg.prev = auth.genesis(id)
  msg.sig = auth.sign(auth.chain(msg.prev, msg))
  send(msg)
  await victimUntil((e) => e.type === 'message' && e.from.id === id)
  link.destroy()
  await victimUntil((e) => e.type === 'disconnected' && e.peer.id === id)
}

const alice = honest('alice', { maxOrigins: CAP })
await alice.node.start()
const bob = honest('bob', { peers: [alice.node.address] })
await bob.node.start()
await alice.until((e) => e.type === 'connected' && e.peer.id === bob.node.id)
const rssBefore = process.memoryUsage().rss

const started = performance.now()
for (let i = 0; i < KEYS; i++) await throwaway(alice.node.address, alice.until, i)
const seconds = (performance.now() - started) / 1000

const carol = honest('carol', { peers: [bob.node.address] })
await carol.node.start()
await bob.until((e) => e.type === 'connected' && e.peer.id === carol.node.id)
const sentAt = performance.now()
carol.node.send('hi from carol')
await alice.until((e) => e.type === 'message' && e.from.id === carol.node.id)
const carolMs = performance.now() - sentAt

const refused = alice.events.filter((e) => e.type === 'link-error' && e.code === 'TOO_MANY_ORIGINS').length
const bobDropped = alice.events.some((e) => e.type === 'disconnected' && e.peer.id === bob.node.id)
console.log(
  `${KEYS} throwaway keys against a table of ${CAP}: ${seconds.toFixed(1)} s; carol shown ${carolMs.toFixed(0)} ms after sending; ` +
    `TOO_MANY_ORIGINS refusals ${refused}; bob dropped ${bobDropped}; members held ${alice.node.members().length}; ` +
    `RSS ${mib(rssBefore)} -> ${mib(process.memoryUsage().rss)} MiB (whole process: victim, bob, carol and the keys)`,
)
await Promise.all([carol.node.close(), bob.node.close(), alice.node.close()])
