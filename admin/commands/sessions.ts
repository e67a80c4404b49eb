// `npm run admin -- sessions …`: the IM sessions open now, least recently active first, against the session
// count; and ending one as an administrator (its slot freed, CWA signed out, its device told).

import { createImServerResolver } from '../../functions/commons/im-servers';
import type { DeliveryOutcome, Dispatcher } from '../../functions/dispatcher/dispatcher';
import { endSession } from '../../functions/domain/end-session';
import type { SessionRecord } from '../../functions/domain/sessions';
import {
  type Command,
  CommandError,
  type CommandGroup,
  flag,
  formatAge,
  formatTable,
  pluralize,
  stringOption,
  UsageError,
} from '../output';
import { targetHelp } from '../target';

const DEFAULT_LIMIT = 1000;
const PAGE_SIZE = 100;

function parseLimit(text: string | undefined): number {
  if (text === undefined) return DEFAULT_LIMIT;
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`--limit must be a whole number of at least 1, got "${text}"`);
  }
  return n;
}

/** What may be shown about a session: never its sealed connectivity cache. */
function publicFields(session: SessionRecord) {
  const { sessionId, userId, deviceId, state, connectionId, createdAt, lastStatusAt, goneAt, signInMethod } =
    session;
  return {
    sessionId,
    userId,
    deviceId,
    state,
    connectionId,
    createdAt,
    lastStatusAt,
    ...(goneAt === undefined ? {} : { goneAt }),
    ...(signInMethod === undefined ? {} : { signInMethod }),
  };
}

const list: Command = {
  summary: 'list sessions, least recently active first, against the session count',
  usage: `Usage: npm run admin -- sessions list [--limit N] [--json]

Lists the IM sessions, least recently active first (devices out of coverage first of all), and compares
them with the session count that admission checks; a difference is repaired by the reaper.

  --limit N   list at most N sessions (default ${DEFAULT_LIMIT})
  --json      one JSON object instead of a table

${targetHelp}`,
  options: { limit: { type: 'string' }, json: { type: 'boolean' } },
  async run({ values, target, print }) {
    const limit = parseLimit(stringOption(values, 'limit'));
    const service = await target();
    const sessions: SessionRecord[] = [];
    let start: Record<string, unknown> | undefined;
    let complete = false;
    while (sessions.length < limit) {
      const page = await service.sessions.leastRecentlyActive(
        Math.min(PAGE_SIZE, limit - sessions.length),
        start,
      );
      sessions.push(...page.sessions);
      start = page.next;
      if (!start) {
        complete = true;
        break;
      }
    }
    if (!complete) {
      // A full last page may also have been the end: one more look tells.
      complete = (await service.sessions.leastRecentlyActive(1, start)).sessions.length === 0;
    }
    const count = await service.sessions.count();
    const drift = complete ? count - sessions.length : undefined;
    // The index orders the sessions by their last status rounded up to its activity bucket (docs/data-model.md,
    // "Activity in the index"): the exact time is on each session item, read by key (100 a request).
    const stored = new Map(
      (await service.sessions.readSessions(sessions.map((s) => s.sessionId))).map((s) => [s.sessionId, s]),
    );
    for (const [i, s] of sessions.entries()) {
      const exact = stored.get(s.sessionId)?.lastStatusAt;
      if (exact !== undefined) sessions[i] = { ...s, lastStatusAt: exact };
    }

    if (flag(values, 'json')) {
      print(
        JSON.stringify(
          {
            sessions: sessions.map(publicFields),
            listed: sessions.length,
            complete,
            count,
            drift: drift ?? null,
          },
          null,
          2,
        ),
      );
      return;
    }
    const now = Date.now();
    const lines: string[] = [];
    if (sessions.length > 0) {
      lines.push(
        formatTable(
          ['SESSION', 'USER', 'DEVICE', 'STATE', 'LAST STATUS', 'OUT OF COVERAGE', 'CONNECTION'],
          sessions.map((s) => [
            s.sessionId,
            s.userId,
            s.deviceId,
            s.state,
            formatAge(s.lastStatusAt, now),
            s.goneAt === undefined ? 'no' : 'yes',
            s.connectionId,
          ]),
        ),
        '',
      );
    }
    if (drift === undefined) {
      lines.push(
        `The ${pluralize(sessions.length, 'least recently active session')} (--limit ${limit}); ` +
          `the session count says ${count}.`,
      );
    } else {
      const listed = sessions.length === 0 ? 'No sessions' : pluralize(sessions.length, 'session');
      lines.push(
        drift === 0
          ? `${listed}; the session count agrees (${count}).`
          : `${listed}; the session count says ${count} (count drift: ${drift}; the reaper repairs it).`,
      );
    }
    print(lines.join('\n'));
  },
};

