/** What other areas use from tasks (docs/contracts.md): its records' shapes and the inputs of its operations. */
export type { Task, TaskRecord, TaskStatus } from './model.js';
export { TASKS_FILE, TASK_STATUSES, foldTasks } from './model.js';
export type { DispatchResult, ListedTask, SubmitInput, FinishInput } from './ops.js';
export type { TaskRetentionResult } from './retention.js';
