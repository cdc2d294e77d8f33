// A private DHT of three nodes on 127.0.0.1 in a process of its own, so that a test can stall it (SIGSTOP)
// and let it go on (SIGCONT). Prints {"event":"ready","port":…}, then {"event":"announce","target":hex} for
// each announcement a node is asked to store. The line "mute" on stdin makes the nodes leave every lookup and
// announcement of a key unanswered (they still answer pings and route), "answer" undoes it; each is acked.
import HyperDHT from 'hyperdht'

const FIND_PEER = 2
const ANNOUNCE = 4
let muted = false

class ReportingDHT extends HyperDHT {
  onrequest(req) {
    if (muted && (req.command === FIND_PEER || req.command === ANNOUNCE)) return true
    if (req.command === ANNOUNCE) say({ event: 'announce', target: req.target.toString('hex') })
    return super.onrequest(req)
  }
}

function say(event) {
  process.stdout.write(`${JSON.stringify(event)}\n`)
}

const nodes = []
const bootstrap = []
while (nodes.length < 3) {
  const node = new ReportingDHT({
    ephemeral: false,
    firewalled: false,
    bootstrap: bootstrap.map((entry) => ({ ...entry })),
    host: '127.0.0.1',
    port: [0, 0],
  })
  nodes.push(node)
  await node.fullyBootstrapped()
  if (bootstrap.length === 0) bootstrap.push({ host: '127.0.0.1', port: node.address().port })
}
say({ event: 'ready', port: bootstrap[0].port })
process.stdin.setEncoding('utf8').on('data', (text) => {
  for (const line of text.split('\n')) {
    if (line === 'mute' || line === 'answer') {
      muted = line === 'mute'
      say({ event: line })
    }
  }
})
process.stdin.on('end', async () => {
  for (const node of nodes.reverse()) await node.destroy()
  process.exit(0)
})
