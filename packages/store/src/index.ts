export { AppendLog, type AppendLogOptions, type AppendLogStats } from './append-log.js'
export { type DataDir, type DataDirOptions, defaultDataDir, LOCK_FILE, openDataDir } from './data-dir.js'
export { DataDirError, type DataDirErrorCode, LogError, type LogErrorCode } from './errors.js'
export { FORMAT_VERSION } from './log-format.js'
