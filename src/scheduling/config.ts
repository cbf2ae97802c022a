import { type Section } from '../config/schema.js';

// Filled in by the routing work (issue 4).
export const schedulingSection = {} satisfies Section;
