#!/usr/bin/env node
// Runs the end-to-end and integration test files (every `test/` folder) round after round beside
// busy CPU loops, then prints how often each test failed. A test that only fails on a loaded machine
// fails here. The busy loops are this script's own children and are killed however it ends.
//
//   node tooling/scripts/stress.js [--rounds N] [--hogs N] [--minutes M] [--workers N] [FILTER...]
//
// FILTER narrows the files as vitest does (a path or part of one). Exit code 0 when nothing failed,
// 1 when a test failed, 2 on bad arguments.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const VITEST = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs')
// Every file in a `test/` folder: the integration and end-to-end tests (unit tests sit in `src/`).
const DEFAULT_FILTERS = ['test/']
const USAGE = 'usage: pnpm test:stress [--rounds N] [--hogs N] [--minutes M] [--workers N] [FILTER...]'

function parseArgs(argv) {
  // --workers: test files at once, as `pnpm test:e2e` runs them.
  const options = { rounds: 10, hogs: 2, minutes: 60, workers: 3, filters: [] }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const flag = /^--(rounds|hogs|minutes|workers)(?:=(.*))?$/.exec(arg)
    if (flag) {
      const raw = flag[2] ?? argv[++i]
      const value = Number(raw)
      if (raw === undefined || !Number.isInteger(value) || value < (flag[1] === 'hogs' ? 0 : 1)) {
        fail(`--${flag[1]} needs a whole number${flag[1] === 'hogs' ? '' : ' of at least 1'}, got ${raw}`)
      }
      options[flag[1]] = value
    } else if (arg === '--help' || arg === '-h') {
      console.log(USAGE)
      process.exit(0)
    } else if (arg.startsWith('-')) {
      fail(`unknown option ${arg}`)
    } else {
      options.filters.push(arg)
    }
  }
  return options
}

function fail(message) {
  console.error(`test:stress: ${message}\n${USAGE}`)
  process.exit(2)
}

const options = parseArgs(process.argv.slice(2))
const filters = options.filters.length > 0 ? options.filters : DEFAULT_FILTERS

// ---- the busy loops, always stopped -----------------------------------------------------------------

const hogs = []
function startHogs(count) {
  for (let i = 0; i < count; i++) {
    const hog = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' })
    hog.on('error', () => undefined)
    hogs.push(hog)
  }
}
function stopHogs() {
  for (const hog of hogs.splice(0)) if (hog.exitCode === null && hog.signalCode === null) hog.kill('SIGKILL')
}
let current
process.on('exit', () => {
  stopHogs()
  current?.kill('SIGKILL')
})
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    console.error(`\ntest:stress: ${signal}, stopping`)
    process.exit(130)
  })
}

// ---- one round: vitest with the JSON reporter -------------------------------------------------------

/** Runs the files once; resolves with every test's outcome, keyed `file > describe > test`. */
function runRound(outFile) {
  const args = [
    VITEST,
    'run',
    '--reporter=dot',
    '--reporter=json',
    `--outputFile.json=${outFile}`,
    `--maxWorkers=${options.workers}`,
    ...filters,
  ]
  return new Promise((resolve) => {
    current = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] })
    current.on('exit', (code) => {
      current = undefined
      resolve(code)
    })
  })
}

function outcomes(outFile) {
  let report
  try {
    report = JSON.parse(readFileSync(outFile, 'utf8'))
  } catch (error) {
    return { results: [], broken: `no report (${error.message})` }
  }
  const results = []
  for (const file of report.testResults ?? []) {
    const name = relative(ROOT, file.name)
    const tests = file.assertionResults ?? []
    for (const test of tests) {
      const full = [name, ...(test.ancestorTitles ?? []), test.title].join(' > ')
      const message = (test.failureMessages ?? []).join('\n').split('\n')[0] ?? ''
      results.push({ name: full, status: test.status, message })
    }
    // A file that failed before any test ran (an import error, a failing hook) has no test results.
    if (file.status === 'failed' && tests.every((test) => test.status !== 'failed')) {
      results.push({ name: `${name} (the file itself)`, status: 'failed', message: file.message ?? '' })
    }
  }
  return { results }
}

// ---- the rounds -------------------------------------------------------------------------------------

const started = Date.now()
const deadline = started + options.minutes * 60_000
const workDir = mkdtempSync(join(tmpdir(), 'parley-stress-'))
const failures = new Map()
let ran = 0
let testsRun = 0
let broken = 0

console.log(
  `test:stress: ${options.rounds} round(s) of ${filters.join(' ')} beside ${options.hogs} busy CPU loop(s), at most ${options.minutes} min`,
)
startHogs(options.hogs)
try {
  for (let round = 1; round <= options.rounds; round++) {
    if (Date.now() >= deadline) {
      console.log(`test:stress: the ${options.minutes} min budget is spent; stopping after ${ran} round(s)`)
      break
    }
    const roundStarted = Date.now()
    const outFile = join(workDir, `round-${round}.json`)
    const code = await runRound(outFile)
    ran++
    const { results, broken: why } = outcomes(outFile)
    if (why) {
      broken++
      failures.set('(the run itself)', [
        ...(failures.get('(the run itself)') ?? []),
        `round ${round}: ${why}`,
      ])
    }
    testsRun += results.filter((r) => r.status === 'passed' || r.status === 'failed').length
    const failed = results.filter((r) => r.status === 'failed')
    for (const f of failed)
      failures.set(f.name, [...(failures.get(f.name) ?? []), `round ${round}: ${f.message}`])
    if (code !== 0 && failed.length === 0 && !why) {
      failures.set('(vitest exit code)', [
        ...(failures.get('(vitest exit code)') ?? []),
        `round ${round}: ${code}`,
      ])
    }
    const seconds = Math.round((Date.now() - roundStarted) / 1000)
    console.log(`test:stress: round ${round}/${options.rounds}: ${failed.length} failed, ${seconds} s`)
  }
} finally {
  stopHogs()
}

// ---- the summary ------------------------------------------------------------------------------------

const minutes = ((Date.now() - started) / 60_000).toFixed(1)
const failedRuns = [...failures.values()].reduce((n, list) => n + list.length, 0)
if (failures.size > 0) {
  console.log('\ntest:stress: failures per test (rounds failed / rounds run):')
  for (const [name, list] of [...failures].sort((a, b) => b[1].length - a[1].length)) {
    console.log(`  ${list.length}/${ran}  ${name}`)
    for (const line of list.slice(0, 3)) console.log(`        ${line.slice(0, 200)}`)
  }
}
rmSync(workDir, { recursive: true, force: true })
console.log(
  `\ntest:stress: ${failures.size === 0 ? 'PASS' : 'FAIL'}: ${ran} round(s), ${testsRun} test runs, ${failedRuns} failure(s) in ${failures.size} test(s), ${options.hogs} CPU hog(s), ${minutes} min${broken ? `, ${broken} round(s) without a report` : ''}`,
)
process.exitCode = failures.size === 0 ? 0 : 1
