#!/usr/bin/env node
// The lab's infrastructure, driven by a test: three bootstrap nodes, or a blind relay. Prints one JSON line
// when ready and closes cleanly when its stdin ends.
// Usage: services.mjs bootstrap HOST,HOST,HOST PORT
//        services.mjs relay --bootstrap H:P[,H:P…] --host ADDRESS
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { parseBootstrap, runBootstrapNode, runRelay } from '../../dist/index.js'

const say = (event, fields = {}) => process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`)
const [mode, ...rest] = process.argv.slice(2)
const closers = []

try {
  if (mode === 'bootstrap') {
    const [hosts, port] = rest
    const first = { host: hosts.split(',')[0], port: Number(port) }
    for (const host of hosts.split(',')) {
      const peers = host === first.host ? [] : [first]
      const node = await runBootstrapNode({ host, port: Number(port), peers })
      closers.push(() => node.close())
    }
    say('ready')
  } else if (mode === 'relay') {
    const { values } = parseArgs({
      args: rest,
      options: { bootstrap: { type: 'string' }, host: { type: 'string' } },
    })
    const relay = await runRelay({ bootstrap: parseBootstrap(values.bootstrap ?? ''), host: values.host })
    closers.push(() => relay.close())
    say('ready', { key: relay.publicKey })
  } else {
    throw Object.assign(new Error(`unknown mode "${mode}": use bootstrap or relay`), { code: 'USAGE' })
  }
} catch (error) {
  say('error', { code: error.code, message: error.message })
  process.exitCode = 2
}

createInterface({ input: process.stdin }).on('close', async () => {
  for (const close of closers) await close()
  say('closed')
})