// Session ids are the service's own (printable, no spaces); anything else cannot name one.
const SESSION_ID = /^[\x21-\x7e]{1,128}$/;

const kick: Command = {
  summary: 'end a session: free its slot, sign it out of CWA, tell its device',
  usage: `Usage: npm run admin -- sessions kick <sessionId> [--no-tell]

Ends the session as an administrator: its slot is freed at once, it is signed out of CWA, and its device
receives a "Logged Out" status (reason: administrator) unless --no-tell is given. A device out of coverage
cannot be told; it learns when it next sends a status message.

With --aws this needs --kms-key-id (the connectivity cache and device keys open only under the service's
KMS key) and, to tell the device, --connections-endpoint.

  --no-tell   do not send the device a "Logged Out" status

${targetHelp}`,
  options: { 'no-tell': { type: 'boolean' } },
  positionals: { min: 1, max: 1, label: '<sessionId>' },
  async run({ positionals, values, target, print, warn }) {
    const [sessionId = ''] = positionals;
    if (!SESSION_ID.test(sessionId)) {
      throw new UsageError('<sessionId> must be 1 to 128 printable characters without spaces');
    }
    const tell = !flag(values, 'no-tell');
    const service = await target();
    // Asked first: with --aws and a flag missing this stops before anything is ended.
    const sealer = service.sealer();
    const dispatcher = tell ? service.dispatcher() : undefined;

    const session = await service.sessions.get(sessionId);
    if (!session) throw new CommandError(`No session ${sessionId}`);

    let delivery: DeliveryOutcome | undefined;
    let tellFailure: string | undefined;
    const observed: Pick<Dispatcher, 'send'> = {
      async send(connectionId, message) {
        if (!dispatcher) throw new Error('--no-tell');
        try {
          delivery = await dispatcher.send(connectionId, message);
          return delivery;
        } catch (error) {
          tellFailure = error instanceof Error ? error.message.split('\n')[0] || error.name : String(error);
          throw error;
        }
      },
    };
    const resolver = createImServerResolver();
    try {
      const ended = await endSession(
        {
          sessions: service.sessions,
          imServer: {
            // Resolved only for a session signed in to CWA: one still signing in has nothing to sign out.
            signOut: async (imSession) => resolver(await service.settings.get()).signOut(imSession),
          },
          sealer,
          dispatcher: observed,
          warn: (message, detail) => {
            // A failed notification is reported in the result line; anything else is worth a warning.
            if (tellFailure !== undefined) return;
            warn(`${message}${typeof detail.error === 'string' ? ` (${detail.error})` : ''}`);
          },
        },
        session,
        'administrator',
        { tellDevice: tell },
      );
      if (!ended) throw new CommandError(`No session ${sessionId}`);
    } finally {
      resolver.close();
    }

    const told = !tell
      ? 'its device was not told (--no-tell)'
      : tellFailure !== undefined
        ? `its device could not be told (${tellFailure})`
        : delivery?.delivered
          ? 'its device was told'
          : 'its device could not be told: it is out of coverage';
    print(`Session ${sessionId} of ${session.userId} (device ${session.deviceId}) ended; ${told}.`);
  },
};

export const sessions: CommandGroup = {
  name: 'sessions',
  summary: 'list sessions and end one',
  commands: { list, kick },
};
