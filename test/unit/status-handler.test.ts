// The status handler: one recordStatus with the activity bucket the settings give (a quarter of the inactivity
// timeout, at most 5 minutes), the widest bucket when the settings cannot be read (a status is not lost to
// it), and NotSignedIn when the session is not this connection's.

import { describe, expect, it } from 'vitest';
import type { ParsedMessageEvent } from '../../functions/commons/middleware/ws-json-body-parser';
import { MAX_ACTIVITY_BUCKET_MS } from '../../functions/domain/keys';
import { DEFAULT_SETTINGS } from '../../functions/domain/settings';
import { handleStatus } from '../../functions/handlers/status';
import { wsEvent } from '../support/events';

function statusEvent(sessionId: string): ParsedMessageEvent {
  const event = wsEvent('MESSAGE', { routeKey: 'status', connectionId: 'conn-1' });
  return { ...event, message: { action: 'status', sessionId } };
}

function recorder(answer = true) {
  const calls: { sessionId: string; connectionId: string; bucketMs: number }[] = [];
  return {
    calls,
    sessions: {
      recordStatus: async (sessionId: string, connectionId: string, _at: number, bucketMs: number) => {
        calls.push({ sessionId, connectionId, bucketMs });
        return answer;
      },
    },
  };
}

describe('status handler', () => {
  it('records the status with the bucket of the inactivity timeout in force', async () => {
    const { calls, sessions } = recorder();
    const settings = { get: async () => ({ ...DEFAULT_SETTINGS, inactivityTimeoutMs: 8 * 60_000 }) };
    expect(await handleStatus(statusEvent('s-1'), sessions, settings)).toEqual({ statusCode: 200 });
    expect(calls).toEqual([{ sessionId: 's-1', connectionId: 'conn-1', bucketMs: 2 * 60_000 }]);
  });

  it('records the status with the widest bucket when the settings cannot be read', async () => {
    const { calls, sessions } = recorder();
    const settings = {
      get: async () => {
        throw Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException' });
      },
    };
    expect(await handleStatus(statusEvent('s-1'), sessions, settings)).toEqual({ statusCode: 200 });
    expect(calls).toEqual([{ sessionId: 's-1', connectionId: 'conn-1', bucketMs: MAX_ACTIVITY_BUCKET_MS }]);
  });

  it('answers NotSignedIn when the session is not this connection’s', async () => {
    const { sessions } = recorder(false);
    const settings = { get: async () => DEFAULT_SETTINGS };
    await expect(handleStatus(statusEvent('s-1'), sessions, settings)).rejects.toMatchObject({
      code: 'NotSignedIn',
    });
  });
});
