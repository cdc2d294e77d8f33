// The node under attack, alone in its process so its memory can be measured: a default ParleyNode on a
// secure link, no journal. It prints `listening ADDRESS`, then answers each `held` line on stdin with the
// bytes its links hold, and each `rss` line with its resident set now and at its peak (from /proc).
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { ParleyNode } from '@parley/core'
import { createMessageAuth, createSecureTransport, generateKeyPair } from '@parley/secure'
import { createTcpTransport } from '@parley/transport-tcp'

const keyPair = generateKeyPair()
const node = new ParleyNode({
  transport: createSecureTransport(createTcpTransport(), { keyPair }),
  id: Buffer.from(keyPair.publicKey).toString('hex'),
  name: 'victim',
  listen: '127.0.0.1:0',
  auth: createMessageAuth(keyPair),
})
const codes = new Map()
node.on((event) => {
  if (event.type === 'link-error') codes.set(event.code, (codes.get(event.code) ?? 0) + 1)
})
const status = () => {
  const text = readFileSync('/proc/self/status', 'utf8')
  const kib = (key) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(text)?.[1] ?? 0) * 1024
  return { rss: kib('VmRSS'), peak: kib('VmHWM') }
}
const address = await node.start()
console.log(`listening ${address}`)
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'rss') console.log(`rss ${JSON.stringify({ ...status(), held: node.held().total })}`)
  if (line === 'codes') console.log(`codes ${JSON.stringify(Object.fromEntries(codes))}`)
  if (line === 'quit') void node.close().then(() => process.exit(0))
})
