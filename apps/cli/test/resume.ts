/**
 * A file piped past a full outbox, where the run stops reading, and the run after it: shared by the tests
 * of each way to stop.
 */
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

/** More lines than the outbox holds (10,000 messages; a line counts one): reading them must pause. */
export const PAST_THE_OUTBOX: readonly string[] = Array.from(
  { length: 15_000 },
  (_, i) => `file line ${i + 1}`,
)

/** Writes all of `lines` to the process's stdin; it may stop reading, or exit, before taking them. */
export function pipeLines(proc: ReturnType<TestProcesses['start']>, lines: readonly string[]): void {
  proc.child.stdin.on('error', () => undefined)
  proc.child.stdin.write(`${lines.join('\n')}\n`)
}

/**
 * The last input line a run took, as its line saying where it stopped reads (`stopped`, with the number
 * as its first group): past the full outbox, before the end of `lines`, with the line to resume from.
 */
export function lineStoppedAt(said: string, stopped: RegExp, lines: readonly string[]): number {
  const taken = Number(stopped.exec(said)?.[1]?.replaceAll(',', ''))
  expect(taken).toBeGreaterThanOrEqual(10_000)
  expect(taken).toBeLessThan(lines.length)
  expect(said).toContain(`tail -n +${taken + 1} FILE`)
  return taken
}
