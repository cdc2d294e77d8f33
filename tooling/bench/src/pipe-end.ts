/**
 * The bare Node.js socket pipe the piped-lines case compares parley with, in the two roles `nc` plays:
 * `receive` listens on 127.0.0.1 port 0, says `listening on 127.0.0.1:PORT` on stderr and copies the one
 * connection it gets to stdout; `send PORT` copies stdin into a socket to that port and exits once it is
 * all written and closed.
 */
import { connect, createServer } from 'node:net'

const [role, port] = process.argv.slice(2)
if (role === 'receive') {
  const server = createServer((socket) => {
    socket.pipe(process.stdout)
    server.close()
  })
  server.listen(0, '127.0.0.1', () => {
    const { port: bound } = server.address() as { port: number }
    process.stderr.write(`listening on 127.0.0.1:${bound}\n`)
  })
} else if (role === 'send' && port !== undefined) {
  const socket = connect(Number(port), '127.0.0.1')
  socket.on('close', () => process.exit(0))
  socket.on('error', (error) => {
    process.stderr.write(`pipe-end: ${error.message}\n`)
    process.exit(1)
  })
  process.stdin.pipe(socket)
} else {
  process.stderr.write('usage: pipe-end.js receive | send PORT\n')
  process.exit(2)
}
