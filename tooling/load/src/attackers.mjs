/**
 * Hostile connections against one node, from many loopback source addresses (Linux routes all of
 * 127.0.0.0/8 to loopback): garbage, oversize length prefixes, silent sockets, slow drip (slowloris) and
 * connect-and-close storms. Every connection is bounded in time: the node must close it, or it is
 * destroyed at its deadline and counted as such.
 */
import { randomBytes } from 'node:crypto'
import { connect } from 'node:net'

export const KINDS = ['garbage', 'oversize', 'silent', 'slowloris', 'storm']

/** `127.0.0.{base}` … `127.0.0.{base + count - 1}`, round-robin, so a per-source cap does not decide alone. */
export const sourceOf = (i, count = 100, base = 2) => `127.0.0.${base + (i % count)}`

const CONNECT_TIMEOUT_MS = 15_000

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** First bytes that are neither text, a small parley length prefix, nor the start of a Noise handshake. */
function garbage() {
  const bytes = randomBytes(256)
  bytes[0] = 0x80 | bytes[0]
  return bytes
}

/** A 4-byte length prefix announcing 2-4 GiB. */
function oversizePrefix() {
  const bytes = randomBytes(4)
  bytes[0] = 0x80 | bytes[0]
  return bytes
}

/** What a secure dialer sends first (the 3-byte length of Noise's 32-byte message, then the key). */
const NOISE_START = [0x20, 0, 0]

/**
 * One connection of `kind` from `source`. Resolves with how it ended: `closedBy` is `node` (the node
 * closed it, `ms` after connect), `deadline` (still open `deadlineMs` after connect, destroyed), `self` (a storm closing its
 * own connection, with a FIN or, when `reset`, an RST) or `error` (could not connect, with `code`).
 */
export function hostileConnection(kind, { port, source, deadlineMs, dripMs, reset = false }) {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: source })
    let openedAt = 0
    let settled = false
    const finish = (result) => {
      if (settled) return
      settled = true
      clearTimeout(deadline)
      resolve({ kind, ...result })
    }
    // Connecting may take a while when the node's accept queue is full; the deadline runs from connect.
    let deadline = setTimeout(() => {
      socket.destroy()
      finish({ closedBy: 'error', code: 'CONNECT_TIMEOUT' })
    }, CONNECT_TIMEOUT_MS)
    socket.on('error', (error) => {
      if (!openedAt) finish({ closedBy: 'error', code: error.code ?? 'UNKNOWN' })
    })
    socket.on('close', () => finish({ closedBy: 'node', ms: Date.now() - openedAt }))
    socket.once('connect', async () => {
      openedAt = Date.now()
      clearTimeout(deadline)
      deadline = setTimeout(() => {
        socket.destroy()
        finish({ closedBy: 'deadline', ms: Date.now() - openedAt })
      }, deadlineMs)
      socket.resume()
      switch (kind) {
        case 'garbage':
          socket.write(garbage())
          return
        case 'oversize':
          socket.write(oversizePrefix())
          return
        case 'silent':
          return
        case 'slowloris': {
          const drip = [...NOISE_START, ...randomBytes(61)]
          for (const byte of drip) {
            if (settled || socket.destroyed) return
            socket.write(Uint8Array.of(byte))
            await sleep(dripMs)
          }
          return
        }
        case 'storm':
          if (reset) socket.resetAndDestroy()
          else socket.destroy()
          finish({ closedBy: 'self', ms: Date.now() - openedAt })
          return
        default:
          throw new Error(`unknown kind ${kind}`)
      }
    })
  })
}

/**
 * `count` connections of one kind, at most `concurrency` at a time. Resolves with every result and the
 * wall time the wave took.
 */
export async function wave(kind, { port, count, concurrency, deadlineMs, dripMs, sources = 100, base = 2 }) {
  const results = []
  const started = Date.now()
  let next = 0
  const worker = async () => {
    while (next < count) {
      const i = next++
      const source = sourceOf(i, sources, base)
      results.push(await hostileConnection(kind, { port, source, deadlineMs, dripMs, reset: i % 2 === 1 }))
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  return { kind, results, wallMs: Date.now() - started }
}
