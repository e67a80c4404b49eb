import { describe, expect, it } from 'vitest';
import type { SessionRecord } from '../../functions/domain/sessions';
import { handler as defaultHandler } from '../../functions/handlers/default';
import { handleDisconnect } from '../../functions/handlers/disconnect';
import { handleLogout } from '../../functions/handlers/logout';
import { lambdaContext, wsEvent } from '../support/events';
import { MemoryConnectionStore } from '../support/memory-stores';

describe('$disconnect', () => {
  it('removes the connection and ends its session once; a repeated $disconnect is harmless', async () => {
    const store = new MemoryConnectionStore();
    await store.open(
      {
        connectionId: 'gone=',
        connectedAt: 1,
        sourceIp: '127.0.0.1',
        userAgent: undefined,
        deviceId: 'dev-1',
        userId: 'u',
        sealedKey: 's',
        channel: 'c',
      },
      { deviceId: 'dev-1', nonce: 'n', expiresAt: 1 },
    );
    const record = store.records.get('gone=');
    if (record) store.records.set('gone=', { ...record, sessionId: 'session-1' });
    const ended: string[] = [];
    const detached: string[] = [];
    const deps = {
      connections: store,
      endSessionOf: async (sessionId: string) => {
        ended.push(sessionId);
        return true;
      },
      detachSessionOf: async (sessionId: string) => {
        detached.push(sessionId);
      },
    };
    await handleDisconnect(wsEvent('DISCONNECT', { connectionId: 'gone=' }), deps);
    await handleDisconnect(wsEvent('DISCONNECT', { connectionId: 'gone=' }), deps);
    expect(store.removed).toEqual(['gone=', 'gone=']);
    expect(ended).toEqual(['session-1']);
    expect(detached).toEqual([]);
  });

  it('keeps the session of a device that vanished (1006), marked out of coverage, for it to resume', async () => {
    const store = new MemoryConnectionStore();
    await store.open(
      {
        connectionId: 'lost=',
        connectedAt: 1,
        sourceIp: '1',
        userAgent: undefined,
        deviceId: 'd',
        userId: 'u',
        sealedKey: 's',
        channel: 'c',
      },
      { deviceId: 'd', nonce: 'n2', expiresAt: 1 },
    );
    const record = store.records.get('lost=');
    if (record) store.records.set('lost=', { ...record, sessionId: 'session-2' });
    const calls: string[] = [];
    await handleDisconnect(wsEvent('DISCONNECT', { connectionId: 'lost=', disconnectStatusCode: 1006 }), {
      connections: store,
      endSessionOf: async (id) => {
        calls.push(`end ${id}`);
        return true;
      },
      detachSessionOf: async (id) => {
        calls.push(`detach ${id}`);
      },
    });
    expect(calls).toEqual(['detach session-2']);
  });
});

describe('$default', () => {
  const send = async (body: string | undefined) => {
    const result = await defaultHandler(
      wsEvent('MESSAGE', body === undefined ? {} : { body }),
      lambdaContext(),
    );
    return { statusCode: result.statusCode, frame: JSON.parse(result.body ?? 'null') };
  };

  it('names the unknown action in an error frame', async () => {
    const { statusCode, frame } = await send('{"action":"dance"}');
    expect(statusCode).toBe(400);
    expect(frame).toMatchObject({
      type: 'error',
      code: 'UnknownAction',
      action: 'dance',
      requestId: 'req-1',
    });
    expect(frame.message).toContain('"dance"');
  });

  it('says when the frame has no action', async () => {
    const { frame } = await send('{"hello":1}');
    expect(frame.code).toBe('UnknownAction');
    expect(frame.message).toContain('no "action"');
  });

  it('answers BadRequest for a body that is not JSON', async () => {
    const { statusCode, frame } = await send('not json {');
    expect(statusCode).toBe(400);
    expect(frame).toMatchObject({ type: 'error', code: 'BadRequest' });
  });

  it('answers BadRequest for an empty frame', async () => {
    const { frame } = await send(undefined);
    expect(frame.code).toBe('BadRequest');
  });

  it('treats a JSON array or a string as a frame without an action', async () => {
    expect((await send('[1,2]')).frame.code).toBe('UnknownAction');
    expect((await send('"dance"')).frame.code).toBe('UnknownAction');
  });
});

describe('logout', () => {
  const session: SessionRecord = {
    sessionId: 'session-1',
    userId: 'u',
    deviceId: 'd',
    connectionId: 'here=',
    state: 'active',
    createdAt: 1,
    lastStatusAt: 1,
  };
  const logout = (endSession: (session: SessionRecord) => Promise<boolean>) =>
    handleLogout(
      {
        ...wsEvent('MESSAGE', { routeKey: 'logout', connectionId: 'here=' }),
        message: { action: 'logout', sessionId: 'session-1' },
      },
      { sessions: { get: async () => session }, endSession },
    );

  it('ends the session this connection carries', async () => {
    const ended: string[] = [];
    const result = await logout(async (s) => {
      ended.push(s.sessionId);
      return true;
    });
    expect(result).toEqual({ statusCode: 200 });
    expect(ended).toEqual(['session-1']);
  });

  it('answers NotSignedIn, not silence, when another ending came first', async () => {
    // Read on this connection, then ended (or resumed elsewhere) before this logout's own ending.
    await expect(logout(async () => false)).rejects.toMatchObject({
      code: 'NotSignedIn',
      message: 'That session ended before this logout could end it.',
    });
  });
});
