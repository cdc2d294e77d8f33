import type { UserConfig } from 'vitest/config'
export declare const sourceConditions: string[]
export declare function packageConfig(name: string, test?: UserConfig['test']): UserConfig
