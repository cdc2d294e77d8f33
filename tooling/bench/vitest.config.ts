import { packageConfig } from '@parley/vitest-config'
import { defineConfig } from 'vitest/config'

export default defineConfig(packageConfig('@parley/bench'))
