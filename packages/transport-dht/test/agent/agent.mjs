#!/usr/bin/env node
// A small node on the DHT, driven by a test: it prints one JSON line per event on stdout, greets every peer
// it links with, and closes cleanly (then exits by itself, with no handle left) when its stdin ends.
// Usage: agent.mjs --bootstrap H:P[,H:P…] [--listen] [--dial KEY] [--room CODE] [--relay KEY]
//                  [--host BIND_ADDRESS]
//                  [--random-punch-ms N] [--public] [--bench-echo] [--on-input]
// With --on-input it listens, joins and dials only once a first line comes on stdin (after "ready").
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import HyperDHT from 'hyperdht'
import { parseBootstrap, startDhtTransport } from '../../dist/index.js'

const started = performance.now()
const { values } = parseArgs({
  options: {
    bootstrap: { type: 'string' },
    listen: { type: 'boolean', default: false },
    dial: { type: 'string' },
    room: { type: 'string' },
    relay: { type: 'string' },
    host: { type: 'string' },
    'random-punch-ms': { type: 'string' },
    public: { type: 'boolean', default: false },
    'on-input': { type: 'boolean', default: false },
  },
})

const say = (event, fields = {}) => process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`)
const elapsed = () => Math.round(performance.now() - started)

function onLink(link) {
  say('link', {
    remoteKey: link.remoteKey,
    direction: link.direction,
    purpose: link.purpose,
    path: link.path,
    ms: elapsed(),
  })
  link.attach({
    data: (chunk) => say('data', { remoteKey: link.remoteKey, text: Buffer.from(chunk).toString() }),
    drain: () => {},
    close: (error) => say('link-closed', { remoteKey: link.remoteKey, code: error?.code }),
  })
  link.write(Buffer.from(`hello from ${transport.publicKey}`))
}

let transport
try {
  transport = await startDhtTransport({
    keyPair: HyperDHT.keyPair(),
    bootstrap: values.bootstrap === undefined ? undefined : parseBootstrap(values.bootstrap),
    relayThrough: values.relay,
    host: values.host,
    firewalled: values.public ? false : undefined,
    randomPunchIntervalMs: values['random-punch-ms'] ? Number(values['random-punch-ms']) : undefined,
    onLink,
    onRefused: (error) => say('refused', { code: error.code, message: error.message }),
  })
} catch (error) {
  say('error', { code: error.code, message: error.message })
  process.exitCode = 2
}

if (transport) {
  say('ready', { key: transport.publicKey, network: transport.network(), ms: elapsed() })
  const work = async () => {
    if (values.listen) await transport.listen()
    if (values.room) await transport.joinRoom(values.room)
    say('listening', { ms: elapsed() })
    if (values.dial) onLink(await transport.dial(values.dial))
  }
  const start = () => work().catch((error) => say('error', { code: error.code, message: error.message }))
  const input = createInterface({ input: process.stdin })
  if (values['on-input']) input.once('line', start)
  else start()
  input.on('close', async () => {
    await transport.close()
    say('closed')
  })
}
