// The device CLI's chat: parsing what a person types, what each command sends, how each IM event and command
// result is shown (who said what), the current conversation, dropping events the pump delivered twice, and the
// hidden password prompt.

import { createInterface } from 'node:readline';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ChatSession, isChatCommand } from '../../device/chat';
import type { Incoming } from '../../device/client';
import { EventDeduper, eventMessageOf } from '../../device/events';
import {
  askHidden,
  availabilityOf,
  describeIncoming,
  describeLifecycle,
  parseInteractive,
} from '../../device/interactive';
import type { ImEvent } from '../../functions/im-server/events';

let seq = 0;
const message = (body: Record<string, unknown> & { type: string }): Incoming => {
  seq += 1;
  return { kind: 'message', seq, message: body };
};
const accepted = (sessionId = 'session-1', sipUri = 'sip:alice@contoso.com') =>
  message({ type: 'status', status: 'Accepted', sessionId, sipUri, user: 'CONTOSO\\alice' });
let eventIds = 100;
const event = (body: ImEvent | Omit<ImEvent, 'eventId'>, eventId = ++eventIds, part = 0) =>
  message({ type: 'event', eventId, part, event: { eventId, ...body } as ImEvent });

function chat() {
  const sent: Array<{ action: string; payload: unknown; seq: number }> = [];
  let next = 0;
  const session = new ChatSession({
    send: (action, payload) => {
      next += 1;
      sent.push({ action, payload, seq: next });
      return next;
    },
    now: () => new Date(2026, 0, 5, 12, 1, 30),
  });
  const lastSeq = () => sent.at(-1)?.seq ?? 0;
  const result = (command: string, fields: Record<string, unknown> = {}) =>
    session.observe(
      message({
        type: 'result',
        command,
        ok: true,
        seq: lastSeq(),
        requestId: `rid-${lastSeq()}`,
        ...fields,
      }),
    );
  return { session, sent, result };
}

function signedIn() {
  const fixture = chat();
  expect(fixture.session.observe(accepted())).toBeUndefined();
  return fixture;
}

/** Alice has started conversation 7 with bob. */
function inConversation() {
  const fixture = signedIn();
  fixture.session.run({ kind: 'im', to: ['bob'], text: 'Hi Bob' });
  fixture.result('startIm', { conversationId: '7' });
  return fixture;
}

