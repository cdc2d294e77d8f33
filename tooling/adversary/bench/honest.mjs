// An honest member in its own process, so the attackers' work does not delay its clock: it says a line
// every 20 ms and times each until the node acks it. `stop` on stdin prints the latencies as JSON.
import { createInterface } from 'node:readline'
import { createMessageAuth } from '@parley/secure'
import { hex, member } from './member.mjs'

/** An honest member that says a line every 20 ms until `stop`, timing each until the node acks it. */
function honestChat(honest, auth) {
  const latencies = []
  let seq = 0
  let head
  let running = true
  const loop = (async () => {
    while (running && !honest.isClosed()) {
      seq++
      const msg = { type: 'msg', id: hex(8), seq, ts: Date.now(), from: honest.id, body: `line ${seq}` }
      msg.prev = head ?? auth.genesis(honest.id)
      head = auth.chain(msg.prev, msg)
      msg.sig = auth.sign(head)
      const sentAt = performance.now()
      const mine = seq
      await honest.send(msg)
      await honest.next((m) => m.type === 'ack' && m.upTo >= mine)
      latencies.push(performance.now() - sentAt)
      await new Promise((r) => setTimeout(r, 20))
    }
  })()
  return {
    stop: async () => {
      running = false
      await loop
      return latencies
    },
  }
}

const honest = await member(process.argv[2], 'honest')
const chat = honestChat(honest, createMessageAuth(honest.keyPair))
console.log('ready')
createInterface({ input: process.stdin }).on('line', async (line) => {
  if (line !== 'stop') return
  console.log(`latencies ${JSON.stringify(await chat.stop())}`)
  honest.link.destroy()
  process.exit(0)
})
