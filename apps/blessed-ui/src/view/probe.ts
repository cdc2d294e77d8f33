import { type EmojiKind, type MeasuredWidths, PROBE_SAMPLES } from '../text/width.js'

export interface ProbeResult {
  /** Cells each kind's samples took, in order; `rulesFromProbe` turns them into widths. */
  readonly widths: MeasuredWidths
  /** Input that arrived during the probe and is not a reply to it (keys typed early). */
  readonly leftover: string
}

const REPLY = /\x1b\[(\d+);(\d+)R/

/**
 * Asks the terminal how wide it draws each kind of emoji: prints a sample at the start of the line, then asks
 * for the cursor position (DSR). Terminals differ (tmux 3.3a draws 👍🏽 in 4 cells). Without an answer within
 * `timeoutMs` the kinds stay unknown and `string-width` decides. The line is erased afterwards.
 */
export function probeWidths(
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  timeoutMs = 400,
): Promise<ProbeResult> {
  const samples = (Object.keys(PROBE_SAMPLES) as EmojiKind[]).flatMap((kind) =>
    PROBE_SAMPLES[kind].map((sample) => ({ kind, sample })),
  )
  return new Promise((resolve) => {
    const measured: Partial<Record<EmojiKind, number[]>> = {}
    const widths: MeasuredWidths = measured
    let buffer = ''
    let leftover = ''
    let answered = 0
    const finish = () => {
      clearTimeout(timer)
      input.removeListener('data', onData)
      output.write('\r\x1b[2K')
      resolve({ widths, leftover: leftover + buffer })
    }
    const onData = (chunk: string | Buffer) => {
      buffer += chunk.toString()
      for (let match = REPLY.exec(buffer); match; match = REPLY.exec(buffer)) {
        leftover += buffer.slice(0, match.index)
        buffer = buffer.slice(match.index + match[0].length)
        const probed = samples[answered++]
        if (probed) measured[probed.kind] = [...(measured[probed.kind] ?? []), Number(match[2]) - 1]
        if (answered === samples.length) return finish()
      }
    }
    const timer = setTimeout(finish, timeoutMs)
    input.on('data', onData)
    output.write(samples.map(({ sample }) => `\r\x1b[2K${sample}\x1b[6n`).join(''))
  })
}
