/**
 * Copying a hive between backends (`deia migrate`): what the storage interface offers for it
 * beyond its own calls, in its terms only.
 */
import { StoreError, type Log } from './types.js';

const BATCH = 1000;

/**
 * Into an empty log: `records` appended, then moved to its archive, as they were in the hive
 * copied (they are the first records of the log, so `archiveWhere` picks them by count). Records
 * appended afterwards are the live ones.
 */
export async function appendArchived<T extends object>(log: Log<T>, records: readonly T[]): Promise<void> {
  if (records.length === 0) return;
  for (let i = 0; i < records.length; i += BATCH) await log.append(records.slice(i, i + BATCH));
  let seen = 0;
  const { archived } = await log.archiveWhere(() => seen++ < records.length);
  if (archived !== records.length) {
    throw new StoreError(`${log.name}: ${archived} of ${records.length} archived records moved to its archive`, 'the log was not empty: copy into a new database');
  }
}
