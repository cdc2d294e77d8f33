import { readFileSync } from 'node:fs'
import { fileTrouble, TrustFileError } from './errors.js'

export interface TrustFileLine {
  /** 1-based line number, for error messages. */
  number: number
  /** The line's whitespace-separated words, with any `# comment` removed. */
  words: string[]
  text: string
}

/** A trust file's text, or `undefined` when it does not exist. */
export async function readTextIfExists(file: string): Promise<string | undefined> {
  try {
    // A synchronous read: a trust file is a few lines, read as a node starts (and when a peer is
    // remembered), and a round trip through the thread pool took longer than the read itself.
    return readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new TrustFileError('READ_FAILED', `cannot read ${file}: ${fileTrouble(err)}`, file, undefined, {
      cause: err,
    })
  }
}

/** A line-based trust file's meaningful lines: blank lines and `#` comments are skipped. */
export function splitTrustLines(text: string): TrustFileLine[] {
  const lines: TrustFileLine[] = []
  text.split(/\r?\n/).forEach((raw, index) => {
    const hash = raw.indexOf('#')
    const content = (hash >= 0 ? raw.slice(0, hash) : raw).trim()
    if (content !== '') lines.push({ number: index + 1, words: content.split(/\s+/), text: raw })
  })
  return lines
}

export function badLine(file: string, line: number, why: string, cause?: unknown): TrustFileError {
  return new TrustFileError('BAD_LINE', `${file}:${line}: ${why}`, file, line, cause ? { cause } : undefined)
}
