export {
  AppendLog,
  type AppendLogOptions,
  type AppendLogStats,
  type FramePosition,
  type RewriteLayout,
} from './append-log.js'
export { crc32 } from './crc32.js'
export {
  type DataDir,
  type DataDirOptions,
  defaultDataDir,
  LOCK_FILE,
  openDataDir,
  ROOM_PROBE_BYTES,
} from './data-dir.js'
export {
  DataDirError,
  type DataDirErrorCode,
  type DiskTrouble,
  diskTrouble,
  LogError,
  type LogErrorCode,
  systemCode,
} from './errors.js'
export { type EncodeRecords, FORMAT_VERSION, type SkimFrame } from './log-format.js'
export { isLinkRefusal, linkAdvice, OpenFlags, openForAppend, replaceFile } from './private-files.js'
export { type AccountOf, LogUsage } from './usage.js'
