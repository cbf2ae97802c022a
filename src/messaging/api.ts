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
  AckOptions,
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
  settleMessages,
  conversation,
  messagingStatus,
} from './ops.js';
