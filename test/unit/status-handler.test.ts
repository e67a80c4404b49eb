// The status handler: one recordStatus, with the widest activity bucket (it reads no settings: a status is one
// DynamoDB request, cold or warm), and NotSignedIn when the session is not this connection's.

import { describe, expect, it } from 'vitest';
import type { ParsedMessageEvent } from '../../functions/commons/middleware/ws-json-body-parser';
import { MAX_ACTIVITY_BUCKET_MS } from '../../functions/domain/keys';
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
  it('records the status with the widest activity bucket', async () => {
    const { calls, sessions } = recorder();
    expect(await handleStatus(statusEvent('s-1'), sessions)).toEqual({ statusCode: 200 });
    expect(calls).toEqual([{ sessionId: 's-1', connectionId: 'conn-1', bucketMs: MAX_ACTIVITY_BUCKET_MS }]);
  });

  it('answers NotSignedIn when the session is not this connection’s', async () => {
    const { sessions } = recorder(false);
    await expect(handleStatus(statusEvent('s-1'), sessions)).rejects.toMatchObject({ code: 'NotSignedIn' });
  });
});
