import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'

/**
 * Loading zod took about 70 ms of every start-up, so the schemas load it only to word
 * a refusal (or for a frame the hand checks leave to it). Checked on the built package in a fresh process,
 * since this one has loaded zod through other tests.
 */
const CORE = new URL('../dist/index.js', import.meta.url).href
const ID = '0123456789abcdef'

/** Decodes each value as one frame in a fresh node; says what each gave, then whether zod was loaded. */
function decodeFresh(values: unknown[]): string[] {
  const script = `
    import { createRequire } from 'node:module'
    const { FrameDecoder } = await import(${JSON.stringify(CORE)})
    const out = []
    for (const value of ${JSON.stringify(values)}) {
      const body = Buffer.from(JSON.stringify(value))
      const frame = Buffer.alloc(4 + body.length)
      frame.writeUInt32BE(body.length)
      body.copy(frame, 4)
      const { messages, error } = new FrameDecoder().push(frame)
      out.push(error ? error.message : messages[0].type)
    }
    const zod = Object.keys(createRequire(import.meta.url).cache).some((file) => file.includes('/zod/'))
    out.push(zod ? 'zod loaded' : 'zod not loaded')
    process.stdout.write(JSON.stringify(out))
  `
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })
  expect(child.stderr).toBe('')
  return JSON.parse(child.stdout) as string[]
}

describe('the schema library is loaded only when it is needed', () => {
  it('stays unloaded while a node takes good frames of every type', () => {
    const frames = [
      { type: 'hello', v: '1.0', id: ID, name: 'bob', caps: ['instance:0a1b'], listen: '127.0.0.1:4001' },
      { type: 'accept' },
      { type: 'msg', id: 'm1', seq: 1, ts: 1, from: ID, body: 'hi' },
      { type: 'ack', upTo: 1, base: 0, have: { [ID]: 3 }, bases: {}, more: true },
      { type: 'ping', n: 1 },
      { type: 'pong', n: 1 },
      { type: 'throttle', retryMs: 5 },
      { type: 'bye', reason: 'done', code: 'OVER_QUOTA' },
    ]
    expect(decodeFresh(frames)).toEqual([...frames.map((f) => f.type), 'zod not loaded'])
  })

  it('is loaded to say what is wrong with a bad frame', () => {
    const [refusal, zod] = decodeFresh([{ type: 'ping', n: -1 }])
    expect(refusal).toMatch(/^invalid ping message at "n": /)
    expect(zod).toBe('zod loaded')
  })
})
