/**
 * Piped lines end to end (issue 18): a file of short lines piped from one spawned `parley` to another on
 * loopback, next to netcat and a bare Node.js socket pipe doing the same, in one run. Rounds visit the rows
 * in turn, so drift in the machine's load spreads over all of them.
 */
import {
  type InputFile,
  NETCAT_ENDS,
  NODE_PIPE_ENDS,
  NOISE_PIPE_ENDS,
  netcatInstalled,
  PARLEY_ENDS,
  PARLEY_PLAIN_ENDS,
  type PipeEnds,
  PLAIN_RECEIVER_ALONE_ENDS,
  PLAIN_SENDER_ALONE_ENDS,
  pipeOnce,
  removeDir,
  tempDir,
  writeInput,
} from './pipe-run.js'
import { median, ratio, round } from './stats.js'

export interface PipedSettings {
  lines: number
  reps: number
  /** One unmeasured round first (disk cache, first spawns). */
  warmUp: boolean
}

export interface PipedRow {
  key: string
  label: string
  /** Lines this row pipes: the run's count, or 1 for a row that measures the fixed cost. */
  lines: number
  /** Median seconds over the measured rounds; undefined when skipped or failed. */
  seconds?: number
  runs: number[]
  /** × the bare Node.js pipe. */
  ratio?: number
  skipped?: string
  error?: string
}

export interface PipedResult {
  lines: number
  bytes: number
  reps: number
  rows: PipedRow[]
}

/**
 * The targets: × the bare Node.js socket pipe, medians of one run. `fixed` is the row that pipes a
 * single line the same way: what every run pays whatever its length (spawn, start-up, handshake, exit).
 */
export const PIPED_TARGETS = [
  { key: 'parley', max: 3, fixed: 'parleyOneLine' },
  { key: 'parleyPlain', max: 2, fixed: 'parleyPlainOneLine' },
] as const

export async function measurePiped(
  settings: PipedSettings,
  progress: (line: string) => void,
): Promise<PipedResult> {
  const dir = tempDir('parley-bench-lines-')
  try {
    const input = writeInput(dir, settings.lines)
    const oneLine = writeInput(dir, 1)
    const n = input.lines
    const rows: (PipedRow & { ends?: PipeEnds; input?: InputFile })[] = [
      netcatInstalled()
        ? { key: 'netcat', label: NETCAT_ENDS.label, lines: n, runs: [], ends: NETCAT_ENDS }
        : { key: 'netcat', label: NETCAT_ENDS.label, lines: n, runs: [], skipped: 'nc is not installed' },
      { key: 'node', label: NODE_PIPE_ENDS.label, lines: n, runs: [], ends: NODE_PIPE_ENDS },
      // The floor a secure parley stands on: the same pipe through the Noise stack of every secure link.
      { key: 'noise', label: NOISE_PIPE_ENDS.label, lines: n, runs: [], ends: NOISE_PIPE_ENDS },
      { key: 'parley', label: 'parley (secure, journals)', lines: n, runs: [], ends: PARLEY_ENDS() },
      { key: 'parleyPlain', label: 'parley --plain', lines: n, runs: [], ends: PARLEY_PLAIN_ENDS() },
      // Each end of the --plain pipe alone, the other end being the bare Node.js pipe's.
      ...[PLAIN_SENDER_ALONE_ENDS(), PLAIN_RECEIVER_ALONE_ENDS()].map((ends) => ({
        key: ends.key,
        label: ends.label,
        lines: n,
        runs: [],
        ends,
      })),
      // The fixed cost of each: one line piped the same way.
      {
        key: 'parleyOneLine',
        label: 'parley, 1 line',
        lines: 1,
        runs: [],
        ends: PARLEY_ENDS(),
        input: oneLine,
      },
      {
        key: 'parleyPlainOneLine',
        label: 'parley --plain, 1 line',
        lines: 1,
        runs: [],
        ends: PARLEY_PLAIN_ENDS(),
        input: oneLine,
      },
      {
        key: 'noiseOneLine',
        label: 'Node.js pipe through secret-stream, 1 line',
        lines: 1,
        runs: [],
        ends: NOISE_PIPE_ENDS,
        input: oneLine,
      },
    ]
    for (let round = settings.warmUp ? 0 : 1; round <= settings.reps; round++) {
      for (const row of rows) {
        if (!row.ends || row.error) continue
        try {
          const piped = row.input ?? input
          const run = await pipeOnce(row.ends, piped, pipeLimits(piped))
          if (round === 0) continue
          row.runs.push(run.ms / 1000)
          progress(`  piped round ${round}/${settings.reps} ${row.label}: ${(run.ms / 1000).toFixed(3)} s`)
        } catch (error) {
          row.error = error instanceof Error ? error.message : String(error)
          progress(`  piped ${row.label} failed: ${row.error}`)
        }
      }
      if (round === 0) progress('  piped warm-up round done')
    }
    const node = rows.find((r) => r.key === 'node')
    const nodeSeconds = node && !node.error && node.runs.length > 0 ? median(node.runs) : undefined
    return {
      lines: input.lines,
      bytes: input.bytes,
      reps: settings.reps,
      rows: rows.map(({ ends: _ends, input: _input, ...row }) => {
        if (row.error || row.skipped || row.runs.length === 0) return row
        const seconds = median(row.runs)
        const vs = ratio(seconds, nodeSeconds)
        return { ...row, seconds, ...(vs === undefined ? {} : { ratio: vs }) }
      }),
    }
  } finally {
    removeDir(dir)
  }
}

