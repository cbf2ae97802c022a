export { Store, corruptNameOf, type FileCursor, type StoreOptions, type ReadResult, type RewriteStats, type WarnFn } from './store.js';
export { locateHive, HIVE_DIR_NAME } from './locate.js';
export { DEFAULT_LOCK, lockRank, compareLocks, judgeLock, type LockOptions, type LockVerdict } from './lock.js';
export { fsError, isFsErrno } from './errors.js';
export { type BadLine } from './jsonl.js';
export { TEMP_SUFFIX, tempOwnerPid } from './temp.js';
export {
  walk,
  ageOf,
  lockedFileOf,
  isPidAlive,
  tempInfo,
  clearStaleLock,
  lockStatus,
  fsNowOf,
  tailState,
  readText,
  removeWorldWritable,
  removeFile,
  LOCK_SUFFIX,
  type EntryInfo,
  type EntryKind,
  type TempInfo,
} from './inspect.js';
export * from './types.js';
export { openBackend, isPostgresUrl, redactUrl, type OpenBackendOptions } from './open.js';
