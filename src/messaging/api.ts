/**
 * What other areas use from messaging (docs/contracts.md). Operations on a HiveContext.
 */
export type {
  Message,
  MessageStatus,
  Priority,
  SendInput,
  InboxOptions,
  DeliverResult,
  QueueDepth,
  CompactResult,
  KeyCompactResult,
} from './types.js';
export { PRIORITIES } from './types.js';
export {
  sendMessages,
  inboxMessages,
  urgentUnreadCounts,
  queueDepth,
  deliverDue,
  compactMailboxes,
  compactKeys,
  markRead,
  conversation,
  messagingStatus,
} from './ops.js';