describe('parseInteractive: chat commands', () => {
  it('parses /im with one or several recipients and the text', () => {
    expect(parseInteractive('/im bob Hi there, Bob')).toEqual({
      kind: 'im',
      to: ['bob'],
      text: 'Hi there, Bob',
    });
    expect(parseInteractive('/im sip:bob@contoso.com,carol   lunch?')).toEqual({
      kind: 'im',
      to: ['sip:bob@contoso.com', 'carol'],
      text: 'lunch?',
    });
    expect(parseInteractive('/im bob')).toMatchObject({
      kind: 'error',
      message: expect.stringMatching(/Usage: \/im/),
    });
    expect(parseInteractive('/im')).toMatchObject({ kind: 'error' });
  });

  it('sends a plain line (and /msg) to the current conversation; "//" escapes a leading slash', () => {
    expect(parseInteractive('  hello there  ')).toEqual({ kind: 'msg', text: 'hello there' });
    expect(parseInteractive('/msg see /help')).toEqual({ kind: 'msg', text: 'see /help' });
    expect(parseInteractive('//shrug')).toEqual({ kind: 'msg', text: '/shrug' });
    expect(parseInteractive('/msg')).toMatchObject({ kind: 'error' });
    expect(parseInteractive('   ')).toEqual({ kind: 'none' });
  });

  it('parses /to, /accept, /end (with and without a conversation) and /chats', () => {
    expect(parseInteractive('/to 7')).toEqual({ kind: 'to', target: '7' });
    expect(parseInteractive('/to')).toMatchObject({ kind: 'error' });
    expect(parseInteractive('/accept')).toEqual({ kind: 'accept', conversationId: undefined });
    expect(parseInteractive('/accept 12')).toEqual({ kind: 'accept', conversationId: '12' });
    expect(parseInteractive('/end')).toEqual({ kind: 'end', conversationId: undefined });
    expect(parseInteractive('/end 7')).toEqual({ kind: 'end', conversationId: '7' });
    expect(parseInteractive('/chats')).toEqual({ kind: 'chats' });
  });

  it('parses /presence with names, any case and the usual aliases', () => {
    expect(parseInteractive('/presence away')).toEqual({ kind: 'presence', availability: 'away' });
    expect(parseInteractive('/presence Do-Not-Disturb')).toEqual({
      kind: 'presence',
      availability: 'doNotDisturb',
    });
    expect(availabilityOf('dnd')).toBe('doNotDisturb');
    expect(availabilityOf('brb')).toBe('beRightBack');
    expect(availabilityOf('available')).toBe('online');
    expect(availabilityOf('BUSY')).toBe('busy');
    expect(availabilityOf('sleepy')).toBeUndefined();
    expect(parseInteractive('/presence sleepy')).toMatchObject({
      kind: 'error',
      message: expect.stringMatching(/online\|idle/),
    });
  });

  it('parses /typing [on|off]', () => {
    expect(parseInteractive('/typing')).toEqual({ kind: 'typing', typing: true });
    expect(parseInteractive('/typing off')).toEqual({ kind: 'typing', typing: false });
    expect(parseInteractive('/typing maybe')).toMatchObject({ kind: 'error' });
  });

  it('keeps the other commands as they were, and tells chat commands apart', () => {
    expect(parseInteractive('/login secret')).toEqual({ kind: 'login', password: 'secret' });
    expect(parseInteractive('/ping hi')).toEqual({ kind: 'send', action: 'ping', payload: { text: 'hi' } });
    expect(parseInteractive('/dance')).toMatchObject({
      kind: 'error',
      message: expect.stringMatching(/Unknown command/),
    });
    expect(isChatCommand(parseInteractive('hello'))).toBe(true);
    expect(isChatCommand(parseInteractive('/login'))).toBe(false);
  });
});

