import { int, str, type Section } from '../config/schema.js';

export const messagingSection = {
  default_priority: str('P2', 'priority of a message sent without --priority', ['P0', 'P1', 'P2', 'P3']),
  default_ttl_seconds: int(3600, 'seconds a message may wait for delivery before it expires', 1, 31_536_000),
  max_retries: int(3, 'delivery attempts after the first before a message is failed', 0, 100),
  backoff_base_ms: int(5_000, 'first retry delay; doubles each attempt, with jitter', 1, 86_400_000),
  backoff_cap_ms: int(300_000, 'longest retry delay', 1, 86_400_000),
  max_body_bytes: int(65_536, 'largest message body accepted, in bytes (UTF-8)', 1, 16_777_216),
  max_inbox_unread: int(10_000, 'unread messages at which an inbox refuses more (back-pressure)', 1, 10_000_000),
  read_retention_hours: int(168, 'read messages older than this are compacted away by cleanup', 0, 87_600),
  key_retention_hours: int(
    168,
    'idempotency keys of send --key older than this are forgotten by cleanup (a send reusing such a key sends again)',
    0,
    87_600,
  ),
} satisfies Section;
