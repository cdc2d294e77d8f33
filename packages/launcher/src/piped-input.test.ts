import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { LineSplitter, PipedLines } from './piped-input.js'
import { splitBody } from './session.js'

/**
 * The lines of a whole text as `wc -l` and `tail -n` count them: each ends at `\n`, a `\r` right before it
 * dropped (`\r\n`); the last needs none.
 */
function linesOf(text: string): string[] {
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  return lines.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line))
}

/**
 * 500 texts of line ends, wide characters and spaces (up to `length` units), each as bytes cut at up to
 * `cuts` random places; seeded, so a failure comes back the same.
 */
function* randomCuts(
  seed: number,
  length: number,
  cuts: number,
): Generator<{ whole: string; chunks: Buffer[] }> {
  let state = seed
  const next = (n: number) => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31
    return state % n
  }
  const units = ['a', 'b', 'ü', '😀', '\r', '\n', ' ']
  for (let round = 0; round < 500; round++) {
    let whole = ''
    for (let i = next(length); i > 0; i--) whole += units[next(units.length)]
    const bytes = Buffer.from(whole)
    const at = [...new Set(Array.from({ length: next(cuts) }, () => next(bytes.length + 1)))].sort(
      (a, b) => a - b,
    )
    yield { whole, chunks: [0, ...at].map((start, i) => bytes.subarray(start, at[i] ?? bytes.length)) }
  }
}

function split(chunks: (string | Uint8Array)[]): string[] {
  const splitter = new LineSplitter()
  return [...chunks.flatMap((c) => splitter.push(c)), ...splitter.end()]
}

describe('LineSplitter', () => {
  it('ends lines at \\n and \\r\\n, keeps a lone \\r and empty lines, and gives a last line without a newline', () => {
    expect(split(['one\ntwo\r\nthree\rfour\n\n\nfive'])).toEqual([
      'one',
      'two',
      'three\rfour',
      '',
      '',
      'five',
    ])
    // As many lines as `wc -l` counts (and `tail -n +N` skips): a progress bar's `\r`s stay in its line.
    expect(split(['10%\r20%\r30%\ndone\r\r\n'])).toEqual(['10%\r20%\r30%', 'done\r'])
    expect(split(['a\r'])).toEqual(['a'])
    expect(split(['\r'])).toEqual([''])
    expect(split([''])).toEqual([])
    expect(split(['a\n'])).toEqual(['a'])
  })

  it('takes a \\r\\n split between two reads as one end of line', () => {
    const splitter = new LineSplitter()
    expect(splitter.push('one\r')).toEqual([])
    expect(splitter.push('\ntwo\r')).toEqual(['one'])
    expect(splitter.push('three\n')).toEqual(['two\rthree'])
    expect(splitter.end()).toEqual([])
  })

  it('joins a character split between reads, keeps a byte-order mark, and turns bytes that are not UTF-8 into U+FFFD', () => {
    const bytes = Buffer.from('\ufeffgrüße 😀\n')
    const cut = [bytes.subarray(0, 6), bytes.subarray(6, 12), bytes.subarray(12)]
    expect(split(cut)).toEqual(['\ufeffgrüße 😀'])
    expect(split([Buffer.from([0x61, 0xff, 0x0a, 0xe2, 0x82])])).toEqual(['a\ufffd', '\ufffd'])
  })

  it('says once which line first held bytes that are not UTF-8, and never for a U+FFFD the text spells out', () => {
    const told = (chunks: Uint8Array[]) => {
      const lines: number[] = []
      const splitter = new LineSplitter((line) => lines.push(line))
      for (const chunk of chunks) splitter.push(chunk)
      splitter.end()
      return lines
    }
    const latin1 = Buffer.from('ok\r\nstill ok\ncaf\xe9\nna\xefve\n', 'latin1')
    expect(told([latin1])).toEqual([3])
    // The same, read a byte at a time.
    expect(told([...latin1].map((b) => Uint8Array.of(b)))).toEqual([3])
    // A real U+FFFD (EF BF BD), whole or cut between two reads anywhere, is text, not a bad byte.
    const real = Buffer.from('one\ntwo \ufffd\nthree \ufffd\ufffd\n', 'utf8')
    expect(told([real])).toEqual([])
    for (let cut = 1; cut < real.length; cut++)
      expect(told([real.subarray(0, cut), real.subarray(cut)])).toEqual([])
    // A character cut short by the end of the input.
    expect(told([Buffer.from([0x61, 0x0a, 0x62, 0xe2, 0x82])])).toEqual([2])
    expect(told([Buffer.from('all good\n')])).toEqual([])
  })

  it('cuts a line that grows past the limit as it is read, into the parts splitBody makes, and counts it once', () => {
    const splitter = new LineSplitter(undefined, 10)
    expect(splitter.push('short\n0123456789abcde')).toEqual(['short'])
    expect(splitter.takeParts()).toEqual(['0123456789'])
    expect(splitter.push('fghijklmnopqrstuvwxyz')).toEqual([])
    expect(splitter.takeParts()).toEqual(['abcdefghij', 'klmnopqrst'])
    // The rest ends as the line, however long the read that ends it.
    expect(splitter.push('0123456789\r\nnext\n')).toEqual(['uvwxyz0123456789', 'next'])
    expect(splitter.takeParts()).toEqual([])
    // A pair of surrogates is never cut, and a \r at the end waits for the \n that may follow it.
    expect(splitter.push('123456789😀abc')).toEqual([])
    expect(splitter.takeParts()).toEqual(['123456789'])
    expect(splitter.push('0123456789\r')).toEqual([])
    expect(splitter.takeParts()).toEqual(['😀abc01234'])
    expect(splitter.push('\n')).toEqual(['56789'])
    expect(splitter.end()).toEqual([])
  })

  it('holds at most the limit of a line without a newline, however long it grows', () => {
    const splitter = new LineSplitter()
    let parts = 0
    for (let i = 0; i < 200; i++) {
      splitter.push('progress 42%\r'.repeat(5_000))
      parts += splitter.takeParts().length
    }
    expect(parts).toBe(Math.floor((200 * 5_000 * 13 - 2) / 10_000))
    const rest = splitter.end()
    expect(rest).toHaveLength(1)
    expect(rest[0]!.length).toBeLessThanOrEqual(10_001)
  })

  it('sends any text, cut anywhere, as the same messages as the whole lines split by splitBody', () => {
    const messages = (texts: string[]) => texts.flatMap((text) => splitBody(text, 5))
    for (const { whole, chunks } of randomCuts(7, 60, 8)) {
      const splitter = new LineSplitter(undefined, 5)
      const sent: string[] = []
      for (const chunk of chunks) sent.push(...splitter.push(chunk), ...splitter.takeParts())
      sent.push(...splitter.end())
      expect(messages(sent), JSON.stringify(whole)).toEqual(messages(linesOf(whole)))
    }
  })

  it('gives the lines of any text cut anywhere', () => {
    for (const { whole, chunks } of randomCuts(42, 40, 6))
      expect(split(chunks), JSON.stringify(whole)).toEqual(linesOf(whole))
  })
})

