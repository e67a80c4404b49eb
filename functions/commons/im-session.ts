// The IM session of a signed-in device, as the handlers and the event pump need it: the connectivity cache
// opened once per process (KMS is not called per command), and stored again, sealed, when CWA rotated the
// ticket.

import { connectivityCacheContext } from '../domain/end-session';
import type { SessionRecord, SessionStore } from '../domain/sessions';
import type { ImSession } from '../im-server/port';
import type { SecretSealer } from '../secrets';

const MAX_CACHED = 2000;

export interface ImSessionCache {
  /** The session's ImSession, or undefined when it has no connectivity cache yet (still signing in). */
  open(session: Pick<SessionRecord, 'sessionId' | 'sealedImSession'>): Promise<ImSession | undefined>;
  /** Seals an updated ImSession for storage (and remembers it, so the next open needs no KMS call). */
  seal(sessionId: string, imSession: ImSession): Promise<string>;
}

export function createImSessionCache(sealer: Pick<SecretSealer, 'open' | 'seal'>): ImSessionCache {
  const opened = new Map<string, ImSession>();
  const remember = (sealed: string, imSession: ImSession) => {
    opened.set(sealed, imSession);
    if (opened.size > MAX_CACHED) opened.delete(opened.keys().next().value as string);
  };
  return {
    async open(session) {
      const sealed = session.sealedImSession;
      if (!sealed) return undefined;
      const known = opened.get(sealed);
      if (known) return known;
      const bytes = await sealer.open(sealed, connectivityCacheContext(session.sessionId));
      const imSession = JSON.parse(bytes.toString('utf8')) as ImSession;
      remember(sealed, imSession);
      return imSession;
    },
    async seal(sessionId, imSession) {
      const sealed = await sealer.seal(
        Buffer.from(JSON.stringify(imSession), 'utf8'),
        connectivityCacheContext(sessionId),
      );
      remember(sealed, imSession);
      return sealed;
    },
  };
}

/**
 * How a command stores the ticket CWA rotated while it ran, for the session as the command read it: sealed, at
 * one generation after the cache it read (CWA rotates at most once per request), and only over a lower one —
 * `superseded` when the event pump or another command stored a later ticket meanwhile, which then stays.
 */
export function rotatedTicketSaver(
  deps: {
    readonly sessions: Pick<SessionStore, 'saveConnectivityCache'>;
    readonly imSessions: ImSessionCache;
  },
  session: Pick<SessionRecord, 'sessionId' | 'ticketGeneration'>,
): (rotated: ImSession) => Promise<'saved' | 'superseded' | 'gone'> {
  const ticketGeneration = (session.ticketGeneration ?? 0) + 1;
  return async (rotated) =>
    deps.sessions.saveConnectivityCache(session.sessionId, {
      sealedImSession: await deps.imSessions.seal(session.sessionId, rotated),
      ticketGeneration,
    });
}
