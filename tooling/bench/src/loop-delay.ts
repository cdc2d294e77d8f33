/**
 * Loaded into a spawned parley with `node --import` by the lines-1m case: samples the event loop's delay
 * (`monitorEventLoopDelay`) and writes the longest delay of every half second, with its wall-clock time,
 * to the file named by PARLEY_BENCH_LOOP_FILE, so that the bench can tell how long the node stopped
 * serving its links (during a journal compaction, for example).
 */
import { writeFileSync } from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'

const file = process.env.PARLEY_BENCH_LOOP_FILE
if (file) {
  const histogram = monitorEventLoopDelay({ resolution: 5 })
  histogram.enable()
  const windows: { at: number; maxMs: number }[] = []
  const note = () => {
    windows.push({ at: Date.now(), maxMs: histogram.max / 1e6 })
    histogram.reset()
  }
  setInterval(() => {
    note()
    writeFileSync(file, JSON.stringify(windows))
  }, 500).unref()
  process.on('exit', () => {
    note()
    writeFileSync(file, JSON.stringify(windows))
  })
}