describe('ChatSession: commands', () => {
  it('asks to sign in first', () => {
    const { session, sent } = chat();
    expect(session.run({ kind: 'msg', text: 'hi' })).toEqual(['Not signed in: /login first.']);
    expect(sent).toEqual([]);
  });

  it('/im resolves a bare name in your own domain, name@domain and SIP URIs', () => {
    const { session, sent } = signedIn();
    session.run({ kind: 'im', to: ['bob'], text: 'Hi' });
    session.run({ kind: 'im', to: ['dave@fabrikam.com', 'sip:carol@contoso.com'], text: 'All' });
    expect(sent.map(({ action, payload }) => ({ action, payload }))).toEqual([
      { action: 'startIm', payload: { to: 'sip:bob@contoso.com', text: 'Hi' } },
      { action: 'startIm', payload: { to: ['sip:dave@fabrikam.com', 'sip:carol@contoso.com'], text: 'All' } },
    ]);
    expect(session.run({ kind: 'im', to: ['b:o:b'], text: 'x' })).toEqual([
      '"b:o:b" is not a name or a SIP URI (sip:name@domain).',
    ]);
  });

  it('/im still resolves a bare name after the session is resumed (that Accepted has no SIP URI)', () => {
    const { session, sent } = signedIn();
    session.observe(message({ type: 'status', status: 'Accepted', resumed: true, sessionId: 'session-1' }));
    session.run({ kind: 'im', to: ['bob'], text: 'Back' });
    expect(sent.map(({ payload }) => payload)).toEqual([{ to: 'sip:bob@contoso.com', text: 'Back' }]);
  });

  it('a started conversation becomes current; a plain line and /typing go to it', () => {
    const { session, sent, result } = signedIn();
    expect(session.run({ kind: 'msg', text: 'hello?' })).toEqual([
      'No current conversation: start one with /im <name> <text>, or /accept an invitation.',
    ]);
    session.run({ kind: 'im', to: ['bob'], text: 'Hi Bob' });
    expect(result('startIm', { conversationId: '7' })).toEqual([
      '● inviting bob (conversation 7, now current)',
    ]);
    expect(session.current).toBe('7');
    expect(session.currentPeers).toBe('bob');
    session.run({ kind: 'msg', text: 'Are you there?' });
    session.run({ kind: 'typing', typing: true });
    expect(sent.slice(1).map(({ action, payload }) => ({ action, payload }))).toEqual([
      { action: 'sendMessage', payload: { conversationId: '7', text: 'Are you there?' } },
      { action: 'typing', payload: { conversationId: '7', typing: true } },
    ]);
    expect(result('typing', { conversationId: '7' })).toEqual([]);
  });

  it('/accept joins the last invitation by default and makes it current', () => {
    const { session, sent, result } = signedIn();
    expect(session.run({ kind: 'accept', conversationId: undefined })).toEqual(['No invitation to accept.']);
    session.observe(
      event({
        type: 'invitation',
        conversationId: '3',
        from: 'sip:bob@contoso.com',
        fromName: 'Bob',
        text: 'hi',
        format: undefined,
      }),
    );
    session.run({ kind: 'accept', conversationId: undefined });
    expect(sent.at(-1)).toMatchObject({ action: 'acceptInvitation', payload: { conversationId: '3' } });
    expect(result('acceptInvitation', { conversationId: '3' })).toEqual([
      '● joined the conversation with Bob (now current)',
    ]);
    expect(session.current).toBe('3');
    session.run({ kind: 'accept', conversationId: '9' });
    expect(sent.at(-1)).toMatchObject({ action: 'acceptInvitation', payload: { conversationId: '9' } });
  });

  it('/presence, /end and their confirmations', () => {
    const { session, sent, result } = inConversation();
    session.run({ kind: 'presence', availability: 'away' });
    expect(sent.at(-1)).toMatchObject({ action: 'presence', payload: { availability: 'away' } });
    expect(result('presence')).toEqual(['✓ presence set to away']);
    session.run({ kind: 'end', conversationId: undefined });
    expect(sent.at(-1)).toMatchObject({ action: 'endIm', payload: { conversationId: '7' } });
    expect(result('endIm', { conversationId: '7' })).toEqual(['● you left the conversation with bob']);
    expect(session.current).toBeUndefined();
    // CWA's own "terminated" for it says nothing new.
    expect(
      session.observe(event({ type: 'conversationState', conversationId: '7', state: 'terminated' })),
    ).toEqual([]);
    expect(session.run({ kind: 'end', conversationId: undefined })).toEqual(['No conversation to end.']);
  });

  it('/to switches by conversation id or by name; /chats lists them', () => {
    const { session, result } = inConversation();
    session.observe(
      event({
        type: 'invitation',
        conversationId: '8',
        from: 'sip:carol@contoso.com',
        fromName: undefined,
        text: undefined,
        format: undefined,
      }),
    );
    session.run({ kind: 'accept', conversationId: '8' });
    result('acceptInvitation', { conversationId: '8' });
    expect(session.current).toBe('8');
    expect(session.run({ kind: 'to', target: 'bob' })).toEqual(['● now writing to bob (conversation 7)']);
    expect(session.current).toBe('7');
    expect(session.run({ kind: 'to', target: '8' })).toEqual(['● now writing to carol (conversation 8)']);
    expect(session.run({ kind: 'to', target: 'dave' })).toEqual([
      'No conversation "dave": /chats lists them.',
    ]);
    expect(session.run({ kind: 'chats' })).toEqual([
      '  7      bob                  inviting',
      '  8      carol                connected  (current)',
    ]);
  });

  it('shows a failed command with its reason and the service’s message', () => {
    const { session } = inConversation();
    session.run({ kind: 'msg', text: 'hello' });
    expect(
      session.observe(
        message({
          type: 'result',
          command: 'sendMessage',
          ok: false,
          seq: 2,
          reason: 'cwa-unreachable',
          message: 'The IM server could not be reached; try again.',
        }),
      ),
    ).toEqual(['✗ sending failed (cwa-unreachable): The IM server could not be reached; try again.']);
  });

  it('shows a result it did not ask for plainly (another tool on this device)', () => {
    const { session } = signedIn();
    expect(
      session.observe(
        message({ type: 'result', command: 'startIm', ok: true, seq: 99, conversationId: '4' }),
      ),
    ).toEqual(['✓ startIm (conversation 4)']);
  });

  it('forgets conversations when logged out', () => {
    const { session } = inConversation();
    expect(
      session.observe(message({ type: 'status', status: 'Logged Out', reason: 'device' })),
    ).toBeUndefined();
    expect(session.current).toBeUndefined();
    expect(session.run({ kind: 'chats' })).toEqual(['Not signed in: /login first.']);
  });
});

