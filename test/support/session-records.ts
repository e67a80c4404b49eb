// A SessionRecord for unit tests of the policies that read sessions (the reaper, reclaim): an active session
// of alice's, created an hour before `now`, last heard from at `now`, unless `fields` say otherwise.

import type { SessionRecord } from '../../functions/domain/sessions';

export function sessionRecord(id: string, now: number, fields: Partial<SessionRecord> = {}): SessionRecord {
  return {
    sessionId: id,
    userId: 'CONTOSO\\alice',
    deviceId: `device-${id}`,
    connectionId: `conn-${id}`,
    state: 'active',
    createdAt: now - 60 * 60_000,
    lastStatusAt: now,
    ...fields,
  };
}
