import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { median } from './stats.js'

export interface StartupResult {
  parleyMs: number
  nodeMs: number
  ratio: number
  bin: string
}

/** The `parley` executable of the workspace's @parley/cli (its bin file, which imports dist/). */
export function parleyBin(): string {
  const require = createRequire(import.meta.url)
  const manifestPath = require.resolve('@parley/cli/package.json')
  const manifest = require(manifestPath) as { bin: { parley: string } }
  return join(dirname(manifestPath), manifest.bin.parley)
}

/** Wall time of one process from spawn to exit (ms); rejects when it fails. */
function timeProcess(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now()
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
    })
    child.on('error', reject)
    child.on('exit', (code) => {
      const ms = performance.now() - start
      if (code === 0) resolve(ms)
      else reject(new Error(`node ${args.join(' ')} exited with ${code}: ${stderr.trim()}`))
    })
  })
}

/**
 * `parley --version` against bare `node -e 0`, alternated so that drift in the machine's load hits both
 * alike, after one unmeasured run of each (disk cache).
 */
export async function measureStartup(reps: number): Promise<StartupResult> {
  const bin = parleyBin()
  const parley = [bin, '--version']
  const bare = ['-e', '0']
  await timeProcess(parley)
  await timeProcess(bare)
  const parleyTimes: number[] = []
  const nodeTimes: number[] = []
  for (let i = 0; i < reps; i++) {
    parleyTimes.push(await timeProcess(parley))
    nodeTimes.push(await timeProcess(bare))
  }
  const parleyMs = median(parleyTimes)
  const nodeMs = median(nodeTimes)
  return { parleyMs, nodeMs, ratio: parleyMs / nodeMs, bin }
}
