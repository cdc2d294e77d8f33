/** Records everything a Link reports, for transport tests. */
import type { Link } from '@parley/core'
import { vi } from 'vitest'

export interface Recording {
  bytes(): Buffer
  chunks: Uint8Array[]
  closes: Array<Error | undefined>
  drains(): number
  closed: Promise<Error | undefined>
  waitForBytes(count: number): Promise<Buffer>
}

/** Attaches to a link and records everything it reports. */
export function record(link: Link): Recording {
  const chunks: Uint8Array[] = []
  const closes: Array<Error | undefined> = []
  let drains = 0
  let onClose: (error: Error | undefined) => void = () => {}
  const closed = new Promise<Error | undefined>((resolve) => {
    onClose = resolve
  })
  link.attach({
    data: (chunk) => chunks.push(chunk),
    drain: () => drains++,
    close: (error) => {
      closes.push(error)
      onClose(error)
    },
  })
  const bytes = () => Buffer.concat(chunks)
  const waitForBytes = (count: number) =>
    vi.waitFor(
      () => {
        if (bytes().length < count) throw new Error(`got ${bytes().length} of ${count} bytes`)
        return bytes()
      },
      { timeout: 15_000, interval: 5 },
    )
  return { bytes, chunks, closes, drains: () => drains, closed, waitForBytes }
}
