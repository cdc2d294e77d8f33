/**
 * Runs one fuzz run in a worker thread. Before each frame it copies the frame into memory shared with
 * the main thread, so that if the worker dies (out of memory, a native crash) the main thread can still
 * say which frame did it.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { runFuzz } from './harness.js'
import { SHARED_HEADER, type WorkerInput } from './shared.js'

const { options, shared } = workerData as WorkerInput
const header = new Int32Array(shared, 0, 2)
const frame = new Uint8Array(shared, SHARED_HEADER)

const report = await runFuzz({
  ...options,
  onFrame: (index, bytes) => {
    const length = Math.min(bytes.length, frame.length)
    frame.set(length === bytes.length ? bytes : bytes.subarray(0, length))
    header[1] = bytes.length
    header[0] = index
  },
})
parentPort?.postMessage(report)
