// Device → CWA commands: payload validation per action, the call each makes on the IM-server port, the ticket
// rotation rule, error mapping, and the handler's checks and replies — with a fake IM server at the edge.

import { describe, expect, it } from 'vitest';
import type { ImSessionCache } from '../../functions/commons/im-session';
import { deriveDeviceKeys, generateTransportKey, openFrame, sealFrame } from '../../functions/crypto';
import type { ConnectionPoster } from '../../functions/dispatcher/connection-poster';
import { createDispatcher } from '../../functions/dispatcher/dispatcher';
import {
  executeImCommand,
  failureOf,
  type ImCommand,
  type ImCommandAction,
  type ImCommandServer,
  imCommandActions,
  isImCommandAction,
  isSipUri,
  MAX_TEXT_CHARS,
  parseImCommand,
  resultMessage,
  rotatedImSession,
} from '../../functions/domain/im-commands';
import type { SessionRecord } from '../../functions/domain/sessions';
import { DEFAULT_SETTINGS } from '../../functions/domain/settings';
import { handleImCommand, type ImCommandHandlerDeps } from '../../functions/handlers/im-command';
import {
  AuthenticationFailedError,
  CwaProtocolError,
  CwaSessionNotFoundError,
  CwaThrottledError,
  CwaTlsError,
  CwaUnreachableError,
  type ImSession,
} from '../../functions/im-server';
import { imCommandActions as routedActions } from '../../functions/routes';
import { wsEvent } from '../support/events';
import { MemoryConnectionStore } from '../support/memory-stores';

const imSession: ImSession = {
  dialect: 'cwa2007',
  method: 'iwa',
  sessionId: 'cwa-sid-1',
  ticket: 'ticket-1',
  sipUri: 'sip:alice@contoso.com',
  endpoints: {
    command: 'https://cwa.test/cwa/MainCommandHandler.ashx',
    dataChannel: 'https://cwa.test/cwa/AsyncDataChannel.ashx',
  },
  cursor: 0,
  pollWaitTimeMs: 3000,
  sessionTimeoutMs: undefined,
};

interface Call {
  readonly operation: string;
  readonly ticket: string;
  readonly input: unknown;
}

/** An IM server that records what it was asked and answers with `ticket` (or throws `failure`). */
function fakeServer(options: { ticket?: string; failure?: Error } = {}) {
  const calls: Call[] = [];
  const answer = (operation: string) => async (session: ImSession, input: unknown) => {
    calls.push({ operation, ticket: session.ticket, input });
    if (options.failure) throw options.failure;
    return { requestId: `rid-${calls.length}`, ticket: options.ticket ?? session.ticket };
  };
  const server: ImCommandServer = {
    startIm: async (session, input) => ({
      ...(await answer('startIm')(session, input)),
      conversationId: '7',
    }),
    sendMessage: answer('sendMessage'),
    acceptInvitation: answer('acceptInvitation'),
    publishPresence: answer('publishPresence'),
    sendTyping: answer('sendTyping'),
    endIm: answer('endIm'),
  };
  return { server, calls };
}

function parsed(action: ImCommandAction, payload: unknown): ImCommand {
  const result = parseImCommand(action, payload);
  if ('problem' in result) throw new Error(`expected a command, got "${result.problem}"`);
  return result.command;
}

function problemOf(action: ImCommandAction, payload: unknown): string {
  const result = parseImCommand(action, payload);
  if (!('problem' in result)) throw new Error(`expected a problem, got ${JSON.stringify(result.command)}`);
  return result.problem;
}

