export {
  AppendLog,
  type AppendLogOptions,
  type AppendLogStats,
  type FramePosition,
  type RewriteLayout,
} from './append-log.js'
export { type DataDir, type DataDirOptions, defaultDataDir, LOCK_FILE, openDataDir } from './data-dir.js'
export { DataDirError, type DataDirErrorCode, LogError, type LogErrorCode } from './errors.js'
export { type EncodeRecords, FORMAT_VERSION, type SkimFrame } from './log-format.js'
export { isLinkRefusal, linkAdvice, OpenFlags, openForAppend, replaceFile } from './private-files.js'
export { type AccountOf, LogUsage } from './usage.js'
