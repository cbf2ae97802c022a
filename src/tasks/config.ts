import { int, optStr, str, type Section } from '../config/schema.js';

export const tasksSection = {
  default_priority: str('P2', 'priority of the assignment message of a task submitted without --priority', ['P0', 'P1', 'P2', 'P3']),
  max_attempts: int(3, 'assignments a task may get; `task fail --retry` beyond this leaves it failed', 1, 100),
  stale_minutes: int(30, '`task dispatch` re-dispatches an unfinished task whose bot showed no task activity for this long', 1, 5_256_000),
  retention_hours: int(168, '`cleanup` moves done/failed tasks with no record newer than this to archive/tasks.jsonl', 1, 87_600),
} satisfies Section;

export const scalingSection = {
  scale_up_queue_depth: int(10, 'queue depth (queued + assigned-not-started tasks + unread P0/P1) at which scale advises up', 1, 1_000_000),
  tasks_per_bot: int(3, 'queue depth one healthy bot is expected to absorb; sizes the scale-up step', 1, 1_000_000),
  max_load_per_bot: int(5, 'unfinished tasks per bot at which every healthy bot counts as saturated (advise up)', 1, 1_000_000),
  max_step: int(3, 'most bots added or retired by one piece of advice', 1, 1000),
  min_bots: int(1, 'never advise retiring below this many healthy bots', 0, 10_000),
  idle_minutes: int(10, 'a bot with no unfinished task and no task activity for this long may be retired', 1, 525_600),
  scale_up_cooldown_minutes: int(5, 'after scale-up advice, no further change is advised for this long', 0, 525_600),
  scale_down_cooldown_minutes: int(10, 'after scale-down advice, no further change is advised for this long', 0, 525_600),
  bot_prefix: str('BOT-', 'prefix of the ids given to bots started by `scale --exec`'),
  spawn_command: optStr('shell command `scale --exec` runs to start a bot; {bot} and {type} are replaced (null: advice only)'),
  retire_command: optStr('shell command `scale --exec` runs to retire a bot; {bot} and {type} are replaced (null: advice only)'),
} satisfies Section;
