import { packageConfig } from '@parley/vitest-config'
import { defineConfig } from 'vitest/config'

// The guard: no test of this package may fall back to the public DHT.
export default defineConfig(
  packageConfig('@parley/transport-dht', {
    env: { PARLEY_DHT_PRIVATE_ONLY: '1' },
    testTimeout: 60_000,
    hookTimeout: 60_000,
  }),
)
