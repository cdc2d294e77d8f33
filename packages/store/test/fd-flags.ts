/** What this process holds open, read from Linux's /proc: for tests of how the store opens its files. */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

/** The open(2) flags of every descriptor this process holds on `path`, which must be its real path (/proc names files so). */
export function openFlagsOf(path: string): number[] {
  const out: number[] = []
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`)
    } catch {
      continue
    }
    if (target !== path) continue
    const line = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))
    if (line) out.push(Number.parseInt(line[1]!, 8))
  }
  return out
}