describe('parseImCommand', () => {
  it('knows exactly the actions the route table sends to the handler', () => {
    expect([...imCommandActions].sort()).toEqual([...routedActions].sort());
    expect(isImCommandAction('startIm')).toBe(true);
    expect(isImCommandAction('login')).toBe(false);
    expect(isImCommandAction('toString')).toBe(false);
  });

  it('refuses a payload that is not an object, for every action', () => {
    for (const action of imCommandActions) {
      for (const payload of [undefined, null, 'text', 42, ['sip:bob@contoso.com']]) {
        expect(problemOf(action, payload)).toBe(`The ${action} payload must be a JSON object.`);
      }
    }
  });

  describe('startIm', () => {
    it('takes one SIP URI or a list, and drops repeats (case-insensitive)', () => {
      expect(parsed('startIm', { to: 'sip:bob@contoso.com', text: 'hi' })).toEqual({
        action: 'startIm',
        to: ['sip:bob@contoso.com'],
        text: 'hi',
      });
      expect(
        parsed('startIm', {
          to: ['sip:bob@contoso.com', 'sip:carol@contoso.com', 'SIP:Bob@contoso.com'],
          text: 'hi all',
        }),
      ).toEqual({ action: 'startIm', to: ['sip:bob@contoso.com', 'sip:carol@contoso.com'], text: 'hi all' });
    });

    it('refuses recipients that are missing, empty, too many or not SIP URIs', () => {
      expect(problemOf('startIm', { text: 'hi' })).toMatch(/needs "to"/);
      expect(problemOf('startIm', { to: [], text: 'hi' })).toMatch(/empty/);
      expect(problemOf('startIm', { to: 'bob', text: 'hi' })).toMatch(/sip:name@domain/);
      expect(problemOf('startIm', { to: ['sip:bob@contoso.com', 7], text: 'hi' })).toMatch(/SIP URI/);
      const many = Array.from({ length: 21 }, (_, i) => `sip:user${i}@contoso.com`);
      expect(problemOf('startIm', { to: many, text: 'hi' })).toMatch(/At most 20/);
    });

    it('refuses text that is missing, blank, too long or unsendable', () => {
      const to = 'sip:bob@contoso.com';
      expect(problemOf('startIm', { to })).toMatch(/needs a "text"/);
      expect(problemOf('startIm', { to, text: '   ' })).toMatch(/empty/);
      expect(problemOf('startIm', { to, text: 'x'.repeat(MAX_TEXT_CHARS + 1) })).toMatch(/longer than 8000/);
      expect(problemOf('startIm', { to, text: 'bell \u0007' })).toMatch(/control characters/);
      expect(problemOf('startIm', { to, text: 'half \uD83D emoji' })).toMatch(/control characters/);
    });

    it('counts characters as a person does: 8000 emoji fit, tabs and newlines are fine', () => {
      expect(
        parsed('startIm', { to: 'sip:bob@contoso.com', text: '😀'.repeat(MAX_TEXT_CHARS) }),
      ).toMatchObject({
        action: 'startIm',
      });
      expect(parsed('startIm', { to: 'sip:bob@contoso.com', text: 'a\tb\r\nc' })).toMatchObject({
        text: 'a\tb\r\nc',
      });
    });
  });

  it('sendMessage needs a conversation id and text', () => {
    expect(parsed('sendMessage', { conversationId: '3', text: 'hello' })).toEqual({
      action: 'sendMessage',
      conversationId: '3',
      text: 'hello',
    });
    expect(problemOf('sendMessage', { text: 'hello' })).toMatch(/"conversationId"/);
    expect(problemOf('sendMessage', { conversationId: 3, text: 'hello' })).toMatch(/"conversationId"/);
    expect(problemOf('sendMessage', { conversationId: '3' })).toMatch(/"text"/);
  });

  it('refuses conversation ids that are too long or carry odd characters', () => {
    expect(problemOf('endIm', { conversationId: '1'.repeat(129) })).toMatch(/not one the service gave/);
    expect(problemOf('endIm', { conversationId: '<conf/>' })).toMatch(/not one the service gave/);
    expect(problemOf('endIm', { conversationId: '' })).toMatch(/needs the "conversationId"/);
  });

  it('acceptInvitation and endIm take a conversation id', () => {
    expect(parsed('acceptInvitation', { conversationId: '12' })).toEqual({
      action: 'acceptInvitation',
      conversationId: '12',
    });
    expect(parsed('endIm', { conversationId: 'c-1.2:3_4' })).toEqual({
      action: 'endIm',
      conversationId: 'c-1.2:3_4',
    });
    expect(problemOf('acceptInvitation', {})).toMatch(/"conversationId"/);
  });

  it('presence takes one of the availability names', () => {
    expect(parsed('presence', { availability: 'away' })).toEqual({
      action: 'presence',
      availability: 'away',
    });
    expect(parsed('presence', { availability: 'doNotDisturb' })).toMatchObject({
      availability: 'doNotDisturb',
    });
    expect(problemOf('presence', { availability: 'sleepy' })).toBe(
      'The "availability" must be one of: online, idle, busy, busyIdle, doNotDisturb, beRightBack, away, offline.',
    );
    expect(problemOf('presence', { availability: 3500 })).toMatch(/one of/);
  });

  it('typing takes a conversation id and a boolean', () => {
    expect(parsed('typing', { conversationId: '3', typing: false })).toEqual({
      action: 'typing',
      conversationId: '3',
      typing: false,
    });
    expect(problemOf('typing', { conversationId: '3', typing: 'yes' })).toMatch(/true or false/);
    expect(problemOf('typing', { typing: true })).toMatch(/"conversationId"/);
  });

  it('recognizes SIP URIs as sip:user@domain', () => {
    expect(isSipUri('sip:bob@contoso.com')).toBe(true);
    expect(isSipUri('sip:first.last+tag@mail.contoso-corp.co.uk')).toBe(true);
    for (const bad of [
      'bob',
      'bob@contoso.com',
      'sip:bob',
      'sip:@contoso.com',
      'sip:bob@',
      'sip:b ob@x.com',
    ]) {
      expect(isSipUri(bad)).toBe(false);
    }
    expect(isSipUri(`sip:${'a'.repeat(250)}@contoso.com`)).toBe(false);
  });
});

