/** What other areas use from tasks (docs/contracts.md). Operations on a HiveContext. */
export type { Task, TaskRecord, TaskStatus } from './model.js';
export { TASKS_FILE, TASK_STATUSES, foldTasks } from './model.js';
export {
  inProgressCounts,
  dispatchQueued,
  submitTask,
  submitTasks,
  startTask,
  finishTask,
  listTasks,
  showTask,
  loadTasks,
  openTasks,
  type DispatchResult,
  type ListedTask,
  type SubmitInput,
  type FinishInput,
} from './ops.js';
export { archiveFinishedTasks, type TaskRetentionResult } from './retention.js';
export { TASKS_STATE, TASKS_ARCHIVE } from './state.js';
