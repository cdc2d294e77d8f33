import type { IdleLinksResult } from './idle-links.js'
import type { CaseKey } from './pair.js'
import type { CaseResult } from './run-cases.js'
import type { StartupResult } from './startup.js'
import { ratio, round } from './stats.js'
import type { TuiOutcome, TuiResult } from './tui.js'

export interface Extras {
  startup?: StartupResult | { error: string }
  links?: IdleLinksResult | { error: string }
  tui?: TuiOutcome
}

export interface Header {
  title: string
  lines: string[]
}

/** Which baseline each case is compared with in the table, and the issue's target for that ratio. */
const COMPARE: Partial<Record<CaseKey, { against: CaseKey; name: string }>> = {
  rawUnwindowed: { against: 'raw', name: 'raw' },
  cryptoBaseline: { against: 'raw', name: 'raw' },
  plain: { against: 'raw', name: 'raw' },
  plainLines: { against: 'raw', name: 'raw' },
  secureUnsigned: { against: 'cryptoBaseline', name: 'crypto' },
  secure: { against: 'cryptoBaseline', name: 'crypto' },
  secureNoStore: { against: 'secure', name: 'secure' },
  secureDurable: { against: 'secure', name: 'secure' },
  dht: { against: 'secure', name: 'TCP' },
  dhtDurable: { against: 'secureDurable', name: 'TCP' },
}

interface Target {
  figure: string
  value: number | undefined
  target: string
  met: (v: number) => boolean
  detail: string
}

function byKey(results: readonly CaseResult[]) {
  return (key: CaseKey) => results.find((r) => r.key === key)
}

export function targets(results: readonly CaseResult[], extras: Extras): Target[] {
  const get = byKey(results)
  const t = (key: CaseKey) => get(key)?.throughput
  const startup = extras.startup && 'ratio' in extras.startup ? extras.startup : undefined
  const links = extras.links && 'rssPerLinkKiB' in extras.links ? extras.links : undefined
  const tui = extras.tui?.status === 'measured' ? extras.tui.result : undefined
  return [
    {
      figure: 'secure / crypto baseline, throughput',
      value: ratio(t('secure'), t('cryptoBaseline')),
      target: '≥ 1.0',
      met: (v) => v >= 1,
      detail: `unsigned / crypto: ${fmtRatio(ratio(t('secureUnsigned'), t('cryptoBaseline')))}`,
    },
    {
      figure: 'plain (framed) / raw, throughput',
      value: ratio(t('plain'), t('raw')),
      target: '≥ 0.7',
      met: (v) => v >= 0.7,
      detail:
        `--plain lines / raw: ${fmtRatio(ratio(t('plainLines'), t('raw')))}; ` +
        `plain / raw without window: ${fmtRatio(ratio(t('plain'), t('rawUnwindowed')))}`,
    },
    {
      figure: 'secureDurable / secure, throughput',
      value: ratio(t('secureDurable'), t('secure')),
      target: '≥ 0.8',
      met: (v) => v >= 0.8,
      detail:
        `issue 18 (issue 9 asked ≥ 0.5); with a journal storing nothing: ${fmtRatio(ratio(t('secureNoStore'), t('secure')))}; ` +
        `by CPU per message (secure / durable): ${fmtRatio(ratio(get('secure')?.cpuUsPerMsg, get('secureDurable')?.cpuUsPerMsg))}`,
    },
    {
      figure: 'RTT p50 secure / secret-stream',
      value: ratio(get('secure')?.rttP50Us, get('cryptoBaseline')?.rttP50Us),
      target: '≤ 1.5',
      met: (v) => v <= 1.5,
      detail: `issue 18; unsigned / secret-stream: ${fmtRatio(ratio(get('secureUnsigned')?.rttP50Us, get('cryptoBaseline')?.rttP50Us))}; secure / raw: ${fmtRatio(ratio(get('secure')?.rttP50Us, get('raw')?.rttP50Us))}`,
    },
    {
      figure: 'start-up to listening / node -e 0',
      value: startup?.listeningRatio,
      target: '≤ 1.2',
      met: (v) => v <= 1.2,
      detail: startup
        ? `issue 18; ${startup.listeningMs.toFixed(0)} ms vs ${startup.nodeMs.toFixed(0)} ms; loading the Noise stack alone: ${fmtRatio(startup.noiseStackRatio)} (${startup.noiseStackMs.toFixed(0)} ms)`
        : '',
    },
    {
      figure: 'start-up parley --version / node -e 0',
      value: startup?.ratio,
      target: '≤ 2.0',
      met: (v) => v <= 2,
      detail: startup ? `${startup.parleyMs.toFixed(0)} ms; answers before loading the stack` : '',
    },
    {
      figure: 'RSS per idle secure link (KiB)',
      value: links?.rssPerLinkKiB,
      target: '≤ 64',
      met: (v) => v <= 64,
      detail: links
        ? `${links.links} links; JS heap ${links.heapPerLinkKiB.toFixed(1)} + external ${links.externalPerLinkKiB.toFixed(1)} KiB/link`
        : '',
    },
    {
      figure: 'TUI key echo p50 while flooding (ms)',
      value: tui?.keyEchoP50Ms,
      target: '≤ 16',
      met: (v) => v <= 16,
      detail: tui ? `p90 ${tui.keyEchoP90Ms} ms${pooledText(tui)}` : '',
    },
    {
      figure: 'TUI key echo p90 while flooding (ms)',
      value: tui?.keyEchoP90Ms,
      target: '≤ 33',
      met: (v) => v <= 33,
      detail: tui?.floodP90sMs ? `each flood's own p90: ${tui.floodP90sMs.join(', ')} ms` : '',
    },
    {
      figure: 'TUI last message on screen after it arrived (ms)',
      value: tui?.lastOnScreenMs,
      target: '≤ 1000',
      met: (v) => v <= 1000,
      detail: tui
        ? `${tui.messages.toLocaleString('en-US')} messages, visible in the tmux pane${tui.floods ? `; the slowest of ${tui.floods} floods` : ''}`
        : '',
    },
  ]
}

