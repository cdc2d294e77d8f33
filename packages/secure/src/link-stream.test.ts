import { once } from 'node:events'
import type { Link, LinkHandlers } from '@parley/core'
import { TransportError } from '@parley/core'
import { describe, expect, it } from 'vitest'
import { LinkStream } from './link-stream.js'

/** A Link whose write buffer is full on demand, recording what the stream asks of it. */
function fakeLink() {
  let handlers: LinkHandlers | undefined
  const calls: string[] = []
  const written: Buffer[] = []
  let full = false
  const link: Link = {
    direction: 'outbound',
    remoteAddress: '127.0.0.1:1',
    localAddress: '127.0.0.1:2',
    attach: (h) => {
      handlers = h
    },
    write: (chunk) => {
      written.push(Buffer.from(chunk))
      return !full
    },
    pause: () => calls.push('pause'),
    resume: () => calls.push('resume'),
    end: () => calls.push('end'),
    destroy: () => calls.push('destroy'),
  }
  return {
    link,
    calls,
    written,
    setFull: (value: boolean) => {
      full = value
    },
    remote: () => handlers!,
  }
}

describe('LinkStream', () => {
  it('pauses the link when nobody reads, and resumes it when the reader catches up', () => {
    const fake = fakeLink()
    const stream = new LinkStream(fake.link)
    const chunk = Buffer.alloc(32 * 1024, 1)
    for (let i = 0; i < 64 && !fake.calls.includes('pause'); i++) fake.remote().data(chunk)
    expect(fake.calls).toContain('pause')
    fake.calls.length = 0
    while (stream.read() !== null) {}
    expect(fake.calls).toContain('resume')
  })

  it('holds a write the link cannot take until the link drains, then asks for more', async () => {
    const fake = fakeLink()
    const stream = new LinkStream(fake.link)
    fake.setFull(true)
    const first = new Promise<void>((resolve) => stream.write(Buffer.from('one'), () => resolve()))
    let firstDone = false
    void first.then(() => {
      firstDone = true
    })
    const accepted = stream.write(Buffer.alloc(200 * 1024))
    expect(accepted).toBe(false)
    await Promise.resolve()
    expect(firstDone).toBe(false)
    expect(fake.written).toHaveLength(1)

    fake.setFull(false)
    const drained = once(stream, 'drain')
    fake.remote().drain()
    await first
    await drained
    expect(fake.written.map((b) => b.length)).toEqual([3, 200 * 1024])
  })

  it('ends the readable side after the data it holds when the link closes cleanly', async () => {
    const fake = fakeLink()
    const stream = new LinkStream(fake.link)
    fake.remote().data(Buffer.from('last'))
    fake.remote().close()
    const seen: string[] = []
    stream.on('data', (chunk: Buffer) => seen.push(chunk.toString()))
    await once(stream, 'end')
    expect(seen).toEqual(['last'])
  })

  it('fails with the link’s error when the link breaks', async () => {
    const fake = fakeLink()
    const stream = new LinkStream(fake.link)
    const error = new TransportError('RESET', 'peer at 127.0.0.1:1 reset the connection')
    const failed = once(stream, 'error')
    fake.remote().close(error)
    expect((await failed)[0]).toBe(error)
  })

  it('ends and destroys the link when the stream does', async () => {
    const fake = fakeLink()
    const stream = new LinkStream(fake.link)
    stream.end()
    await once(stream, 'finish')
    expect(fake.calls).toContain('end')
    stream.destroy()
    await once(stream, 'close')
    expect(fake.calls).toContain('destroy')
  })

  it('throws away what it holds and what comes next once told to discard input, and keeps the link reading', () => {
    const fake = fakeLink()
    const stream = new LinkStream(fake.link)
    fake.remote().data(Buffer.from('held'))
    stream.discardInput()
    fake.remote().data(Buffer.from('later'))
    expect(stream.read()).toBeNull()
    expect(stream.readableLength).toBe(0)
    expect(fake.calls).toContain('resume')
  })

  it('passes the record layer’s announced content size to the check', () => {
    const stream = new LinkStream(fakeLink().link)
    const sizes: number[] = []
    stream.setContentSize(5)
    stream.onContentSize((bytes) => sizes.push(bytes))
    stream.setContentSize(70_000)
    expect(sizes).toEqual([70_000])
  })
})
