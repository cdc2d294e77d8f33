import { packageConfig } from '@parley/vitest-config'
import { defineConfig } from 'vitest/config'

// The shared config turns on the guard (PARLEY_DHT_PRIVATE_ONLY=1); a test below checks that it is on.
export default defineConfig(
  packageConfig('@parley/transport-dht', {
    env: { PARLEY_DHT_PRIVATE_ONLY: '1' },
    testTimeout: 60_000,
    hookTimeout: 60_000,
  }),
)
