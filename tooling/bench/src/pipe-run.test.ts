import { describe, expect, it } from 'vitest'
import { Child } from './pipe-run.js'

const LINES = 200_000

/** A child that prints LINES lines and exits at once, as a pipe's receiver does when its input ends. */
function printer(): { child: Child; counted: () => number } {
  const child = new Child([process.execPath, '-e', `process.stdout.write('x\\n'.repeat(${LINES}))`], 'ignore')
  let lines = 0
  child.process.stdout!.on('data', (chunk: Buffer) => {
    for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines++
  })
  return { child, counted: () => lines }
}

describe('Child', () => {
  it('is finished only once every line it printed has been read, however soon after it exits', async () => {
    for (let run = 0; run < 5; run++) {
      const { child, counted } = printer()
      expect(await child.finished).toBe(0)
      expect(counted()).toBe(LINES)
    }
  })
})
