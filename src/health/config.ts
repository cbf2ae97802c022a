import { type Section } from '../config/schema.js';

// Filled in by the health work (issue 5).
export const healthSection = {} satisfies Section;
