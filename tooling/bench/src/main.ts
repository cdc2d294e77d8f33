#!/usr/bin/env node
/**
 * parley's benchmark: baselines and parley side by side in one run, with ratios to the targets.
 * Run after `pnpm build`: `pnpm bench` (or `pnpm bench --quick` for the CI smoke run, `--json` for a
 * machine-readable last line).
 */
import { cpus } from 'node:os'
import { CASES } from './cases/index.js'
import { measureIdleLinks } from './idle-links.js'
import { type GrowthResult, growthSummary, measureGrowth, renderGrowth } from './lines-1m.js'
import { CASE_KEYS, type Options, parseOptions, SECTION_KEYS, USAGE, UsageError } from './options.js'
import { measurePiped, type PipedResult, pipedSummary, renderPiped } from './piped.js'
import { type Extras, renderTable, summary } from './report.js'
import { type CaseResult, runCases } from './run-cases.js'
import { BODY, MESSAGE_BYTES } from './shape.js'
import { measureStartup } from './startup.js'
import { measureTui } from './tui.js'

/** The lines-1m section stops after this long and reports what it has. */
const GROWTH_CEILING_MS = 25 * 60_000

/**
 * How long the idle-link measure may take before it is stopped: it grows with the square of the links,
 * since every dialer is a room member that checks the presence of every other one the holder relays (a
 * million signature checks in the dialers' one process for 1,000 links: 146 s on the 2-core machine at a
 * load of 5, where the old fixed 120 s stopped it unmeasured). 620 s for the default 1,000.
 */
function idleLinksGuardMs(links: number): number {
  return 120_000 + links * links * 0.5
}

function progress(line: string): void {
  process.stderr.write(`${line}\n`)
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

async function main(options: Options): Promise<void> {
  const began = performance.now()
  const extrasWanted = options.only.length === 0 && options.onlySections.size === 0
  const cases = extrasWanted ? CASES : CASES.filter((c) => options.only.includes(c.key))
  let results: CaseResult[] = []
  if (cases.length > 0) {
    progress(
      `bench: ${cases.length} cases × (1 warm-up + ${options.reps}) rounds, ${options.messages} messages, window ${options.window}`,
    )
    results = await runCases(cases, options, progress)
  }

  const extras: Extras = {}
  if (extrasWanted && !options.skip.has('startup')) {
    progress(`bench: start-up, ${options.startupReps} spawns each`)
    extras.startup = await measureStartup(options.startupReps).catch((e: unknown) => ({
      error: errorText(e),
    }))
  }
  if (extrasWanted && !options.skip.has('links')) {
    progress(`bench: ${options.links} idle secure links`)
    extras.links = await measureIdleLinks(options.links, idleLinksGuardMs(options.links)).catch(
      (e: unknown) => ({
        error: errorText(e),
      }),
    )
  }
  if (extrasWanted && !options.skip.has('tui')) {
    progress(`bench: TUI flood, ${options.tuiMessages} messages, ${options.tuiFloods} time(s)`)
    extras.tui = await measureTui(options.tuiMessages, 180_000, options.tuiFloods)
  }

  let piped: PipedResult | undefined
  if ((extrasWanted && !options.skip.has('piped')) || options.onlySections.has('piped')) {
    progress(`bench: piped lines, ${options.lines} lines × ${options.linesReps} rounds`)
    piped = await measurePiped(
      { lines: options.lines, reps: options.linesReps, warmUp: !options.quick },
      progress,
    )
  }

  let growth: GrowthResult | undefined
  if (options.onlySections.has('lines-1m')) {
    progress(
      `bench: lines-1m, ${options.sizes.join(', ')} lines (at most ${GROWTH_CEILING_MS / 60_000} minutes)`,
    )
    growth = await measureGrowth(
      { sizes: options.sizes, ceilingMs: GROWTH_CEILING_MS, liveHeap: options.liveHeap },
      progress,
    )
  }

  const seconds = (performance.now() - began) / 1000
  const cpu = cpus()
  const header = {
    title: `parley bench: medians of ${options.reps} rounds after 1 warm-up round${options.quick ? ' (--quick: smoke run, figures are noise)' : ''}`,
    lines: [
      `Node ${process.version}, ${process.platform} ${process.arch}, ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}; loopback 127.0.0.1, port 0`,
      `${options.messages.toLocaleString('en-US')} messages per run, window ${options.window}, up to ${options.rtt} round trips per run; took ${seconds.toFixed(0)} s`,
      `message: a parley msg of a secure node as JSON, ${MESSAGE_BYTES} bytes (64-hex-digit sender id, ${BODY.length}-character body)`,
    ],
  }
  if (cases.length > 0) process.stdout.write(`${renderTable(header, results, extras)}\n`)
  else process.stdout.write(`parley bench\n  ${header.lines[0]}; took ${seconds.toFixed(0)} s\n`)
  if (piped) process.stdout.write(`\n${renderPiped(piped).join('\n')}\n`)
  if (growth) process.stdout.write(`\n${renderGrowth(growth).join('\n')}\n`)
  if (options.json) {
    const config = {
      messages: options.messages,
      reps: options.reps,
      rtt: options.rtt,
      window: options.window,
      links: options.links,
      lines: options.lines,
      linesReps: options.linesReps,
      quick: options.quick,
      node: process.version,
      cpus: cpu.length,
      cases: cases.map((c) => c.key),
    }
    const json = {
      ...summary(results, extras, config),
      ...(piped ? { piped: pipedSummary(piped) } : {}),
      ...(growth ? { lines1m: growthSummary(growth) } : {}),
    }
    process.stdout.write(`${JSON.stringify(json)}\n`)
  }
  // A bench that cannot measure something has rotted: fail, so the CI smoke run says so. A skipped TUI is fine.
  const failed: string[] = results.filter((r) => r.error).map((r) => r.key)
  if (extras.startup && 'error' in extras.startup) failed.push('startup')
  if (extras.links && 'error' in extras.links) failed.push('links')
  for (const row of piped?.rows ?? []) if (row.error) failed.push(`piped ${row.key}`)
  if (growth?.error || (growth?.startup && 'error' in growth.startup)) failed.push('lines-1m')
  if (failed.length > 0) {
    progress(`bench: failed: ${failed.join(', ')}`)
    process.exitCode = 1
  }
}

let options: Options | 'help'
try {
  options = parseOptions(process.argv.slice(2))
} catch (error) {
  progress(`bench: ${errorText(error)}\n${USAGE}`)
  process.exit(error instanceof UsageError || error instanceof TypeError ? 2 : 1)
}
if (options === 'help') {
  process.stdout.write(`${USAGE}\n  cases: ${CASE_KEYS.join(', ')}\n  sections: ${SECTION_KEYS.join(', ')}\n`)
  process.exit(0)
}
main(options).then(
  // Closed nodes may hold a socket's 2-second destroy timer; the figures are out, so leave now.
  () => process.exit(process.exitCode ?? 0),
  (error: unknown) => {
    progress(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    process.exit(1)
  },
)
