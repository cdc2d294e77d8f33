#!/usr/bin/env node
// Proves who can reach whom in the lab over plain TCP.
// Usage: probe.mjs serve HOST   (prints {"event":"serving","port":N}, accepts until stdin ends)
//        probe.mjs connect HOST PORT   (prints {"event":"reached"} or {"event":"failed","code":…})
import { connect, createServer } from 'node:net'

const say = (event, fields = {}) => process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`)
const [mode, host, port] = process.argv.slice(2)

if (mode === 'serve') {
  const server = createServer((socket) => socket.end())
  server.listen(0, host, () => say('serving', { port: server.address().port }))
  process.stdin.resume()
  process.stdin.on('end', () => server.close())
} else {
  const socket = connect({ host, port: Number(port), timeout: 3000 })
  socket.once('connect', () => {
    say('reached')
    socket.destroy()
  })
  socket.once('timeout', () => {
    say('failed', { code: 'TIMEOUT' })
    socket.destroy()
  })
  socket.once('error', (error) => say('failed', { code: error.code }))
}
