// A private DHT of three nodes on 127.0.0.1 in a process of its own, so that a test can stall it (SIGSTOP)
// and let it go on (SIGCONT). Prints {"event":"ready","port":…}, then {"event":"announce","target":hex} for
// each announcement a node stores.
import HyperDHT from 'hyperdht'

const ANNOUNCE = 4

class ReportingDHT extends HyperDHT {
  onrequest(req) {
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
process.stdin.resume()
process.stdin.on('end', async () => {
  for (const node of nodes.reverse()) await node.destroy()
  process.exit(0)
})