/** Generous limits that only catch a hang: 20 s without a new line, a minute plus 1 ms per line in all. */
function pipeLimits(input: InputFile) {
  return { stallMs: 20_000, ceilingMs: 60_000 + input.lines }
}

export function renderPiped(result: PipedResult): string[] {
  const out = [
    `piped lines end to end: ${result.lines.toLocaleString('en-US')} lines of 60 bytes (${(result.bytes / 1e6).toFixed(1)} MB) from a spawned sender to a spawned receiver on loopback; medians of ${result.reps} round(s)`,
    '',
  ]
  const rows: string[][] = [['what', 'time', '× node pipe', 'lines/s', 'runs (s)']]
  for (const row of result.rows) {
    if (row.skipped) rows.push([row.label, 'skipped', row.skipped, '', ''])
    else if (row.error) rows.push([row.label, 'failed', row.error.slice(0, 80), '', ''])
    else
      rows.push([
        row.label,
        row.seconds === undefined ? '—' : `${row.seconds.toFixed(3)} s`,
        row.ratio === undefined ? '' : `${row.ratio.toFixed(2)}`,
        row.seconds === undefined || row.lines === 1
          ? ''
          : Math.round(row.lines / row.seconds).toLocaleString('en-US'),
        row.runs.map((s) => s.toFixed(2)).join(' '),
      ])
  }
  out.push(...table(rows, [false, true, true, true, false]), '')
  const targets: string[][] = [['target (issue 18)', 'value', 'target', 'met']]
  for (const target of PIPED_TARGETS) {
    const row = result.rows.find((r) => r.key === target.key)
    const value = row?.ratio
    targets.push([
      `${row?.label ?? target.key} / node pipe, time`,
      value === undefined ? '—' : value.toFixed(2),
      `≤ ${target.max}`,
      value === undefined ? '—' : value <= target.max ? 'yes' : 'NO',
    ])
  }
  out.push(...table(targets, [false, true, false, false]), '')
  const budgets = PIPED_TARGETS.map((target) => lineBudget(result, target)).filter((b) => b !== undefined)
  if (budgets.length > 0) {
    out.push('  what a line may cost once the fixed cost (the same pipe with 1 line) is paid:')
    for (const b of budgets)
      out.push(
        `    ${b.label}: ${b.usedUs.toFixed(1)} µs per line now; the target leaves ${b.allowedUs.toFixed(1)} µs (fixed cost ${b.fixedSeconds.toFixed(3)} s = ${b.fixedRatio.toFixed(2)}× the node pipe's whole run)`,
      )
  }
  const plainEnds = plainEndsNote(result)
  if (plainEnds) out.push(plainEnds)
  const noise = noiseFloorNote(result)
  if (noise) out.push(noise)
  out.push(
    "  time: from the sender's spawn to the receiver having printed the last line (its stdout, counted here). The",
    '    receiver listens first (port 0); the sender reads the file as its stdin. parley: `--recv-only --rate 0` receiver',
    '    and a one-shot sender, each with its own temp --data-dir (journal on); the sender exits 0 once all is acknowledged.',
    '    --plain: the same flags with --plain on both sides (no journal). nc: `nc -l` and `nc -N`. node: pipe-end.js,',
    '    stdin piped into a socket and the socket piped to stdout. Every line is counted; a missing or extra one fails.',
    '    "parley --plain sending, node receiving" and "node sending, parley --plain receiving": one end of the --plain',
    '    pipe with the node pipe\'s other end, to tell which end bounds it. "Node.js pipe through secret-stream": the node',
    '    pipe with @hyperswarm/secret-stream (Noise XX, then every byte encrypted) on the socket, which secure parley runs on.',
  )
  return out
}

/** Which end of the --plain pipe bounds it: each end alone, × the node pipe, beside the whole. */
export function plainEndsNote(result: PipedResult): string | undefined {
  const ratioOf = (key: string) => result.rows.find((r) => r.key === key)?.ratio
  const sender = ratioOf('parleyPlainSender')
  const receiver = ratioOf('parleyPlainReceiver')
  const whole = ratioOf('parleyPlain')
  if (sender === undefined || receiver === undefined || whole === undefined) return undefined
  // Within a tenth of each other, which one is slower is the run's noise.
  const close = Math.abs(sender - receiver) < 0.1 * Math.min(sender, receiver)
  const together =
    whole > Math.max(sender, receiver) ? ', and together more than either (they share the cores)' : ''
  const verdict = close
    ? `the ends cost about the same alone${together}`
    : `the ${receiver > sender ? 'receiver' : 'sender'} bounds the pipe`
  return `  --plain by end: the sender alone ${sender.toFixed(2)}×, the receiver alone ${receiver.toFixed(2)}×, both ${whole.toFixed(2)}×: ${verdict}`
}

