/**
 * Loaded into a spawned parley with `node --import` by the lines-1m case: samples the event loop's delay
 * (`monitorEventLoopDelay`) and writes the longest delay of every half second, with its wall-clock time,
 * to the file named by PARLEY_BENCH_LOOP_FILE, so that the bench can tell how long the node stopped
 * serving its links (during a journal compaction, for example). With PARLEY_BENCH_LIVE_HEAP=1 (and node's
 * --expose-gc) it also forces a full garbage collection every half second and notes the old generation's
 * size right after it: what the node holds, apart from how far V8 let its heap grow. The collections cost
 * time, so the lines-1m case asks for them only with --live-heap.
 */
import { writeFileSync } from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { getHeapSpaceStatistics } from 'node:v8'

/** What the file holds. */
export interface LoopFile {
  windows: { at: number; maxMs: number }[]
  /** After each forced full collection: the bytes used in the old and large-object spaces. */
  afterFullGc: { at: number; bytes: number }[]
}

/** The old generation's bytes in use: right after a full collection, what survived it. */
function oldGenerationBytes(): number {
  let bytes = 0
  for (const space of getHeapSpaceStatistics()) {
    if (space.space_name === 'old_space' || space.space_name === 'large_object_space')
      bytes += space.space_used_size
  }
  return bytes
}

const file = process.env.PARLEY_BENCH_LOOP_FILE
if (file) {
  const histogram = monitorEventLoopDelay({ resolution: 5 })
  histogram.enable()
  const recorded: LoopFile = { windows: [], afterFullGc: [] }
  const note = () => {
    recorded.windows.push({ at: Date.now(), maxMs: histogram.max / 1e6 })
    histogram.reset()
  }
  const collect = process.env.PARLEY_BENCH_LIVE_HEAP === '1' ? globalThis.gc : undefined
  setInterval(() => {
    if (collect) {
      collect()
      recorded.afterFullGc.push({ at: Date.now(), bytes: oldGenerationBytes() })
    }
    note()
    writeFileSync(file, JSON.stringify(recorded))
  }, 500).unref()
  process.on('exit', () => {
    note()
    writeFileSync(file, JSON.stringify(recorded))
  })
}
