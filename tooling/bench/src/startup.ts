import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { parleyBin } from './parley-bin.js'
import { removeDir, tempDir, timeStartup } from './pipe-run.js'
import { median } from './stats.js'

export interface StartupResult {
  /** `parley --version`, which answers without loading the stack. */
  parleyMs: number
  nodeMs: number
  ratio: number
  /** `parley` from spawn to its `listening` line: what a user waits for. */
  listeningMs: number
  listeningRatio: number
  /**
   * `node` loading only the Noise stack every secure link runs on (@hyperswarm/secret-stream, which loads
   * libsodium): a floor under any parley that listens with it, whatever it does next.
   */
  noiseStackMs: number
  noiseStackRatio: number
  bin: string
}

/** `node -e` that loads the Noise stack and exits, with the library resolved from this package. */
function noiseStackArgs(): string[] {
  const path = createRequire(import.meta.url).resolve('@hyperswarm/secret-stream')
  return ['-e', `require(${JSON.stringify(path)})`]
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
 * Start-up three ways, alternated so that drift in the machine's load hits each alike, after one unmeasured
 * run of each (disk cache):
 * - `parley --version`, which answers before loading the stack;
 * - `parley` up to its `listening` line on a data dir made by a first run (identity made, journal empty):
 *   the whole stack loaded, the journal opened and the port bound, as a user waits for it;
 * - bare `node -e 0`, the baseline;
 * - `node` loading only the Noise stack (secret-stream and libsodium): the floor under the second.
 */
export async function measureStartup(reps: number): Promise<StartupResult> {
  const bin = parleyBin()
  const parley = [bin, '--version']
  const bare = ['-e', '0']
  const noiseStack = noiseStackArgs()
  const dataDir = tempDir('parley-bench-startup-')
  try {
    await timeProcess(parley)
    await timeProcess(bare)
    await timeProcess(noiseStack)
    await timeStartup(dataDir, 30_000)
    const parleyTimes: number[] = []
    const nodeTimes: number[] = []
    const noiseStackTimes: number[] = []
    const listeningTimes: number[] = []
    for (let i = 0; i < reps; i++) {
      parleyTimes.push(await timeProcess(parley))
      nodeTimes.push(await timeProcess(bare))
      noiseStackTimes.push(await timeProcess(noiseStack))
      listeningTimes.push(await timeStartup(dataDir, 30_000))
    }
    const parleyMs = median(parleyTimes)
    const nodeMs = median(nodeTimes)
    const noiseStackMs = median(noiseStackTimes)
    const listeningMs = median(listeningTimes)
    return {
      parleyMs,
      nodeMs,
      ratio: parleyMs / nodeMs,
      listeningMs,
      listeningRatio: listeningMs / nodeMs,
      noiseStackMs,
      noiseStackRatio: noiseStackMs / nodeMs,
      bin,
    }
  } finally {
    removeDir(dataDir)
  }
}