describe('ChatSession: what arrives', () => {
  it('invitation: who invites, the first message, and how to join', () => {
    const { session } = signedIn();
    expect(
      session.observe(
        event({
          type: 'invitation',
          conversationId: '3',
          from: 'sip:bob@contoso.com',
          fromName: 'Bob',
          text: 'lunch?',
          format: 'text/plain',
        }),
      ),
    ).toEqual(['[12:01] ● Bob invites you: «lunch?» — /accept to join']);
    expect(
      session.observe(
        event({
          type: 'invitation',
          conversationId: '4',
          from: 'sip:carol@contoso.com',
          fromName: undefined,
          text: undefined,
          format: undefined,
        }),
      ),
    ).toEqual(['[12:01] ● carol invites you — /accept to join']);
  });

  it('message: time, who, text — and the conversation becomes current', () => {
    const { session } = inConversation();
    expect(
      session.observe(
        event({
          type: 'message',
          conversationId: '9',
          from: 'sip:carol@contoso.com',
          text: 'psst',
          format: undefined,
        }),
      ),
    ).toEqual(['[12:01] carol: psst']);
    expect(session.current).toBe('9');
    expect(
      session.observe(
        event({
          type: 'message',
          conversationId: '7',
          from: 'sip:bob@contoso.com',
          text: 'line 1\nline 2',
          format: undefined,
        }),
      ),
    ).toEqual(['[12:01] bob: line 1\n             line 2']);
    expect(session.current).toBe('7');
  });

  it('typing: who is typing; a stop says nothing', () => {
    const { session } = inConversation();
    expect(
      session.observe(
        event({ type: 'typing', conversationId: '7', from: 'sip:bob@contoso.com', typing: true }),
      ),
    ).toEqual(['bob is typing…']);
    expect(
      session.observe(event({ type: 'typing', conversationId: '7', from: undefined, typing: true })),
    ).toEqual(['bob is typing…']);
    expect(
      session.observe(
        event({ type: 'typing', conversationId: '7', from: 'sip:bob@contoso.com', typing: false }),
      ),
    ).toEqual([]);
  });

  it('presence: a contact’s and your own', () => {
    const { session } = signedIn();
    expect(
      session.observe(
        event({
          type: 'presence',
          user: 'sip:bob@contoso.com',
          availability: 'away',
          availabilityCode: 15500,
        }),
      ),
    ).toEqual(['bob is now away']);
    expect(
      session.observe(
        event({
          type: 'presence',
          user: 'sip:bob@contoso.com',
          availability: 'doNotDisturb',
          availabilityCode: 9500,
        }),
      ),
    ).toEqual(['bob is now on do not disturb']);
    expect(
      session.observe(
        event({
          type: 'presence',
          user: 'sip:bob@contoso.com',
          availability: undefined,
          availabilityCode: 99,
        }),
      ),
    ).toEqual(["bob's presence changed (99)"]);
    expect(
      session.observe(event({ type: 'selfPresence', availability: 'busy', availabilityCode: 6500 })),
    ).toEqual(['● your presence is now busy']);
  });

  it('conversation state: the invitee joining, and the end (the current conversation is cleared)', () => {
    const { session } = inConversation();
    expect(
      session.observe(event({ type: 'conversationState', conversationId: '7', state: 'connecting' })),
    ).toEqual([]);
    expect(
      session.observe(event({ type: 'conversationState', conversationId: '7', state: 'connected' })),
    ).toEqual(['● bob joined the conversation']);
    expect(
      session.observe(event({ type: 'conversationState', conversationId: '7', state: 'connected' })),
    ).toEqual([]);
    expect(
      session.observe(event({ type: 'conversationState', conversationId: '7', state: 'terminated' })),
    ).toEqual(['● conversation with bob ended']);
    expect(session.current).toBeUndefined();
  });

  it('failures: an invitation nobody can take, a message not delivered', () => {
    const { session, result } = signedIn();
    session.run({ kind: 'im', to: ['carol'], text: 'hi' });
    result('startIm', { conversationId: '5' });
    expect(
      session.observe(
        event({
          type: 'commandFailed',
          requestId: 'rid-1',
          error: {
            code: 18201,
            subCode: undefined,
            reason: 'Temporarily Unavailable',
            detail: undefined,
            sipCode: 480,
          },
        }),
      ),
    ).toEqual(['✗ the invitation to carol failed: not signed in or not available (SIP 480)']);
    expect(
      session.observe(
        event({
          type: 'commandFailed',
          requestId: 'unknown',
          error: {
            code: 18102,
            subCode: undefined,
            reason: 'Invalid Operation',
            detail: undefined,
            sipCode: undefined,
          },
        }),
      ),
    ).toEqual(['✗ a command failed: Invalid Operation']);
    expect(session.observe(event({ type: 'messageFailed', conversationId: '5' }))).toEqual([
      '✗ a message to carol could not be delivered',
    ]);
  });

  it('says nothing for bookkeeping events', () => {
    const { session } = signedIn();
    expect(session.observe(event({ type: 'commandSucceeded', requestId: 'r' }))).toEqual([]);
    expect(
      session.observe(event({ type: 'conversationStarted', conversationId: '1', requestId: 'r' })),
    ).toEqual([]);
    expect(session.observe(event({ type: 'other', element: 'contactGroups' }))).toEqual([]);
  });

  it('leaves statuses, pongs and error frames to the generic display', () => {
    const { session } = signedIn();
    expect(session.observe(message({ type: 'pong', serverTime: 1 }))).toBeUndefined();
    expect(
      session.observe({ kind: 'error', frame: { type: 'error', code: 'NotSignedIn', message: 'x' } }),
    ).toBeUndefined();
  });

  it('drops an event delivered twice, and anything older than the newest seen', () => {
    const { session } = inConversation();
    const hello = () =>
      event(
        {
          type: 'message',
          conversationId: '7',
          from: 'sip:bob@contoso.com',
          text: 'hello',
          format: undefined,
        },
        500,
      );
    expect(session.observe(hello())).toEqual(['[12:01] bob: hello']);
    // The pump's retry: the same event again, in a new frame.
    expect(session.observe(hello())).toEqual([]);
    expect(
      session.observe(
        event(
          {
            type: 'message',
            conversationId: '7',
            from: 'sip:bob@contoso.com',
            text: 'old',
            format: undefined,
          },
          499,
        ),
      ),
    ).toEqual([]);
  });
});

