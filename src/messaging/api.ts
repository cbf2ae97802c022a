/** What other areas use from messaging (docs/contracts.md): its records' shapes. */
export type { Message, MessageStatus, Priority, SendInput, InboxOptions, DeliverResult, QueueDepth, AckOptions } from './types.js';
export { PRIORITIES } from './types.js';
