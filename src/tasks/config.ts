import { type Section } from '../config/schema.js';

// Filled in by the task orchestration work (issue 6).
export const tasksSection = {} satisfies Section;
export const scalingSection = {} satisfies Section;