describe('EventDeduper', () => {
  it('accepts increasing (eventId, part) and refuses a repeat or an older one', () => {
    const events = new EventDeduper();
    expect(events.accept('s1', 5)).toBe(true);
    expect(events.accept('s1', 5)).toBe(false);
    expect(events.accept('s1', 5, 1)).toBe(true);
    expect(events.accept('s1', 5, 1)).toBe(false);
    expect(events.accept('s1', 5, 0)).toBe(false);
    expect(events.accept('s1', 4, 3)).toBe(false);
    expect(events.accept('s1', 6)).toBe(true);
    expect(events.last('s1')).toEqual({ eventId: 6, part: 0 });
  });

  it('keeps sessions apart, and forgets one on request', () => {
    const events = new EventDeduper();
    expect(events.accept('s1', 10)).toBe(true);
    expect(events.accept('s2', 3)).toBe(true);
    expect(events.accept('s1', 3)).toBe(false);
    events.forget('s1');
    expect(events.accept('s1', 3)).toBe(true);
  });

  it('follows the session from Accepted in a stream, and lets everything but repeated events through', () => {
    const events = new EventDeduper();
    const first = event({ type: 'commandSucceeded', requestId: 'r' }, 7);
    expect(events.observe(accepted('s1'))).toBe(true);
    expect(events.observe(first)).toBe(true);
    expect(events.observe(first)).toBe(false);
    expect(events.observe(message({ type: 'pong', serverTime: 1 }))).toBe(true);
    expect(events.observe({ kind: 'refused', code: 'tampered', reason: 'x' })).toBe(true);
    // A new session numbers its events afresh.
    expect(events.observe(accepted('s2'))).toBe(true);
    expect(events.observe(first)).toBe(true);
  });

  it('reads event messages, defaulting part to 0 and refusing malformed ones', () => {
    expect(
      eventMessageOf(
        message({ type: 'event', eventId: 3, event: { type: 'other', eventId: 3, element: 'x' } }),
      ),
    ).toEqual({
      type: 'event',
      eventId: 3,
      part: 0,
      event: { type: 'other', eventId: 3, element: 'x' },
    });
    expect(
      eventMessageOf(message({ type: 'event', eventId: '3', event: { type: 'other' } })),
    ).toBeUndefined();
    expect(eventMessageOf(message({ type: 'event', eventId: 3 }))).toBeUndefined();
    expect(eventMessageOf(message({ type: 'result' }))).toBeUndefined();
  });
});

