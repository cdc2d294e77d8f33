// Shared by every package's vitest.config.ts: tests read each workspace package's src/
// through the "@parley/source" export condition, so no build is needed first.
import { fileURLToPath } from 'node:url'

export const sourceConditions = ['@parley/source', 'module', 'node', 'development|production']

/** @param {string} name @param {import('vitest/config').UserConfig['test']} [test] */
export function packageConfig(name, test = {}) {
  return {
    resolve: { conditions: sourceConditions },
    ssr: { resolve: { conditions: sourceConditions, externalConditions: ['@parley/source'] } },
    test: {
      name,
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      // Ceilings that only catch a hang: end-to-end tests on a loaded 2-core machine run several times
      // slower than on a quiet one, and a test must not fail for being slow.
      testTimeout: 120_000,
      hookTimeout: 120_000,
      ...test,
      globalSetup: [
        fileURLToPath(new URL('./temp-root.js', import.meta.url)),
        ...[test.globalSetup ?? []].flat(),
      ],
      // The guard of @parley/transport-dht: no test may ever reach the public DHT bootstrap nodes.
      env: { PARLEY_DHT_PRIVATE_ONLY: '1', ...test.env },
    },
  }
}
