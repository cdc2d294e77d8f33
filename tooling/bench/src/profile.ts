#!/usr/bin/env node
/**
 * Summarises V8 CPU profiles (`node --cpu-prof`): the functions with the most self time, the most inclusive
 * time, and self time by package. Usage: pnpm --filter @parley/bench run profile FILE.cpuprofile... [--top N] [--match TEXT]
 * (`--match` keeps only samples whose stack contains a frame whose function or file contains TEXT).
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}

interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' }, match: { type: 'string' } },
})
const top = Number(values.top)

const self = new Map<string, number>()
const inclusive = new Map<string, number>()
const byPackage = new Map<string, number>()
let total = 0

for (const file of positionals) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id)
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0
    const stack: ProfileNode[] = []
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) stack.push(nodes.get(at)!)
    if (values.match && !stack.some((n) => frameKey(n.callFrame).includes(values.match!))) return
    const leaf = stack[0]!
    if (leaf.callFrame.functionName === '(idle)' || leaf.callFrame.functionName === '(program)') {
      add(self, frameKey(leaf.callFrame), us)
      return
    }
    total += us
    add(self, frameKey(leaf.callFrame), us)
    add(byPackage, packageOf(leaf.callFrame), us)
    for (const key of new Set(stack.map((n) => frameKey(n.callFrame)))) add(inclusive, key, us)
  })
}

function add(map: Map<string, number>, key: string, us: number): void {
  map.set(key, (map.get(key) ?? 0) + us)
}

function frameKey(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)'
  if (!frame.url) return name
  return `${name} ${shorten(frame.url)}:${frame.lineNumber + 1}`
}

function shorten(url: string): string {
  const path = url.replace(/^file:\/\//, '')
  const pnpm = /node_modules\/\.pnpm\/[^/]+\/node_modules\/(.*)$/.exec(path)
  if (pnpm) return pnpm[1]!
  const workspace = /\/(packages|apps|tooling)\/(.*)$/.exec(path)
  return workspace ? `${workspace[1]}/${workspace[2]}` : path
}

function packageOf(frame: CallFrame): string {
  const url = frame.url
  if (!url) return frame.functionName.startsWith('(') ? frame.functionName : '(native or builtin)'
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`
  const short = shorten(url)
  const scoped = /^(@[^/]+\/[^/]+|[^/]+)/.exec(short)
  if (short.startsWith('packages/') || short.startsWith('apps/') || short.startsWith('tooling/'))
    return short.split('/').slice(0, 2).join('/')
  return scoped ? scoped[1]! : short
}

function table(title: string, map: Map<string, number>, denominator: number): void {
  console.log(`\n${title}`)
  const rows = [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)
  for (const [key, us] of rows) {
    console.log(
      `${(us / 1000).toFixed(0).padStart(8)} ms ${((100 * us) / denominator).toFixed(1).padStart(5)}%  ${key}`,
    )
  }
}

console.log(`busy time ${(total / 1000).toFixed(0)} ms in ${positionals.length} profile(s)`)
table('self time (idle and program included, % of busy)', self, total)
table('inclusive time (% of busy)', inclusive, total)
table('self time by package (% of busy)', byPackage, total)