describe('a status, in one line', () => {
  it("names the user of a login's Accepted, and only the session of a resume's", () => {
    const login = message({
      type: 'status',
      status: 'Accepted',
      sessionId: 'session-1',
      user: 'CONTOSO\\alice',
      sipUri: 'sip:alice@contoso.com',
      signInMethod: 'iwa',
      message: 'Signed in.',
    });
    expect(describeIncoming(login)).toMatch(
      /● Accepted as CONTOSO\\alice \(sip:alice@contoso\.com, iwa\), session session-1 — Signed in\.$/,
    );
    const resumed = message({
      type: 'status',
      status: 'Accepted',
      resumed: true,
      sessionId: 'session-1',
      message: 'Session resumed.',
    });
    expect(describeIncoming(resumed)).toMatch(
      /^\[\d\d:\d\d\] ● Accepted, session session-1 — Session resumed\.$/,
    );
  });
});

describe('what happened to the connection, in one line', () => {
  it('says the close, the wait, the reconnection and the resume, in the one time format', () => {
    const closed = describeLifecycle({
      kind: 'closed',
      code: 1001,
      reason: 'Going away',
      reconnectInMs: 312,
    });
    expect(closed).toMatch(
      /^\[\d\d:\d\d\] ✗ The service closed the connection \(1001 Going away\); reconnecting in 0\.3 s…$/,
    );
    expect(describeLifecycle({ kind: 'closed', code: 1009, reason: '' })).toMatch(
      /✗ The service closed the connection \(1009\)\.$/,
    );
    expect(describeLifecycle({ kind: 'reconnected', attempt: 1, downMs: 405 })).toMatch(
      /● Reconnected after 0\.4 s\.$/,
    );
    expect(describeLifecycle({ kind: 'resuming', sessionId: 's-1' })).toMatch(/● Resuming session s-1…$/);
    expect(describeLifecycle({ kind: 'gave-up', reason: 'no connection after 20 attempts' })).toMatch(
      /✗ Gave up reconnecting: no connection after 20 attempts$/,
    );
  });
});

describe('/login without a password', () => {
  it('leaves "Password: " on the terminal and echoes nothing of the answer', async () => {
    const input = new PassThrough();
    const output = Object.assign(new PassThrough(), { isTTY: true, columns: 80 });
    let written = '';
    output.on('data', (chunk: Buffer) => {
      written += chunk.toString();
    });
    const rl = createInterface({ input, output, terminal: true, prompt: 'demo-alice> ' });
    rl.prompt();
    const answer = askHidden(rl, 'Password: ');
    input.write('Alice#');
    input.write('2007\r');
    expect(await answer).toBe('Alice#2007');
    rl.close();
    const afterQuestion = written.slice(written.lastIndexOf('Password: '));
    // A terminal erases the line on `ESC [ 0J` / `ESC [ 2K`: none may follow the question.
    for (const erase of ['\u001b[0J', '\u001b[2K', '\u001b[J', '\u001b[K']) {
      expect(afterQuestion).not.toContain(erase);
    }
    expect(written).not.toContain('Alice#');
  });
});
