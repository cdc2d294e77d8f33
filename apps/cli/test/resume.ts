/** The run after one that stopped before the end of its input, shared by the tests of each way to stop. */
import type { TestProcesses } from '@parley/testkit'
import { expect } from 'vitest'

/**
 * Starts a sender on `args` (its data dir holds the outbox of the stopped run) with `lines` from `taken`
 * on as its input, then a receiver on `port`: the receiver must get every line of `lines` once, in order.
 * Returns the sender, exited.
 */
export async function resumeAndDeliver(
  start: TestProcesses['start'],
  args: readonly string[],
  lines: readonly string[],
  taken: number,
  port: number,
): Promise<ReturnType<TestProcesses['start']>> {
  const second = start([...args, '--wait', '30'])
  second.child.stdin.write(`${lines.slice(taken).join('\n')}\n`)
  second.end()
  await second.waitFor('stderr', /input ended; waiting for/)
  const receiver = start(['--listen', `127.0.0.1:${port}`, '--name', 'bob', '--rate', '0'])
  expect(await second.exited).toBe(0)
  const last = (lines.at(-1) ?? '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  await receiver.waitFor('stdout', new RegExp(`${last}$`))
  expect(receiver.stdout).toEqual(lines.map((line) => `<alice> ${line}`))
  return second
}