export function renderTable(header: Header, results: readonly CaseResult[], extras: Extras): string {
  const get = byKey(results)
  const out: string[] = [header.title, ...header.lines.map((l) => `  ${l}`), '']
  const rows: string[][] = [
    ['case', 'msg/s', 'vs baseline', 'CPU/msg', 'RTT p50', 'RTT p99', 'connect', 'msg/s runs'],
  ]
  for (const r of results) {
    if (r.error) {
      rows.push([r.label, 'failed', r.error.slice(0, 60), '', '', '', '', ''])
      continue
    }
    const compare = COMPARE[r.key]
    const vs = compare ? ratio(r.throughput, get(compare.against)?.throughput) : undefined
    rows.push([
      r.label,
      fmtInt(r.throughput),
      vs === undefined || !compare ? '' : `${vs.toFixed(2)}× ${compare.name}`,
      `${fmtNum(r.cpuUsPerMsg, 1)} µs`,
      `${fmtNum(r.rttP50Us, 0)} µs`,
      `${fmtNum(r.rttP99Us, 0)} µs`,
      `${fmtNum(r.connectMs, 1)} ms`,
      r.runs.map((run) => `${Math.round(run.throughput / 1000)}k`).join(' '),
    ])
  }
  out.push(...grid(rows, [false, true, true, true, true, true, true, false]), '')

  const targetRows: string[][] = [['target (issues 9 and 18)', 'value', 'target', 'met', 'detail']]
  for (const t of targets(results, extras)) {
    const met = t.value === undefined ? '—' : t.met(t.value) ? 'yes' : 'NO'
    targetRows.push([t.figure, fmtNum(t.value, 2), t.target, met, t.detail])
  }
  out.push(...grid(targetRows, [false, true, false, false, false]), '')

  if (extras.startup && 'error' in extras.startup)
    out.push(`start-up: not measured (${extras.startup.error})`)
  if (extras.links && 'error' in extras.links) out.push(`idle links: not measured (${extras.links.error})`)
  if (extras.tui?.status === 'measured') {
    const tui = extras.tui.result
    out.push(
      `TUI flood (apps/blessed-ui/bench/flood.js, ${tui.messages} messages): ${tui.renderedPerSec.toLocaleString('en-US')} messages rendered/s; ` +
        `key echo while flooding p50 ${tui.keyEchoP50Ms} ms, p90 ${tui.keyEchoP90Ms} ms${pooledText(tui)}` +
        (tui.idleKeyEchoP50Ms === undefined ? '' : ` (idle p50 ${tui.idleKeyEchoP50Ms} ms)`) +
        (tui.firstFrameMs === undefined ? '' : `; first frame ${tui.firstFrameMs} ms after the spawn`),
    )
  } else if (extras.tui) out.push(`TUI flood: skipped (${extras.tui.reason})`)
  out.push('', ...FOOTNOTES)
  return out.join('\n')
}

