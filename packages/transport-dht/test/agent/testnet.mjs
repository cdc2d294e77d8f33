// A private DHT of three nodes on 127.0.0.1 in a process of its own, so that a test can stall it (SIGSTOP)
// and let it go on (SIGCONT). Prints {"event":"ready","port":…}, then {"event":"announce","target":hex} for
// each announcement a node is asked to store. The line "mute" on stdin makes the nodes leave every lookup and
// announcement of a key unanswered (they still answer pings and route), "answer" undoes it; each is acked.
import HyperDHT from 'hyperdht'
import { createLocalTestnet } from '../../dist/index.js'

const FIND_PEER = 2
const ANNOUNCE = 4
let muted = false

function say(event) {
  process.stdout.write(`${JSON.stringify(event)}\n`)
}

const testnet = await createLocalTestnet(3)
// Each node reports and, muted, leaves unanswered what it is asked about keys (HyperDHT's own handler else).
for (const node of testnet.nodes) {
  const answer = HyperDHT.prototype.onrequest.bind(node)
  node.onrequest = (req) => {
    if (muted && (req.command === FIND_PEER || req.command === ANNOUNCE)) return true
    if (req.command === ANNOUNCE) say({ event: 'announce', target: req.target.toString('hex') })
    return answer(req)
  }
}
say({ event: 'ready', port: testnet.bootstrap[0].port })
process.stdin.setEncoding('utf8').on('data', (text) => {
  for (const line of text.split('\n')) {
    if (line === 'mute' || line === 'answer') {
      muted = line === 'mute'
      say({ event: line })
    }
  }
})
process.stdin.on('end', async () => {
  await testnet.destroy()
  process.exit(0)
})
