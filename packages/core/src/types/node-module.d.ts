/**
 * The one module core takes from its platform, typed here since core builds without Node's type
 * definitions: `names.ts` loads the confusables table through it, on first use. Merges with Node's own
 * declarations where those are present (tests).
 */
declare module 'node:module' {
  export function createRequire(path: string): (id: string) => unknown
}

interface ImportMeta {
  url: string
}
