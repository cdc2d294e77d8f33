/**
 * No module of the workspace may import itself back, even through type-only imports: a circle makes the
 * load order matter and keeps two files from being read, moved or split one at a time. This walks the
 * relative imports of every workspace package's `src/` and fails on any circle, naming one path round it.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
const WORKSPACE_DIRS = ['packages', 'apps', 'tooling'] as const
const SOURCE = /\.tsx?$/

// `import … from './x.js'`, `export … from './x.js'`, `import './x.js'` and `import('./x.js')`.
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g

/** Every `.ts` file under `dir`, skipping `node_modules` and `dist`. */
function sourceFiles(dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path))
    else if (SOURCE.test(name) && !name.endsWith('.d.ts')) out.push(path)
  }
  return out
}

/** The file a relative specifier names, as TypeScript resolves it under NodeNext (`./x.js` is `./x.ts`). */
function resolveImport(from: string, specifier: string, files: ReadonlySet<string>): string | undefined {
  const base = resolve(dirname(from), specifier)
  const stem = base.replace(/\.(js|jsx|mjs)$/, '')
  for (const candidate of [base, `${stem}.ts`, `${stem}.tsx`, join(base, 'index.ts')])
    if (files.has(candidate)) return candidate
  return undefined
}

/** Each circle as a path of files, the first repeated at the end; one path per strongly connected group. */
function findImportCycles(dirs: readonly string[]): string[][] {
  const files = new Set(dirs.flatMap(sourceFiles))
  const edges = new Map<string, string[]>()
  for (const file of files) {
    const text = readFileSync(file, 'utf8')
    const targets = new Set<string>()
    for (const match of text.matchAll(SPECIFIER)) {
      const target = resolveImport(file, match[1]!, files)
      if (target) targets.add(target)
    }
    edges.set(file, [...targets])
  }
  // Tarjan's strongly connected components: every circle lies inside one component of two or more files
  // (or one file that imports itself).
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const groups: string[][] = []
  let counter = 0
  const visit = (file: string): void => {
    index.set(file, counter)
    low.set(file, counter++)
    stack.push(file)
    onStack.add(file)
    for (const next of edges.get(file) ?? []) {
      if (!index.has(next)) {
        visit(next)
        low.set(file, Math.min(low.get(file)!, low.get(next)!))
      } else if (onStack.has(next)) low.set(file, Math.min(low.get(file)!, index.get(next)!))
    }
    if (low.get(file) !== index.get(file)) return
    const group: string[] = []
    let member: string
    do {
      member = stack.pop()!
      onStack.delete(member)
      group.push(member)
    } while (member !== file)
    if (group.length > 1 || edges.get(file)!.includes(file)) groups.push(group)
  }
  for (const file of [...files].sort()) if (!index.has(file)) visit(file)
  return groups.map((group) => pathRound(group, edges))
}

/** One circle through the group's first file, found breadth first so it is a shortest one. */
function pathRound(group: string[], edges: ReadonlyMap<string, string[]>): string[] {
  const members = new Set(group)
  const start = [...group].sort()[0]!
  const cameFrom = new Map<string, string>()
  const queue = [start]
  for (let i = 0; i < queue.length; i++) {
    const file = queue[i]!
    for (const next of edges.get(file) ?? []) {
      if (!members.has(next)) continue
      if (next === start) {
        const path = [start]
        for (let at = file; at !== start; at = cameFrom.get(at)!) path.splice(1, 0, at)
        return [...path, start]
      }
      if (cameFrom.has(next)) continue
      cameFrom.set(next, file)
      queue.push(next)
    }
  }
  return [start, start]
}

function workspaceSources(): string[] {
  const dirs: string[] = []
  for (const top of WORKSPACE_DIRS) {
    for (const name of readdirSync(join(ROOT, top))) {
      const src = join(ROOT, top, name, 'src')
      if (existsDir(src)) dirs.push(src)
    }
  }
  return dirs
}

function existsDir(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

describe('import circles', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'parley-cycles-'))
  afterAll(() => rmSync(scratch, { recursive: true, force: true }))

  it('finds a circle through a type-only import and an index file, and names its path', () => {
    const src = join(scratch, 'src')
    mkdirSync(join(src, 'inner'), { recursive: true })
    writeFileSync(join(src, 'a.ts'), "import type { B } from './b.js'\nexport type A = B\n")
    writeFileSync(join(src, 'b.ts'), "export { c as B } from './inner/index.js'\n")
    writeFileSync(join(src, 'inner', 'index.ts'), "import '../a.js'\nexport const c = 1\n")
    writeFileSync(join(src, 'leaf.ts'), "import { c } from './inner/index.js'\nexport const d = c\n")
    const cycles = findImportCycles([src])
    expect(cycles.map((cycle) => cycle.map((file) => relative(src, file)))).toEqual([
      ['a.ts', 'b.ts', join('inner', 'index.ts'), 'a.ts'],
    ])
  })

  it('finds none in a tree whose imports all point one way', () => {
    const src = join(scratch, 'acyclic')
    mkdirSync(src)
    writeFileSync(join(src, 'a.ts'), "import { b } from './b.js'\nexport const a = b\n")
    writeFileSync(join(src, 'b.ts'), "export const b = await import('./c.js')\n")
    writeFileSync(join(src, 'c.ts'), 'export const c = 1\n')
    expect(findImportCycles([src])).toEqual([])
  })

  it('finds none in the sources of any workspace package', () => {
    const dirs = workspaceSources()
    expect(dirs).toContain(join(ROOT, 'packages', 'core', 'src'))
    const cycles = findImportCycles(dirs).map((cycle) =>
      cycle.map((file) => relative(ROOT, file)).join(' -> '),
    )
    expect(cycles).toEqual([])
  })
})
