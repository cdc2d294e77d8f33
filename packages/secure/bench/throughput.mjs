// Messages per second over loopback for ~120-byte parley messages, four ways:
//   raw TCP (@parley/transport-tcp, no encryption),
//   @hyperswarm/secret-stream used directly, one message per encrypted record,
//   secret-stream over the TCP transport's links (as @parley/secure runs it), one record per message:
//     the TCP transport's per-tick write queue batches the records into one socket write, so this row is
//     what batching below the encryption alone gives,
//   @parley/secure's link, which coalesces the writes of one tick into one record.
// Run after `pnpm build`: node bench/throughput.mjs [messages] [runs]

import { createRequire } from 'node:module'
import { connect, createServer } from 'node:net'
import { createTcpTransport } from '@parley/transport-tcp'
import { createSecureTransport, generateKeyPair } from '../dist/index.js'
import { LinkStream } from '../dist/link-stream.js'

const require = createRequire(import.meta.url)
const SecretStream = require('@hyperswarm/secret-stream')

const MESSAGES = Number(process.argv[2] ?? 200_000)
const RUNS = Number(process.argv[3] ?? 5)
const LOOPBACK = '127.0.0.1:0'
const message = Buffer.alloc(120, 'm')
message.writeUInt32BE(116, 0)

/** Writes MESSAGES messages one `write` at a time, waiting for drain whenever write says so. */
async function send(write, onDrain) {
  for (let i = 0; i < MESSAGES; i++) {
    if (!write(message)) await new Promise((resolve) => onDrain(resolve))
  }
}

function counter(resolve) {
  let received = 0
  const total = MESSAGES * message.length
  return (chunk) => {
    received += chunk.length
    if (received >= total) resolve()
  }
}

/** One link pair over `transport`; resolves with the time to move every message. */
async function overTransport(transport) {
  let onAccepted
  const accepted = new Promise((resolve) => {
    onAccepted = resolve
  })
  const listener = transport.createListener(onAccepted)
  const address = await listener.listen(LOOPBACK)
  const dialed = await transport.dial(address)
  const inbound = await accepted
  let drainWaiter = null
  const done = new Promise((resolve) => inbound.attach({ data: counter(resolve), drain() {}, close() {} }))
  dialed.attach({
    data() {},
    drain() {
      const waiter = drainWaiter
      drainWaiter = null
      waiter?.()
    },
    close() {},
  })
  const start = performance.now()
  await send(
    (chunk) => dialed.write(chunk),
    (resolve) => {
      drainWaiter = resolve
    },
  )
  await done
  const ms = performance.now() - start
  dialed.destroy()
  inbound.destroy()
  await listener.close()
  return ms
}

/** secret-stream straight over net sockets: each write is its own record. */
async function secretStreamPerMessage() {
  let server
  const accepted = new Promise((resolve) => {
    server = createServer((socket) => resolve(new SecretStream(false, socket)))
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const client = new SecretStream(true, connect(server.address().port, '127.0.0.1'))
  const inbound = await accepted
  await Promise.all([client.opened, inbound.opened])
  const done = new Promise((resolve) => inbound.on('data', counter(resolve)))
  const start = performance.now()
  await send(
    (chunk) => client.write(chunk),
    (resolve) => client.once('drain', resolve),
  )
  await done
  const ms = performance.now() - start
  client.destroy()
  inbound.destroy()
  server.close()
  return ms
}

/** secret-stream over LinkStream over the TCP transport: one record per message, records batched per tick. */
async function secretStreamOverTransport() {
  const transport = createTcpTransport()
  let onAccepted
  const accepted = new Promise((resolve) => {
    onAccepted = resolve
  })
  const listener = transport.createListener(onAccepted)
  const address = await listener.listen(LOOPBACK)
  const client = new SecretStream(true, new LinkStream(await transport.dial(address)))
  const inbound = new SecretStream(false, new LinkStream(await accepted))
  await Promise.all([client.opened, inbound.opened])
  const done = new Promise((resolve) => inbound.on('data', counter(resolve)))
  const start = performance.now()
  await send(
    (chunk) => client.write(chunk),
    (resolve) => client.once('drain', resolve),
  )
  await done
  const ms = performance.now() - start
  client.destroy()
  inbound.destroy()
  await listener.close()
  return ms
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

/** A listener and a dialer with a key pair each, as two nodes would have. */
function securePair() {
  const listenerSide = createSecureTransport(createTcpTransport(), { keyPair: generateKeyPair() })
  const dialerSide = createSecureTransport(createTcpTransport(), { keyPair: generateKeyPair() })
  return { createListener: listenerSide.createListener, dial: dialerSide.dial }
}

const cases = [
  ['raw TCP (no encryption)', () => overTransport(createTcpTransport())],
  ['secret-stream, one record per message', secretStreamPerMessage],
  ['per record, batched by the TCP transport', secretStreamOverTransport],
  ['@parley/secure, coalesced records', () => overTransport(securePair())],
]

console.log(
  `${MESSAGES} messages of ${message.length} bytes, median of ${RUNS} runs, Node ${process.version}`,
)
const results = []
for (const [name, run] of cases) {
  await run() // warm-up
  const times = []
  for (let i = 0; i < RUNS; i++) times.push(await run())
  const rate = MESSAGES / (median(times) / 1000)
  results.push([name, rate])
  console.log(
    `${name.padEnd(40)} ${Math.round(rate).toLocaleString('en-US').padStart(12)} msg/s   (${times.map((t) => t.toFixed(0)).join(', ')} ms)`,
  )
}
const [raw, perRecord, perRecordBatched, coalesced] = results.map(([, rate]) => rate)
console.log(
  `coalesced / per-record: ${(coalesced / perRecord).toFixed(1)}x; coalesced / per-record batched below: ${(coalesced / perRecordBatched).toFixed(1)}x; coalesced / raw TCP: ${(coalesced / raw).toFixed(2)}x`,
)