const FOOTNOTES = [
  'notes',
  '  msg/s: one way, a→b, counting only acknowledged messages: `delivered` events for ParleyNode (b acked them);',
  '    for the baselines and --plain, which have no acks, a message counts once b has parsed it. At most --window',
  '    messages are unacknowledged at once; each half-window acknowledged releases the next half in one burst.',
  '    "raw, no window" writes every message at once and then reads them all: raw unheld by any window.',
  "  CPU/msg: the case's process CPU (user + system, both ends and every thread) during the flood, per message;",
  '    msg/s × CPU/msg is the cores the case kept busy: near 1 or more, it is bound by CPU, not by waiting.',
  "  plain (framed, acked): ParleyNode over createTcpTransport() without encryption: the runtime's framed protocol",
  '    with hello, schema checks and acks. `parley --plain` is the line-mode PlainNode (no frames, no acks),',
  '    shown as "--plain (lines, no acks)"; the "plain" figure of the targets is the framed one.',
  '  RTT: a sends a message, b replies with send() as soon as its `message` event fires, a waits for the reply;',
  '    percentiles over every round trip of every measured repetition.',
  '  connect: from the dials to both ends connected, both ends already listening. parley nodes dial each other',
  '    at once (one link survives); the baselines and --plain dial once. Secure: Noise XX handshake, key check, hello.',
  '  secure: ParleyNode over the secure transport with signed hash chains (createMessageAuth), as parley runs it:',
  '    sha256 chain hash per message, one ed25519 signature per burst (up to 100 messages sent in one tick).',
  '    "unsigned" is the same without MessageAuth, shown only to say what the signatures cost.',
  "  secure + durable: the launcher's startNode, as `parley --data-dir DIR --rate 0` runs it: identity, trust",
  '    store, event log and the AppendLog journal (outbox and history, group commit) in a fresh dir under os.tmpdir().',
  '    "journal storing nothing" is secure with the durable path on (ours go out once appended, acks wait for the',
  '    append) and appends that resolve on the next turn without a byte written: what is left of the gap is the store.',
  '  Every parley case runs with the per-peer rate limit off (default --rate 200 msg/s would cap a flood at that).',
  '  The raw baseline grows with the window (about 450k msg/s at --window 5000 here); parley does not, since its',
  '    outbox work grows with what is in flight. The TUI flood runs parley-tui with --rate 0 too, so rendered/s',
  '    measures the screen, not the limit; "while flooding" counts keys typed between the first and last message drawn.',
]

function grid(rows: string[][], rightAligned: boolean[]): string[] {
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

function fmtInt(value: number | undefined): string {
  return value === undefined ? '—' : Math.round(value).toLocaleString('en-US')
}

function fmtNum(value: number | undefined, digits: number): string {
  return value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(digits)
}

function fmtRatio(value: number | undefined): string {
  return value === undefined ? '—' : value.toFixed(2)
}

/** The machine-readable summary: the issue's fields first, then ratios and extras. */
export function summary(results: readonly CaseResult[], extras: Extras, config: Record<string, unknown>) {
  const pick = (
    field: 'throughput' | 'cpuUsPerMsg' | 'rttP50Us' | 'rttP99Us' | 'connectMs',
    digits: number,
  ) => Object.fromEntries(results.map((r) => [r.key, round(r[field], digits) ?? null]))
  const startup = extras.startup && 'ratio' in extras.startup ? extras.startup : undefined
  const links = extras.links && 'rssPerLinkKiB' in extras.links ? extras.links : undefined
  const get = (key: CaseKey) => results.find((r) => r.key === key)?.throughput
  const ratios = Object.fromEntries(
    targets(results, extras).map((t, i) => [RATIO_KEYS[i], round(t.value, 3) ?? null]),
  )
  return {
    throughput: pick('throughput', 0),
    cpuUsPerMsg: pick('cpuUsPerMsg', 2),
    rttP50Us: pick('rttP50Us', 1),
    rttP99Us: pick('rttP99Us', 1),
    connectMs: pick('connectMs', 2),
    startupRatio: round(startup?.ratio, 3) ?? null,
    rssPerLinkKiB: round(links?.rssPerLinkKiB, 1) ?? null,
    ...(extras.tui?.status === 'measured' ? { tui: extras.tui.result } : {}),
    ratios,
    /** The framed plain case against raw written all at once, which no window holds back. */
    plainOverRawUnwindowed: round(ratio(get('plain'), get('rawUnwindowed')), 3) ?? null,
    ...(startup
      ? {
          startupMs: {
            parley: round(startup.parleyMs, 1),
            listening: round(startup.listeningMs, 1),
            node: round(startup.nodeMs, 1),
            noiseStack: round(startup.noiseStackMs, 1),
          },
        }
      : {}),
    ...(links
      ? {
          idleLinks: {
            links: links.links,
            heapPerLinkKiB: round(links.heapPerLinkKiB, 1),
            externalPerLinkKiB: round(links.externalPerLinkKiB, 1),
          },
        }
      : {}),
    errors: Object.fromEntries(results.filter((r) => r.error).map((r) => [r.key, r.error])),
    config,
  }
}

const RATIO_KEYS = [
  'secureOverCrypto',
  'plainOverRaw',
  'durableOverSecure',
  'rttP50SecureOverSecretStream',
  'startupListening',
  'startup',
  'rssPerLinkKiB',
  'tuiKeyEchoP50Ms',
  'tuiKeyEchoP90Ms',
  'tuiLastOnScreenMs',
]

/** How many floods and keys the key echoes pool, when more than one flood ran. */
function pooledText(tui: TuiResult): string {
  return tui.floods && tui.floods > 1 ? ` (${tui.keys} keys over ${tui.floods} floods)` : ''
}
