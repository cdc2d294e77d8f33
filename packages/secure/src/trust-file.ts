import { readFileSync } from 'node:fs'
import { fileTrouble, TrustFileError } from './errors.js'

export interface TrustFileLine {
  /** 1-based line number, for error messages. */
  number: number
  /** The line's whitespace-separated words, with any `# comment` removed. */
  words: string[]
  text: string
}

/**
 * A trust file's text, or `undefined` when it does not exist. UTF-8, or UTF-16 with its byte order mark
 * (what Windows PowerShell's `>` and Notepad's "Unicode" write: `parley id > friends.txt` there); other
 * text with NUL bytes in it is refused with a line that says to save it as UTF-8.
 */
export async function readTextIfExists(file: string): Promise<string | undefined> {
  let bytes: Buffer
  try {
    // A synchronous read: a trust file is a few lines, read as a node starts (and when a peer is
    // remembered), and a round trip through the thread pool took longer than the read itself.
    bytes = readFileSync(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new TrustFileError('READ_FAILED', `cannot read ${file}: ${fileTrouble(err)}`, file, undefined, {
      cause: err,
    })
  }
  return decodeTrustFile(bytes, file)
}

/** `bytes` as text: UTF-16 when a byte order mark says so, else UTF-8 (a UTF-8 mark is read as space). */
export function decodeTrustFile(bytes: Buffer, file: string): string {
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) return bytes.toString('utf16le', 2)
  if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) {
    const swapped = Buffer.from(bytes.subarray(2, bytes.length - (bytes.length % 2)))
    return swapped.swap16().toString('utf16le')
  }
  if (bytes.includes(0)) {
    throw new TrustFileError(
      'READ_FAILED',
      `${file} is not text parley can read (it holds NUL bytes: UTF-16 without a byte order mark?); save it as UTF-8`,
      file,
    )
  }
  return bytes.toString('utf8')
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
