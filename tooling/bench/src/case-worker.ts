/**
 * One case in a process of its own (argv[2] is its key), so that cases cannot slow each other down through
 * a shared heap, JIT state or leftover timers. The bench asks for one visit at a time over IPC.
 */
import { CASES } from './cases/index.js'
import { flood, pingPong } from './drivers.js'
import type { BenchCase } from './pair.js'
import type { VisitReply, VisitRequest } from './worker-protocol.js'

/** No progress for this long means a message was lost: the visit fails instead of hanging the bench. */
const STALL_MS = 10_000
/** A ping-pong run stops after this long even if it has fewer round trips than asked (durable: ~ms each). */
const RTT_BUDGET_MS = 2_000

async function visit(bench: BenchCase, request: VisitRequest): Promise<VisitReply> {
  const { pair, connectMs } = await bench.open()
  try {
    const window = bench.unwindowed ? request.messages : request.window
    const before = process.cpuUsage()
    const ms = await flood(pair, request.messages, window, STALL_MS)
    const cpu = process.cpuUsage(before)
    const rtts = await pingPong(pair, request.rtt, RTT_BUDGET_MS, STALL_MS)
    const cpuUsPerMsg = (cpu.user + cpu.system) / request.messages
    return { type: 'run', throughput: request.messages / (ms / 1000), cpuUsPerMsg, connectMs, rtts }
  } finally {
    await pair.close()
    globalThis.gc?.()
  }
}

const bench = CASES.find((c) => c.key === process.argv[2])
if (!bench) {
  console.error(`case-worker: unknown case ${process.argv[2]}`)
  process.exit(2)
}
process.on('message', (request: VisitRequest) => {
  visit(bench, request).then(
    (reply) => process.send?.(reply),
    (error: unknown) =>
      process.send?.({ type: 'error', message: error instanceof Error ? error.message : String(error) }),
  )
})
process.on('disconnect', () => process.exit(0))
process.send?.({ type: 'ready' })
