import { packageConfig } from '@parley/vitest-config'
import { defineConfig } from 'vitest/config'

// The NAT lab (test/lab.test.ts) is part of the default run: it builds its own network namespaces when run
// as root with iproute2 and iptables, and otherwise skips with a line saying why.
// The shared config turns on the guard (PARLEY_DHT_PRIVATE_ONLY=1); a test below checks that it is on.
export default defineConfig(
  packageConfig('@parley/transport-dht', {
    env: { PARLEY_DHT_PRIVATE_ONLY: '1' },
    testTimeout: 60_000,
    hookTimeout: 60_000,
  }),
)