describe('executeImCommand', () => {
  const noSave = async () => {
    throw new Error('nothing should be stored');
  };

  it('makes the port call each command stands for, with the session as it is', async () => {
    const { server, calls } = fakeServer();
    const commands: ImCommand[] = [
      { action: 'startIm', to: ['sip:bob@contoso.com'], text: 'hi' },
      { action: 'sendMessage', conversationId: '7', text: 'hello' },
      { action: 'acceptInvitation', conversationId: '8' },
      { action: 'presence', availability: 'busy' },
      { action: 'typing', conversationId: '7', typing: true },
      { action: 'endIm', conversationId: '7' },
    ];
    for (const command of commands)
      await executeImCommand({ server, saveRotated: noSave }, imSession, command);
    expect(calls).toEqual([
      { operation: 'startIm', ticket: 'ticket-1', input: { to: ['sip:bob@contoso.com'], text: 'hi' } },
      { operation: 'sendMessage', ticket: 'ticket-1', input: { conversationId: '7', text: 'hello' } },
      { operation: 'acceptInvitation', ticket: 'ticket-1', input: { conversationId: '8' } },
      { operation: 'publishPresence', ticket: 'ticket-1', input: { availability: 'busy', manual: true } },
      { operation: 'sendTyping', ticket: 'ticket-1', input: { conversationId: '7', typing: true } },
      { operation: 'endIm', ticket: 'ticket-1', input: { conversationId: '7' } },
    ]);
  });

  it('returns the new conversation for startIm, and the command’s own for the others', async () => {
    const { server } = fakeServer();
    const deps = { server, saveRotated: noSave };
    expect(
      await executeImCommand(deps, imSession, { action: 'startIm', to: ['sip:bob@contoso.com'], text: 'hi' }),
    ).toEqual({ ok: true, requestId: 'rid-1', conversationId: '7', imSession });
    expect(
      await executeImCommand(deps, imSession, { action: 'sendMessage', conversationId: '9', text: 'x' }),
    ).toMatchObject({ ok: true, conversationId: '9' });
    expect(
      await executeImCommand(deps, imSession, { action: 'presence', availability: 'away' }),
    ).toMatchObject({
      ok: true,
      conversationId: undefined,
    });
  });

  it('stores the session only when CWA rotated the ticket', async () => {
    const saved: ImSession[] = [];
    const saveRotated = async (rotated: ImSession) => {
      saved.push(rotated);
    };
    const same = fakeServer();
    await executeImCommand({ server: same.server, saveRotated }, imSession, {
      action: 'endIm',
      conversationId: '7',
    });
    expect(saved).toEqual([]);

    const rotating = fakeServer({ ticket: 'ticket-2' });
    const outcome = await executeImCommand({ server: rotating.server, saveRotated }, imSession, {
      action: 'sendMessage',
      conversationId: '7',
      text: 'hello',
    });
    expect(saved).toEqual([{ ...imSession, ticket: 'ticket-2' }]);
    expect(outcome).toMatchObject({ ok: true, imSession: { ticket: 'ticket-2', sessionId: 'cwa-sid-1' } });
  });

  it('still reports a command done when storing the rotated ticket fails (CWA did it)', async () => {
    const warnings: string[] = [];
    const outcome = await executeImCommand(
      {
        server: fakeServer({ ticket: 'ticket-2' }).server,
        saveRotated: async () => {
          throw new Error('DynamoDB down');
        },
        warn: (message) => warnings.push(message),
      },
      imSession,
      { action: 'sendMessage', conversationId: '7', text: 'hello' },
    );
    expect(outcome).toMatchObject({ ok: true, requestId: 'rid-1' });
    expect(warnings).toHaveLength(1);
  });

  it('refuses an IM with yourself without calling CWA', async () => {
    const { server, calls } = fakeServer();
    const outcome = await executeImCommand({ server, saveRotated: noSave }, imSession, {
      action: 'startIm',
      to: ['sip:bob@contoso.com', 'SIP:Alice@contoso.com'],
      text: 'hi',
    });
    expect(outcome).toEqual({
      ok: false,
      reason: 'bad-request',
      message: 'You cannot start an IM with yourself.',
    });
    expect(calls).toEqual([]);
  });

  it('maps each IM-server failure to a reason, without CWA’s own text', async () => {
    const cases: Array<[Error, string]> = [
      [new CwaSessionNotFoundError('https://cwa.test:443', 'session-not-found'), 'session-ended'],
      [new CwaSessionNotFoundError('https://cwa.test:443', 'ticket-rejected'), 'session-ended'],
      [new CwaUnreachableError('https://cwa.test:443', 'refused'), 'cwa-unreachable'],
      [new CwaThrottledError('https://cwa.test:443'), 'cwa-throttled'],
      [
        new CwaProtocolError('https://cwa.test:443', 'unexpected HTTP status 500', { status: 500 }),
        'cwa-error',
      ],
      [new CwaProtocolError('https://cwa.test:443', '<requestFailed> 18102', { code: 18102 }), 'bad-request'],
      [new CwaTlsError('https://cwa.test:443', 'SELF_SIGNED_CERT_IN_CHAIN'), 'cwa-error'],
      [new AuthenticationFailedError([]), 'cwa-error'],
    ];
    for (const [failure, reason] of cases) {
      const outcome = await executeImCommand(
        { server: fakeServer({ failure }).server, saveRotated: noSave },
        imSession,
        {
          action: 'sendMessage',
          conversationId: '7',
          text: 'hello',
        },
      );
      expect(outcome).toMatchObject({ ok: false, reason });
      if (outcome.ok) continue;
      expect(outcome.message).not.toContain('cwa.test');
      expect(outcome.message).not.toContain('ticket');
    }
  });

  it('lets a failure that is not the IM server’s through (the handler answers InternalError)', () => {
    expect(() => failureOf(new TypeError('bug'))).toThrow(TypeError);
  });
});

