/**
 * The pipes the piped-lines case compares parley with, in the two roles `nc` plays. `receive` listens on
 * 127.0.0.1 port 0, says `listening on 127.0.0.1:PORT` on stderr and copies the one connection it gets to
 * stdout; `send PORT` copies stdin into a socket to that port and exits once it is all written and closed.
 * `receive-noise` and `send-noise PORT` do the same through @hyperswarm/secret-stream (a Noise XX
 * handshake, then every byte encrypted), the stack every secure parley link runs on, and nothing else.
 */
import { createRequire } from 'node:module'
import { connect, createServer, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'

type SecretStreamClass = new (isInitiator: boolean, rawStream: Socket) => Duplex

const [role, port] = process.argv.slice(2)
// The same library and version @parley/secure wraps; loaded only by the Noise roles, as a secure parley
// loads it at start.
const secretStream = () => createRequire(import.meta.url)('@hyperswarm/secret-stream') as SecretStreamClass

function fail(error: Error): never {
  process.stderr.write(`pipe-end: ${error.message}\n`)
  process.exit(1)
}

if (role === 'receive' || role === 'receive-noise') {
  const SecretStream = role === 'receive-noise' ? secretStream() : undefined
  // Half-open for the Noise stream: a socket that ends its side on the sender's FIN closes at once, and
  // secret-stream then destroys its readable with the last records still unread (seen: 9,830 of 10,000
  // lines, one run in ten under load). The receiver ends its side only once it has read everything.
  const server = createServer({ allowHalfOpen: SecretStream !== undefined }, (socket) => {
    const stream = SecretStream ? new SecretStream(false, socket) : socket
    stream.on('error', fail)
    if (SecretStream) stream.on('end', () => stream.end())
    stream.pipe(process.stdout)
    server.close()
  })
  server.listen(0, '127.0.0.1', () => {
    const { port: bound } = server.address() as { port: number }
    process.stderr.write(`listening on 127.0.0.1:${bound}\n`)
  })
} else if ((role === 'send' || role === 'send-noise') && port !== undefined) {
  const socket = connect(Number(port), '127.0.0.1')
  const stream = role === 'send-noise' ? new (secretStream())(true, socket) : socket
  stream.on('close', () => process.exit(0))
  stream.on('error', fail)
  process.stdin.pipe(stream)
} else {
  process.stderr.write('usage: pipe-end.js receive | send PORT | receive-noise | send-noise PORT\n')
  process.exit(2)
}
