import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../functions/commons/config';
import { BadRequestError } from '../../functions/commons/errors';
import { websocketHandler } from '../../functions/commons/middleware';
import { toResult } from '../../functions/commons/middleware/ws-response';
import { RouteNotServedError, wsRouter } from '../../functions/commons/middleware/ws-router';
import { DEFAULT_SLOT_SHARDS } from '../../functions/domain/keys';
import { pumpSessionsPerShard } from '../../functions/runtime-settings';
import { lambdaContext, wsEvent } from '../support/events';

describe('toResult', () => {
  it('maps nothing, strings, objects and proxy results', () => {
    expect(toResult(undefined)).toEqual({ statusCode: 200 });
    expect(toResult('hi')).toEqual({ statusCode: 200, body: 'hi' });
    expect(toResult({ a: 1 })).toEqual({ statusCode: 200, body: '{"a":1}' });
    expect(toResult({ statusCode: 403 })).toEqual({ statusCode: 403 });
  });
});

describe('websocketHandler error mapping', () => {
  it('refuses a handshake with the FrameError status on $connect, saying why in the body', async () => {
    const handler = websocketHandler(async () => {
      throw new BadRequestError('no');
    });
    const result = await handler(wsEvent('CONNECT'), lambdaContext());
    expect(result).toEqual({ statusCode: 400, body: JSON.stringify({ code: 'BadRequest', message: 'no' }) });
  });

  it('hides internal errors behind a generic frame with the request id', async () => {
    const handler = websocketHandler(async () => {
      throw new Error('secret connection string password=hunter2');
    });
    const result = await handler(wsEvent('MESSAGE', { body: '{}' }), lambdaContext());
    expect(result.statusCode).toBe(500);
    expect(result.body).not.toContain('hunter2');
    expect(JSON.parse(result.body ?? '')).toMatchObject({ code: 'InternalError', requestId: 'req-1' });
  });

  it('refuses a handshake with 500 on an internal error', async () => {
    const handler = websocketHandler(async () => {
      throw new Error('boom');
    });
    expect(await handler(wsEvent('CONNECT'), lambdaContext())).toEqual({ statusCode: 500 });
  });

  it('parses JSON bodies, including base64-encoded ones', async () => {
    const seen: unknown[] = [];
    const handler = websocketHandler(
      async (event) => {
        seen.push(event.message);
      },
      { parseJsonBody: true },
    );
    await handler(wsEvent('MESSAGE', { body: '{"action":"x"}' }), lambdaContext());
    const encoded = {
      ...wsEvent('MESSAGE', { body: Buffer.from('{"n":2}').toString('base64') }),
      isBase64Encoded: true,
    };
    await handler(encoded, lambdaContext());
    expect(seen).toEqual([{ action: 'x' }, { n: 2 }]);
  });
});

describe('wsRouter', () => {
  it('dispatches on the route key and refuses a route it does not serve', async () => {
    const route = wsRouter({ send: async () => 'sent', status: async () => 'noted' });
    expect(await route(wsEvent('MESSAGE', { routeKey: 'status' }), lambdaContext())).toBe('noted');
    await expect(route(wsEvent('MESSAGE', { routeKey: 'toString' }), lambdaContext())).rejects.toBeInstanceOf(
      RouteNotServedError,
    );
  });
});

describe('loadConfig', () => {
  it('accepts a complete environment', () => {
    const config = loadConfig({
      SERVICE_TABLE_NAME: 'table-1',
      AWS_REGION: 'eu-west-1',
      DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000',
      MASTER_KEY_FILE: '/tmp/master.key',
    });
    expect(config).toEqual({
      region: 'eu-west-1',
      serviceTableName: 'table-1',
      dynamoDbEndpoint: 'http://127.0.0.1:8000',
      connectionsEndpoint: undefined,
      sealing: { kind: 'local', masterKeyFile: '/tmp/master.key' },
      handshakeMaxSkewMs: 300_000,
      pumpShards: 2,
      pumpMinShards: 1,
      pumpSessionsPerShard: pumpSessionsPerShard,
      cwaMaxSockets: pumpSessionsPerShard + 16,
      pumpRunMs: 55_000,
      pumpPeriodMs: 60_000,
      slotShards: DEFAULT_SLOT_SHARDS,
    });
  });

  it('takes KMS on AWS, and refuses both sealers at once or a silly skew', () => {
    const base = { SERVICE_TABLE_NAME: 'table-1', AWS_REGION: 'eu-west-1' };
    expect(loadConfig({ ...base, KMS_KEY_ID: 'arn:aws:kms:k' }).sealing).toEqual({
      kind: 'kms',
      keyId: 'arn:aws:kms:k',
    });
    expect(() => loadConfig({ ...base, KMS_KEY_ID: 'k', MASTER_KEY_FILE: 'f' })).toThrow(/not both/);
    expect(() => loadConfig({ ...base, KMS_KEY_ID: 'k', HANDSHAKE_MAX_SKEW_MS: '5' })).toThrow(
      /HANDSHAKE_MAX_SKEW_MS/,
    );
    expect(loadConfig({ ...base, KMS_KEY_ID: 'k', ADMISSION_SHARDS: '64' }).slotShards).toBe(64);
    for (const shards of ['0', '65', '2.5', 'eight']) {
      expect(() => loadConfig({ ...base, KMS_KEY_ID: 'k', ADMISSION_SHARDS: shards })).toThrow(
        /ADMISSION_SHARDS must be a whole number between 1 and 64/,
      );
    }
  });

  it('lists every problem at once', () => {
    try {
      loadConfig({ CONNECTIONS_ENDPOINT: 'ftp://x' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      // table, region, endpoint protocol, and no sealer
      expect((error as ConfigError).problems).toHaveLength(4);
    }
  });
});