describe('rotatedImSession', () => {
  it('is undefined for the same ticket and the session with the new ticket otherwise', () => {
    expect(rotatedImSession(imSession, 'ticket-1')).toBeUndefined();
    expect(rotatedImSession(imSession, 'ticket-9')).toEqual({ ...imSession, ticket: 'ticket-9' });
  });
});

describe('resultMessage', () => {
  it('says ok with CWA’s request id and the conversation', () => {
    expect(resultMessage('startIm', 4, { ok: true, requestId: 'r1', conversationId: '7' })).toEqual({
      type: 'result',
      command: 'startIm',
      ok: true,
      seq: 4,
      requestId: 'r1',
      conversationId: '7',
    });
    expect(resultMessage('presence', 5, { ok: true, requestId: 'r2', conversationId: undefined })).toEqual({
      type: 'result',
      command: 'presence',
      ok: true,
      seq: 5,
      requestId: 'r2',
    });
  });

  it('says why not, naming the conversation when there was one', () => {
    expect(
      resultMessage('sendMessage', 6, { ok: false, reason: 'cwa-throttled', message: 'busy' }, '7'),
    ).toEqual({
      type: 'result',
      command: 'sendMessage',
      ok: false,
      seq: 6,
      reason: 'cwa-throttled',
      message: 'busy',
      conversationId: '7',
    });
  });
});