/** Microseconds each line of row `key` costs beyond its one-line row's run; undefined unless both were timed. */
function perLineUs(result: PipedResult, key: string, oneLineKey: string): number | undefined {
  const row = result.rows.find((r) => r.key === key)
  const fixed = result.rows.find((r) => r.key === oneLineKey)?.seconds
  if (row?.seconds === undefined || fixed === undefined || row.lines < 2) return undefined
  return ((row.seconds - fixed) * 1e6) / (row.lines - 1)
}

/**
 * The secure pipe against the floor its Noise stack sets: that stack alone, piped, × the node pipe, and
 * what a line costs through it and through parley beyond each one's one-line run.
 */
export function noiseFloor(result: PipedResult) {
  const ratio = result.rows.find((r) => r.key === 'noise')?.ratio
  const noiseUs = perLineUs(result, 'noise', 'noiseOneLine')
  const parleyUs = perLineUs(result, 'parley', 'parleyOneLine')
  if (ratio === undefined || noiseUs === undefined || parleyUs === undefined) return undefined
  return { ratio, noiseUs, parleyUs }
}

export function noiseFloorNote(result: PipedResult): string | undefined {
  const floor = noiseFloor(result)
  if (!floor) return undefined
  return `  the Noise stack alone (node pipe through secret-stream): ${floor.ratio.toFixed(2)}× the node pipe, ${floor.noiseUs.toFixed(1)} µs per line beyond its 1-line run; parley (secure) ${floor.parleyUs.toFixed(1)} µs, ${(floor.parleyUs - floor.noiseUs).toFixed(1)} of them its own (frames, acks, hash chain, journals, display)`
}

/**
 * A target's row against its one-line row: what each line costs beyond the fixed cost now, and what the
 * target leaves for it once the fixed cost is paid (negative: the fixed cost alone is over the target).
 */
export function lineBudget(result: PipedResult, target: (typeof PIPED_TARGETS)[number]) {
  const row = result.rows.find((r) => r.key === target.key)
  const fixed = result.rows.find((r) => r.key === target.fixed)?.seconds
  const node = result.rows.find((r) => r.key === 'node')?.seconds
  if (row?.seconds === undefined || fixed === undefined || node === undefined || row.lines < 2)
    return undefined
  const perLine = (seconds: number) => (seconds * 1e6) / (row.lines - 1)
  return {
    key: target.key,
    label: row.label,
    usedUs: perLineUs(result, target.key, target.fixed) as number,
    allowedUs: perLine(target.max * node - fixed),
    fixedSeconds: fixed,
    fixedRatio: fixed / node,
  }
}

export function pipedSummary(result: PipedResult) {
  return {
    lines: result.lines,
    reps: result.reps,
    seconds: Object.fromEntries(result.rows.map((r) => [r.key, round(r.seconds, 4) ?? null])),
    ratioToNode: Object.fromEntries(result.rows.map((r) => [r.key, round(r.ratio, 3) ?? null])),
    runs: Object.fromEntries(result.rows.map((r) => [r.key, r.runs.map((s) => round(s, 4))])),
    targets: Object.fromEntries(
      PIPED_TARGETS.map((t) => {
        const value = result.rows.find((r) => r.key === t.key)?.ratio
        return [
          t.key,
          { max: t.max, value: round(value, 3) ?? null, met: value === undefined ? null : value <= t.max },
        ]
      }),
    ),
    lineBudgets: Object.fromEntries(
      PIPED_TARGETS.map((t) => {
        const b = lineBudget(result, t)
        return [
          t.key,
          b
            ? {
                usedUs: round(b.usedUs, 2),
                allowedUs: round(b.allowedUs, 2),
                fixedRatio: round(b.fixedRatio, 3),
              }
            : null,
        ]
      }),
    ),
    noiseFloor: (() => {
      const floor = noiseFloor(result)
      return floor
        ? {
            ratio: round(floor.ratio, 3),
            noiseUs: round(floor.noiseUs, 2),
            parleyUs: round(floor.parleyUs, 2),
          }
        : null
    })(),
    skipped: Object.fromEntries(result.rows.filter((r) => r.skipped).map((r) => [r.key, r.skipped])),
    errors: Object.fromEntries(result.rows.filter((r) => r.error).map((r) => [r.key, r.error])),
  }
}

export function table(rows: string[][], rightAligned: boolean[]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return rows.map((r, rowIndex) => {
    const line = r
      .map((cell, i) =>
        rightAligned[i] && rowIndex > 0 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!),
      )
      .join('  ')
      .trimEnd()
    return rowIndex === 0 ? `${line}\n${'-'.repeat(line.length)}` : line
  })
}
