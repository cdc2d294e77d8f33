#!/usr/bin/env node
// Frame cost without a terminal (not a test): parley-tui's view (BlessedView, on blessed) draws a flood of
// 10,000 messages arriving 300 between frames, onto a stream that discards what it gets, with a key typed
// every third frame. Reports the CPU time of the whole run and the median time of a full frame and of an
// input-row frame. Free of tmux and of the network, so two builds compare on a busy machine by CPU time.
// Needs `pnpm build`. FRAMES_DIST=DIR measures another build's dist; FRAMES_PER=N messages between frames;
// FRAMES_MESSAGES=N another count.
import { Writable } from 'node:stream'
import { pathToFileURL } from 'node:url'

const dist = process.env.FRAMES_DIST
  ? pathToFileURL(`${process.env.FRAMES_DIST}/`).href
  : new URL('../dist/', import.meta.url).href
// The view has its own module since 2eb928b; a build from before that (FRAMES_DIST) has it in view/tui.js.
const { BlessedView } = await import(`${dist}view/blessed-view.js`).catch(() => import(`${dist}view/tui.js`))
const { ChatModel } = await import(`${dist}model/chat.js`)
const { graphemeWidth } = await import(`${dist}text/width.js`)

const MESSAGES = Number(process.env.FRAMES_MESSAGES ?? 10_000)
const PER = Number(process.env.FRAMES_PER ?? 300)
let bytes = 0
const out = new Writable({
  write(chunk, _encoding, callback) {
    bytes += chunk.length
    callback()
  },
})
Object.assign(out, { isTTY: true, columns: 120, rows: 40, getWindowSize: () => [120, 40] })
const width = graphemeWidth()
const model = new ChatModel({ self: { id: 'self', name: 'bench' }, width })
const view = new BlessedView(model, width, out, {}, () => undefined)
const from = { id: 'peer', name: 'flood' }
// Warm up: string-width builds its tables on first use, which is start-up, not a frame.
width('😀')
view.renderNow()

const full = []
const input = []
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const cpu = process.cpuUsage()
let seq = 0
for (let frame = 0; seq < MESSAGES; frame++) {
  const messages = []
  for (let i = 0; i < PER && seq < MESSAGES; i++) {
    seq++
    const body = `flood ${seq} of ${MESSAGES}: the quick brown fox 😀 日本語`
    messages.push({ id: `m${seq}`, seq, ts: Date.now(), from, body, catchUp: false })
  }
  model.showMessages(messages)
  let started = performance.now()
  view.renderNow()
  full.push(performance.now() - started)
  if (frame % 3 === 0) {
    model.key({ type: 'text', text: 'x' })
    started = performance.now()
    view.renderInput()
    input.push(performance.now() - started)
  }
}
const used = process.cpuUsage(cpu)
view.destroy()
console.log(`frames benchmark: ${MESSAGES} messages, ${PER} between frames, 120x40, no terminal`)
console.log(`  CPU time, all frames and messages  ${Math.round((used.user + used.system) / 1000)} ms`)
console.log(`  full frame, median                 ${median(full).toFixed(2)} ms (${full.length} frames)`)
console.log(`  input-row frame, median            ${median(input).toFixed(2)} ms (${input.length} frames)`)
console.log(`  bytes written                      ${bytes}`)