describe('PipedLines', () => {
  it('gives the lines of each read while resumed, then the last one and close once the stream ends', async () => {
    const stream = new PassThrough()
    const input = new PipedLines(stream)
    const got: string[][] = []
    let closed = 0
    input.on('lines', (lines) => got.push(lines))
    input.on('close', () => closed++)
    stream.write('one\ntwo\nthr')
    input.resume()
    await new Promise((resolve) => setImmediate(resolve))
    expect(got).toEqual([['one', 'two']])
    stream.end('ee')
    await new Promise((resolve) => input.once('close', () => resolve(undefined)))
    expect(got).toEqual([['one', 'two'], ['three']])
    input.close()
    expect(closed).toBe(1)
  })

  it('reads nothing while paused, and nothing after close', async () => {
    const stream = new PassThrough()
    const input = new PipedLines(stream)
    const got: string[][] = []
    input.on('lines', (lines) => got.push(lines))
    stream.write('held\n')
    await new Promise((resolve) => setImmediate(resolve))
    expect(got).toEqual([])
    input.resume()
    await new Promise((resolve) => setImmediate(resolve))
    expect(got).toEqual([['held']])
    input.close()
    stream.write('after\n')
    stream.end()
    await new Promise((resolve) => setImmediate(resolve))
    expect(got).toEqual([['held']])
  })

  it('ends the input, last line given, when the stream fails', async () => {
    const stream = new PassThrough()
    const input = new PipedLines(stream)
    const got: string[][] = []
    input.on('lines', (lines) => got.push(lines))
    const closed = new Promise((resolve) => input.once('close', () => resolve(undefined)))
    input.resume()
    stream.write('partial')
    await new Promise((resolve) => setImmediate(resolve))
    stream.destroy(new Error('EIO'))
    await closed
    expect(got).toEqual([['partial']])
  })

  describe('endedWhole, while paused', () => {
    /** Input paused after its first read, as a full outbox pauses it: the stream's end is held back. */
    async function pausedAfterFirstRead(first: string) {
      const stream = new PassThrough()
      const input = new PipedLines(stream)
      const got: string[][] = []
      let closed = 0
      input.on('lines', (lines) => {
        got.push(lines)
        input.pause()
      })
      input.on('close', () => closed++)
      input.resume()
      stream.write(first)
      await new Promise((resolve) => setImmediate(resolve))
      return { stream, input, got, closed: () => closed }
    }

    it('ends an input whose end came while paused: its last line is given and close told', async () => {
      const { stream, input, got, closed } = await pausedAfterFirstRead('one\ntwo\nlast')
      stream.end()
      await new Promise((resolve) => setImmediate(resolve))
      // Paused, the stream has not said that it ended.
      expect(closed()).toBe(0)
      expect(await input.endedWhole()).toBe(true)
      expect(got).toEqual([['one', 'two'], ['last']])
      expect(closed()).toBe(1)
      expect(await input.endedWhole()).toBe(true)
    })

    it('is false while the stream goes on, and reads nothing', async () => {
      const { input, got, closed } = await pausedAfterFirstRead('one\n')
      expect(await input.endedWhole()).toBe(false)
      expect(got).toEqual([['one']])
      expect(closed()).toBe(0)
    })

    it('is false when a read is still buffered, though the stream ended after it', async () => {
      const { stream, input, got, closed } = await pausedAfterFirstRead('one\n')
      stream.end('two\n')
      await new Promise((resolve) => setImmediate(resolve))
      expect(await input.endedWhole()).toBe(false)
      expect(got).toEqual([['one']])
      expect(closed()).toBe(0)
      // Resumed, the rest comes as before.
      input.resume()
      await new Promise((resolve) => input.once('close', () => resolve(undefined)))
      expect(got).toEqual([['one'], ['two']])
    })

    it('is false for an input closed before its end', async () => {
      const { stream, input } = await pausedAfterFirstRead('one\n')
      input.close()
      stream.end()
      expect(await input.endedWhole()).toBe(false)
    })
  })
})
