import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

/** The `parley` executable of the workspace's @parley/cli (its bin file, which imports dist/). */
export function parleyBin(): string {
  const require = createRequire(import.meta.url)
  const manifestPath = require.resolve('@parley/cli/package.json')
  const manifest = require(manifestPath) as { bin: { parley: string } }
  return join(dirname(manifestPath), manifest.bin.parley)
}
