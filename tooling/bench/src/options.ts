import { parseArgs } from 'node:util'
import { DEFAULT_SIZES } from './lines-1m.js'
import type { CaseKey } from './pair.js'

export interface Options {
  messages: number
  reps: number
  rtt: number
  window: number
  links: number
  startupReps: number
  tuiMessages: number
  /** TUI floods run; their key echoes are pooled. */
  tuiFloods: number
  /** Lines of the piped-lines section, and its measured rounds. */
  lines: number
  linesReps: number
  /** Line counts of the lines-1m runs. */
  sizes: number[]
  /** lines-1m: force full collections in both ends and report the old generation after them. */
  liveHeap: boolean
  /** Cases to run; the extras (startup, links, tui, piped) run only when `only` is empty. */
  only: CaseKey[]
  /** Sections asked for by name in `--only`: `piped`, and `lines-1m`, which runs only when asked for. */
  onlySections: Set<SectionKey>
  skip: Set<ExtraKey>
  json: boolean
  quick: boolean
}

export type ExtraKey = 'startup' | 'links' | 'tui' | 'piped'
export type SectionKey = 'piped' | 'lines-1m'
const EXTRA_KEYS: readonly string[] = ['startup', 'links', 'tui', 'piped']
export const SECTION_KEYS: readonly string[] = ['piped', 'lines-1m']

export const CASE_KEYS: readonly CaseKey[] = [
  'raw',
  'rawUnwindowed',
  'cryptoBaseline',
  'plain',
  'plainLines',
  'secureUnsigned',
  'secure',
  'secureNoStore',
  'secureDurable',
  'dht',
  'dhtDurable',
]

export const USAGE = `usage: pnpm bench [options]
  --messages N      messages per throughput run (default 50000)
  --reps N          measured repetitions per case, after one warm-up (default 5)
  --rtt N           round trips per RTT run (default 2000, at most 2 s per run)
  --window N        unacknowledged messages allowed in flight (default 1000)
  --links N         idle secure links for the memory figure (default 1000)
  --startup-reps N  spawns of each process for the start-up ratio (default 10)
  --tui-messages N  messages for the TUI flood (default 10000)
  --tui-floods N    TUI floods run, their typed keys pooled for the key-echo figures (default 3)
  --lines N         lines piped end to end between spawned processes (default 100000)
  --lines-reps N    measured rounds of the piped lines, after one warm-up (default 3)
  --sizes a,b,c     line counts of the lines-1m runs (default 100000,300000,1000000; the first is the block)
  --live-heap       lines-1m: force a full garbage collection in both ends every half second and report
                    what survives it (the old generation), to tell retained data from V8's heap sizing;
                    the collections slow the run, so its rates are not comparable with a run without
  --only a,b        run only these cases or sections (skips the extras); see the lists below.
                    lines-1m (100k, 300k and 1M piped lines, minutes) runs only when asked for
  --skip x,y        skip extras: startup, links, tui, piped
  --quick           tiny counts for a CI smoke run (no TUI); no assertions on speed
  --json            also print one JSON object as stdout's last line
  -h, --help`

export class UsageError extends Error {
  override name = 'UsageError'
}

export function parseOptions(argv: readonly string[]): Options | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    allowPositionals: false,
    options: {
      messages: { type: 'string' },
      reps: { type: 'string' },
      rtt: { type: 'string' },
      window: { type: 'string' },
      links: { type: 'string' },
      'startup-reps': { type: 'string' },
      'tui-messages': { type: 'string' },
      'tui-floods': { type: 'string' },
      lines: { type: 'string' },
      'lines-reps': { type: 'string' },
      sizes: { type: 'string' },
      'live-heap': { type: 'boolean' },
      only: { type: 'string' },
      skip: { type: 'string' },
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) return 'help'
  const quick = values.quick === true
  const count = (name: keyof typeof values, normal: number, tiny: number, min = 1): number => {
    const raw = values[name]
    if (raw === undefined) return quick ? tiny : normal
    const n = Number(raw)
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} needs a whole number ≥ ${min}`)
    return n
  }
  const onlyNames = list(values.only)
  for (const key of onlyNames)
    if (!CASE_KEYS.includes(key as CaseKey) && !SECTION_KEYS.includes(key))
      throw new UsageError(`--only: unknown case ${key}`)
  const only = onlyNames.filter((key) => CASE_KEYS.includes(key as CaseKey)) as CaseKey[]
  const onlySections = new Set(onlyNames.filter((key) => SECTION_KEYS.includes(key)) as SectionKey[])
  const skip = new Set(
    list(values.skip).map((name) => {
      if (!EXTRA_KEYS.includes(name)) throw new UsageError(`--skip: unknown extra ${name}`)
      return name as ExtraKey
    }),
  )
  if (quick && values['tui-messages'] === undefined) skip.add('tui')
  return {
    messages: count('messages', 50_000, 2_000),
    reps: count('reps', 5, 1),
    rtt: count('rtt', 2_000, 100),
    window: count('window', 1_000, 200),
    links: count('links', 1_000, 20),
    startupReps: count('startup-reps', 10, 2),
    tuiMessages: count('tui-messages', 10_000, 200),
    tuiFloods: count('tui-floods', 3, 1),
    lines: count('lines', 100_000, 10_000),
    linesReps: count('lines-reps', 3, 1),
    sizes: sizesOf(values.sizes),
    liveHeap: values['live-heap'] === true,
    only,
    onlySections,
    skip,
    json: values.json === true,
    quick,
  }
}

function sizesOf(value: string | boolean | undefined): number[] {
  if (typeof value !== 'string') return [...DEFAULT_SIZES]
  const sizes = list(value).map(Number)
  if (sizes.length === 0 || sizes.some((n) => !Number.isInteger(n) || n < 1))
    throw new UsageError('--sizes needs whole numbers ≥ 1, separated by commas')
  return sizes
}

function list(value: string | boolean | undefined): string[] {
  if (typeof value !== 'string') return []
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
}