describe('handleImCommand', () => {
  const transportKey = generateTransportKey();
  const keys = deriveDeviceKeys(transportKey);
  const CHANNEL = 'QUJDREVGR0hJSktMTU5PUA';

  const session: SessionRecord = {
    sessionId: 'session-1',
    userId: 'CONTOSO\\alice',
    deviceId: 'dev-1',
    connectionId: 'c1',
    state: 'active',
    createdAt: 1,
    lastStatusAt: 1,
    sealedImSession: 'sealed-1',
  };

  function setup(options: { sessionId?: string; session?: SessionRecord; server?: ImCommandServer } = {}) {
    const connections = new MemoryConnectionStore();
    connections.records.set('c1', {
      connectionId: 'c1',
      connectedAt: 0,
      sourceIp: '127.0.0.1',
      userAgent: undefined,
      deviceId: 'dev-1',
      userId: 'CONTOSO\\alice',
      sealedKey: 'sealed',
      channel: CHANNEL,
      inSeq: 0,
      outSeq: 0,
      ...(options.sessionId === undefined
        ? { sessionId: 'session-1' }
        : options.sessionId
          ? { sessionId: options.sessionId }
          : {}),
    });
    const posted: string[] = [];
    const poster: ConnectionPoster = {
      async post(_connectionId, data) {
        posted.push(data);
        return 'delivered';
      },
    };
    const dispatcher = createDispatcher({ connections, poster, keyring: { keysFor: async () => keys } });
    const stored: Array<[string, string, number]> = [];
    const sealedSessions: ImSession[] = [];
    const ended: string[] = [];
    const imSessions: ImSessionCache = {
      open: async (record) => (record.sealedImSession ? imSession : undefined),
      seal: async (_sessionId, updated) => {
        sealedSessions.push(updated);
        return `sealed-${sealedSessions.length + 1}`;
      },
    };
    const server = options.server ?? fakeServer().server;
    const deps: ImCommandHandlerDeps = {
      dispatcher,
      sessions: {
        get: async (sessionId) => (sessionId === 'session-1' ? (options.session ?? session) : undefined),
        saveConnectivityCache: async (sessionId, rotated) => {
          stored.push([sessionId, rotated.sealedImSession, rotated.ticketGeneration]);
          return 'saved';
        },
      },
      settings: async () => DEFAULT_SETTINGS,
      imServerFor: () => server,
      imSessions,
      endSession: async (_settings, record) => {
        ended.push(`${record.sessionId} after ${posted.length} post(s)`);
        return true;
      },
      now: () => 0,
    };
    let seq = 0;
    const send = (action: string, payload: unknown) => {
      seq += 1;
      const frame = sealFrame(
        keys.toServer,
        { deviceId: 'dev-1', channel: CHANNEL, direction: 'toServer', action },
        seq,
        payload,
      );
      return handleImCommand(
        { ...wsEvent('MESSAGE', { connectionId: 'c1', routeKey: action }), message: frame },
        deps,
      );
    };
    const replies = () =>
      posted.map(
        (data) =>
          openFrame(
            keys.toDevice,
            { deviceId: 'dev-1', channel: CHANNEL, direction: 'toDevice' },
            JSON.parse(data),
          ).payload,
      );
    return { send, replies, stored, sealedSessions, ended, connections };
  }

  it('runs the command and answers one encrypted result naming the frame and the conversation', async () => {
    const { send, replies } = setup();
    await send('startIm', { to: 'sip:bob@contoso.com', text: 'hi' });
    await send('sendMessage', { conversationId: '7', text: 'hello' });
    expect(replies()).toEqual([
      { type: 'result', command: 'startIm', ok: true, seq: 1, requestId: 'rid-1', conversationId: '7' },
      { type: 'result', command: 'sendMessage', ok: true, seq: 2, requestId: 'rid-2', conversationId: '7' },
    ]);
  });

  it('answers a bad payload with a bad-request result, calling nothing', async () => {
    const { server, calls } = fakeServer();
    const { send, replies } = setup({ server });
    await send('presence', { availability: 'sleepy' });
    expect(replies()).toEqual([
      expect.objectContaining({
        type: 'result',
        command: 'presence',
        ok: false,
        seq: 1,
        reason: 'bad-request',
      }),
    ]);
    expect(calls).toEqual([]);
  });

  it('refuses with NotSignedIn: no session on the connection, another connection’s, or still signing in', async () => {
    await expect(setup({ sessionId: '' }).send('endIm', { conversationId: '7' })).rejects.toMatchObject({
      code: 'NotSignedIn',
    });
    await expect(
      setup({ session: { ...session, connectionId: 'elsewhere' } }).send('endIm', { conversationId: '7' }),
    ).rejects.toMatchObject({ code: 'NotSignedIn' });
    await expect(
      setup({ sessionId: 'session-gone' }).send('endIm', { conversationId: '7' }),
    ).rejects.toMatchObject({
      code: 'NotSignedIn',
    });
    const { sealedImSession: _, ...signingIn } = session;
    await expect(
      setup({ session: { ...signingIn, state: 'signing-in' } }).send('endIm', { conversationId: '7' }),
    ).rejects.toMatchObject({ code: 'NotSignedIn' });
  });

  it('refuses an action that is not a command (a misrouted frame)', async () => {
    await expect(setup().send('ping', { text: 'x' })).rejects.toMatchObject({ code: 'UnknownAction' });
  });

  it('stores a rotated ticket, sealed, for the session', async () => {
    const { send, stored, sealedSessions } = setup({ server: fakeServer({ ticket: 'ticket-2' }).server });
    await send('typing', { conversationId: '7', typing: true });
    expect(sealedSessions).toEqual([{ ...imSession, ticket: 'ticket-2' }]);
    expect(stored).toEqual([['session-1', 'sealed-2', 1]]);
  });

  it('ends a session CWA ended — after telling the device why', async () => {
    const failure = new CwaSessionNotFoundError('https://cwa.test:443', 'session-not-found');
    const { send, replies, ended } = setup({ server: fakeServer({ failure }).server });
    await send('sendMessage', { conversationId: '7', text: 'hello' });
    expect(replies()).toEqual([
      expect.objectContaining({
        command: 'sendMessage',
        ok: false,
        reason: 'session-ended',
        conversationId: '7',
      }),
    ]);
    expect(ended).toEqual(['session-1 after 1 post(s)']);
  });

  it('replies under a sequence number taken after CWA answered (events may have gone out meanwhile)', async () => {
    const { send, connections } = setup();
    await send('endIm', { conversationId: '7' });
    // One number reserved when the frame arrived, one taken for the result: the device sees a gap, not a reorder.
    expect(connections.records.get('c1')?.outSeq).toBe(2);
  });
});
