import { describe, expect, it } from 'vitest';
import type { Connection, ConnectionStore } from '../../functions/domain/connections';
import { handleConnect } from '../../functions/handlers/connect';
import { handler as defaultHandler } from '../../functions/handlers/default';
import { handleDisconnect } from '../../functions/handlers/disconnect';
import { lambdaContext, wsEvent } from '../support/events';

class RecordingStore implements ConnectionStore {
  readonly recorded: Connection[] = [];
  readonly removed: string[] = [];
  async record(connection: Connection) {
    this.recorded.push(connection);
  }
  async remove(connectionId: string) {
    this.removed.push(connectionId);
  }
}

describe('$connect', () => {
  it('records id, source IP, user agent and connected-at from the event', async () => {
    const store = new RecordingStore();
    const event = wsEvent('CONNECT', { connectionId: 'a+b/c=' });
    const result = await handleConnect(event, store);
    expect(result).toEqual({ statusCode: 200 });
    expect(store.recorded).toEqual([
      {
        connectionId: 'a+b/c=',
        sourceIp: '127.0.0.1',
        userAgent: 'unit-test',
        connectedAt: event.requestContext.connectedAt,
      },
    ]);
  });
});

describe('$disconnect', () => {
  it('removes the connection it was told about', async () => {
    const store = new RecordingStore();
    await handleDisconnect(wsEvent('DISCONNECT', { connectionId: 'gone=' }), store);
    expect(store.removed).toEqual(['gone=']);
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
