// Throughput and round-trip time of a DHT link (HyperDHT over UDX, Noise-encrypted) next to a TCP link
// (@parley/transport-tcp, plain), both on loopback, both through parley's Link interface.
// Run after `pnpm build`: node bench/loopback.mjs [megabytes] [round-trips] [runs]

import { createTcpTransport } from '@parley/transport-tcp'
import HyperDHT from 'hyperdht'
import { createLocalTestnet, startDhtTransport } from '../dist/index.js'

const MEGABYTES = Number(process.argv[2] ?? 32)
const ROUND_TRIPS = Number(process.argv[3] ?? 2000)
const RUNS = Number(process.argv[4] ?? 5)
const CHUNK = Buffer.alloc(16 * 1024, 'x')
const PING = Buffer.alloc(64, 'p')

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

/** Attaches both ends; returns helpers that move bytes one way and bounce small messages. */
function wire(sender, receiver) {
  let onReceived = () => {}
  let onEcho = () => {}
  let drainWaiter = null
  receiver.attach({
    data: (chunk) => onReceived(chunk),
    drain() {},
    close() {},
  })
  sender.attach({
    data: (chunk) => onEcho(chunk),
    drain() {
      const waiter = drainWaiter
      drainWaiter = null
      waiter?.()
    },
    close() {},
  })
  return {
    /** Milliseconds to move MEGABYTES from sender to receiver, honouring backpressure. */
    async throughput() {
      const total = MEGABYTES * 1024 * 1024
      let received = 0
      const done = new Promise((resolve) => {
        onReceived = (chunk) => {
          received += chunk.length
          if (received >= total) resolve()
        }
      })
      const start = performance.now()
      for (let sent = 0; sent < total; sent += CHUNK.length) {
        if (!sender.write(CHUNK)) await new Promise((resolve) => (drainWaiter = resolve))
      }
      await done
      return performance.now() - start
    },
    /** Median microseconds for one 64-byte message to go and come back. */
    async rtt() {
      onReceived = (chunk) => receiver.write(chunk)
      const samples = []
      for (let i = 0; i < ROUND_TRIPS; i++) {
        let got = 0
        const back = new Promise((resolve) => {
          onEcho = (chunk) => {
            got += chunk.length
            if (got >= PING.length) resolve()
          }
        })
        const start = performance.now()
        sender.write(PING)
        await back
        samples.push((performance.now() - start) * 1000)
      }
      return median(samples)
    },
  }
}

async function tcpPair() {
  const transport = createTcpTransport()
  let accepted
  const inbound = new Promise((resolve) => (accepted = resolve))
  const listener = transport.createListener((link) => accepted(link))
  const address = await listener.listen('127.0.0.1:0')
  const outbound = await transport.dial(address)
  const pair = { sender: outbound, receiver: await inbound }
  await listener.close()
  return { ...pair, close: async () => outbound.destroy() }
}

async function dhtPair(testnet) {
  let accepted
  const inbound = new Promise((resolve) => (accepted = resolve))
  const options = { bootstrap: testnet.bootstrap, host: '127.0.0.1' }
  const a = await startDhtTransport({
    ...options,
    keyPair: HyperDHT.keyPair(),
    onLink: (link) => accepted(link),
  })
  const b = await startDhtTransport({ ...options, keyPair: HyperDHT.keyPair(), onLink: () => {} })
  await a.listen()
  const outbound = await b.dial(a.publicKey)
  return { sender: outbound, receiver: await inbound, close: () => Promise.all([a.close(), b.close()]) }
}

const testnet = await createLocalTestnet(3)
const results = { tcp: { mbps: [], rtt: [] }, dht: { mbps: [], rtt: [] } }
for (let run = 0; run < RUNS; run++) {
  for (const [name, make] of [
    ['tcp', () => tcpPair()],
    ['dht', () => dhtPair(testnet)],
  ]) {
    const pair = await make()
    const bench = wire(pair.sender, pair.receiver)
    const ms = await bench.throughput()
    results[name].mbps.push(MEGABYTES / (ms / 1000))
    results[name].rtt.push(await bench.rtt())
    await pair.close()
  }
}
await testnet.destroy()

const row = (name) => ({
  link: name,
  'MiB/s (median)': median(results[name].mbps).toFixed(0),
  'RTT µs (median)': median(results[name].rtt).toFixed(0),
})
console.log(`${RUNS} runs of ${MEGABYTES} MiB and ${ROUND_TRIPS} round trips of 64 bytes each, on loopback`)
console.table([row('tcp'), row('dht')])
console.log(
  `DHT / TCP: throughput ×${(median(results.dht.mbps) / median(results.tcp.mbps)).toFixed(2)}, RTT ×${(median(results.dht.rtt) / median(results.tcp.rtt)).toFixed(2)}`,
)
