/**
 * Loaded with `node --expose-gc --import` into the victim of `pnpm load:attacks`: every half second it
 * collects all the garbage and writes what survived (the heap in use, and memory outside the heap such as
 * the buffers a link holds) to the file named by PARLEY_LOAD_RETAINED_FILE. The bound on what a hostile
 * peer makes the node keep is judged on that: RSS also counts how far V8 let its heap grow for the
 * garbage an attack makes, which a lighter start (a smaller RSS before) shows as growth.
 */
import { renameSync, writeFileSync } from 'node:fs'

const file = process.env.PARLEY_LOAD_RETAINED_FILE
const collect = globalThis.gc
if (file && typeof collect === 'function') {
  const samples = []
  const sample = () => {
    collect()
    const { heapUsed, external } = process.memoryUsage()
    samples.push({ at: Date.now(), bytes: heapUsed + external })
    // Written aside and renamed over: the tool may read it at any moment, and must never find half a file.
    writeFileSync(`${file}.next`, JSON.stringify(samples))
    renameSync(`${file}.next`, file)
  }
  sample()
  setInterval(sample, 500).unref()
}
