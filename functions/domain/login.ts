// The login flow of SPEC §2, in the source's order: admission (limit, reclaim, Server Busy / Failed),
// permission, IWA then forms through CWA, the connectivity cache sealed at rest. The acceptance itself goes
// out through the dispatcher (the handler's job). A slot taken is released on every failure after it; CWA
// gets only the invocation's remaining time, and a slot whose invocation was stopped anyway carries a
// deadline past which reclaim and the reaper free it.

import type { ConnectionState, ConnectionStore } from '../domain/connections';
import {
  AuthenticationFailedError,
  CwaProtocolError,
  CwaThrottledError,
  CwaTlsError,
  CwaUnreachableError,
  type ImServer,
  ImServerError,
  type ImSession,
} from '../im-server';
import { routeRuntime } from '../runtime-settings';
import type { SecretSealer } from '../secrets';
import { withinBudget } from './budget';
import { connectivityCacheContext } from './end-session';
import { activityBucketMs, shardOf } from './keys';
import type { Reclaimed } from './reclaim';
import type { SessionRecord, SessionStore, SlotState } from './sessions';
import {
  newestSettingsVersion,
  type Settings,
  sessionLimit,
  sharedLimit,
  type VersionedSettings,
} from './settings';

export interface LoginCredentials {
  readonly password: string;
  readonly sipUri?: string;
}

export type LoginResult =
  | {
      readonly outcome: 'Accepted';
      readonly session: SessionRecord;
      readonly imSession: ImSession;
      readonly reclaimed: readonly Reclaimed[];
    }
  | {
      readonly outcome: 'Server Busy' | 'Failed' | 'Forbidden' | 'Authentication Failed' | 'Bad Request';
      readonly reason: string;
      readonly message: string;
      /** For `already-signed-in`: the session the connection carries. */
      readonly sessionId?: string;
      readonly methodsTried?: readonly string[];
      readonly reclaimed: readonly Reclaimed[];
    }
  /** The frame's sequence number was used before: a retried frame; nothing was done. */
  | { readonly outcome: 'Replayed' }
  /** The connection vanished mid-login; nothing holds a slot. */
  | { readonly outcome: 'Gone' };

export interface LoginDeps {
  readonly sessions: Pick<
    SessionStore,
    'loginSnapshot' | 'recentSlots' | 'admitOnRecent' | 'admit' | 'activate' | 'end' | 'get'
  >;
  /**
   * The settings from the warm process's cache (functions/adapters/cached-settings.ts), read again first when
   * `version` (the settings version the slot items carry) is not the cached one's. `read`: the settings item
   * the login's snapshot read (when `settingsCold`), which an empty cache keeps.
   */
  readonly settings: (version?: string, read?: VersionedSettings) => Promise<Settings>;
  /** True while the cache holds no settings: the snapshot then reads the settings item too (no GetItem of its own). */
  readonly settingsCold?: () => boolean;
  readonly connections: Pick<ConnectionStore, 'acceptInbound'>;
  readonly imServerFor: (settings: Settings) => Pick<ImServer, 'signIn' | 'startSession' | 'signOut'>;
  readonly sealer: Pick<SecretSealer, 'seal'>;
  /** Logs out reclaimable sessions (out of coverage, idle past the timeout); returns what it freed. */
  readonly reclaim: (settings: Settings & { readonly idleTimeoutMs: number }) => Promise<Reclaimed[]>;
  /**
   * At the device's or the user's ceiling: logs out those of `sessionIds` left on other connections that are
   * gone (domain/reclaim.ts `reclaimLeftSessions`); returns what it freed.
   */
  readonly reclaimLeft: (
    settings: Settings,
    sessionIds: readonly string[],
    connectionId: string,
  ) => Promise<Reclaimed[]>;
  readonly now: () => number;
  readonly newSessionId: () => string;
  /**
   * How many event-pump shards a new session is spread over, given the live sessions before it
   * (functions/domain/pump-capacity.ts `shardsFor`).
   */
  readonly pumpShards: (activeSessions: number) => number;
  /** Tells the device it is accepted, before the session turns active (the handler: through the dispatcher). */
  readonly announce?: (accepted: Extract<LoginResult, { outcome: 'Accepted' }>) => Promise<void>;
  /** Measures the CWA sign-in (IWA/forms + session start), for the latency metric. */
  readonly onSignIn?: (method: string, ms: number) => void;
  /**
   * The invocation's time left, in ms (Lambda `context.getRemainingTimeInMillis`). CWA gets this minus
   * `SIGN_IN_MARGIN_MS`, so a slow CWA ends in Failed and a freed slot before Lambda stops the invocation.
   * @default - the route timeout from functions/runtime-settings.ts, counted from the start of the login
   */
  readonly remainingMs?: () => number;
}

/**
 * Time kept back from the invocation's remaining time when CWA is called: enough to release the slot,
 * sign out a started CWA session and send the device its answer (a few DynamoDB and HTTP round trips).
 */
export const SIGN_IN_MARGIN_MS = 2_000;

/**
 * Slack added to the invocation's end for a session's `signInDeadline`: clocks of different Lambda hosts
 * may differ a little, and a sign-in must never be taken for abandoned while its invocation still runs.
 */
export const SIGN_IN_DEADLINE_SLACK_MS = 5_000;

/** CWA did not answer within the sign-in budget: treated as CWA unreachable (timeout). */
class SignInBudgetExceeded extends CwaUnreachableError {
  constructor(budgetMs: number) {
    super('CWA', 'timeout', { cause: new Error(`sign-in budget of ${budgetMs} ms spent`) });
  }
}

/** `work`, or SignInBudgetExceeded once `budgetMs` has passed (the work is abandoned, not awaited). */
function withinSignInBudget<T>(work: Promise<T>, budgetMs: number): Promise<T> {
  return withinBudget(work, budgetMs, (ms) => new SignInBudgetExceeded(ms));
}

export interface LoginRequest {
  readonly connection: ConnectionState;
  /** The login frame's sequence number (not yet recorded: admission records it in its transaction). */
  readonly frameSeq: number;
  readonly credentials: LoginCredentials;
}

type Rejection = Extract<LoginResult, { reason: string }>;

function rejected(
  outcome: Rejection['outcome'],
  reason: string,
  message: string,
  reclaimed: readonly Reclaimed[] = [],
  extra: Partial<Rejection> = {},
): Rejection {
  return { outcome, reason, message, reclaimed, ...extra };
}

function full(whenFull: 'Server Busy' | 'Failed', limit: number, reclaimed: readonly Reclaimed[]): Rejection {
  return whenFull === 'Server Busy'
    ? rejected('Server Busy', 'max-sessions', `All ${limit} sessions are in use; try again later.`, reclaimed)
    : rejected(
        'Failed',
        'connection-capacity',
        `The connections to the IM server are at capacity (${limit} sessions); try again later.`,
        reclaimed,
      );
}

/** One signed-in session per connection: a second login is refused, the first session goes on. */
function alreadySignedIn(sessionId: string | undefined): Rejection {
  return rejected(
    'Bad Request',
    'already-signed-in',
    'This connection is already signed in; log out first (or use the session you have).',
    [],
    sessionId === undefined ? {} : { sessionId },
  );
}

function deviceFull(limit: number, reclaimed: readonly Reclaimed[]): Rejection {
  return rejected(
    'Server Busy',
    'device-sessions',
    `This device already holds ${limit === 1 ? 'a session' : `${limit} sessions`} on another connection; resume it or log it out.`,
    reclaimed,
  );
}

function userFull(limit: number, reclaimed: readonly Reclaimed[]): Rejection {
  return rejected(
    'Server Busy',
    'user-sessions',
    `This user already holds ${limit} sessions (the most one user may hold); log one out first.`,
    reclaimed,
  );
}

/** What went wrong with CWA, in words for the device: never a credential, never a URL with secrets. */
export function cwaFailure(error: unknown, reclaimed: readonly Reclaimed[]): Rejection | undefined {
  if (error instanceof AuthenticationFailedError) {
    const methodsTried = error.methodsTried;
    const tried =
      methodsTried.length > 0
        ? methodsTried
            .map((m) => (m === 'iwa' ? 'Integrated Windows Authentication' : 'forms-based login'))
            .join(', then ')
        : 'no sign-in method';
    return rejected(
      'Authentication Failed',
      'credentials',
      `Sign-in was refused (tried ${tried}).`,
      reclaimed,
      {
        methodsTried,
      },
    );
  }
  if (error instanceof CwaTlsError) {
    return rejected('Failed', 'cwa-tls', 'The IM server’s certificate could not be verified.', reclaimed);
  }
  if (error instanceof CwaThrottledError) {
    return rejected('Failed', 'cwa-throttled', 'The IM server is busy; try again shortly.', reclaimed);
  }
  if (error instanceof CwaUnreachableError) {
    return rejected(
      'Failed',
      'cwa-unreachable',
      'The IM server cannot be reached; try again later.',
      reclaimed,
    );
  }
  if (error instanceof ImServerError && error.kind === 'config') {
    return rejected(
      'Failed',
      'cwa-config',
      'The connection to the IM server is not configured correctly; ask your administrator.',
      reclaimed,
    );
  }
  if (error instanceof CwaProtocolError && !error.transient) {
    return rejected(
      'Failed',
      'cwa-protocol',
      'The IM server answered in a way the service does not understand (for example a redirect); ask your administrator.',
      reclaimed,
    );
  }
  if (error instanceof Error && error.name.startsWith('Cwa')) {
    return rejected(
      'Failed',
      'cwa-error',
      'The IM server could not sign you in; try again later.',
      reclaimed,
    );
  }
  return undefined;
}

/** The session a login is about to admit, `signing-in` until CWA has signed it in. */
function newSession(
  deps: LoginDeps,
  connection: ConnectionState,
  activeSessions: number,
  countsTowardsUser: boolean,
  remainingMs: () => number,
): SessionRecord {
  const now = deps.now();
  const sessionId = deps.newSessionId();
  return {
    sessionId,
    shard: shardOf(sessionId, deps.pumpShards(activeSessions)),
    userId: connection.userId,
    deviceId: connection.deviceId,
    connectionId: connection.connectionId,
    state: 'signing-in',
    createdAt: now,
    lastStatusAt: now,
    // Past this, the invocation that admitted the session is over: if it is still signing in, the invocation
    // was stopped before releasing the slot, and reclaim or the reaper end it.
    signInDeadline: now + remainingMs() + SIGN_IN_DEADLINE_SLACK_MS,
    // A user ceiling at or above the total cannot bind: the user's set (one item for all of a user's devices)
    // is then left out of admission and ending, so it is not a hot item. Sessions admitted so would not count
    // against a ceiling lowered later.
    ...(countsTowardsUser ? { countsTowardsUser: true } : {}),
  };
}

/**
 * What a login takes from a recent view of the slot shards: the settings version all of them carry, the limit
 * (their shares' sum) and the sessions counted. Undefined when the view cannot serve: an item without a share,
 * items of different settings versions (a write half seen), or no room anywhere by the view (only a fresh
 * read may answer Server Busy).
 */
export function recentViewTerms(
  slots: readonly SlotState[],
): { readonly version: string; readonly limit: number; readonly active: number } | undefined {
  const version = slots[0]?.settingsVersion;
  if (version === undefined) return undefined;
  if (slots.some((slot) => slot.share === undefined || slot.settingsVersion !== version)) return undefined;
  const limit = sharedLimit(slots) ?? 0;
  const active = slots.reduce((sum, slot) => sum + slot.active, 0);
  return active < limit ? { version, limit, active } : undefined;
}

type RecentAttempt =
  | { readonly outcome: 'admitted'; readonly session: SessionRecord; readonly settings: Settings }
  | { readonly outcome: 'Replayed' }
  | { readonly outcome: 'Gone' }
  /** Tried and refused, nothing taken: the view (or a hint in it) was wrong; the login reads afresh. */
  | { readonly outcome: 'missed' };

/**
 * The warm login: admission on the execution environment's recent view of the slot shards, with no snapshot
 * read (SessionStore.admitOnRecent; the permission, the ceilings, the share and the settings version are all
 * conditions of its transaction). Undefined when not tried: no recent view, slot items without shares or of
 * mixed settings versions, or every shard full by the view — Server Busy is never answered from a view.
 */
async function admitOnRecentView(
  deps: LoginDeps,
  request: LoginRequest,
  remainingMs: () => number,
): Promise<RecentAttempt | undefined> {
  const slots = deps.sessions.recentSlots();
  const terms = slots && recentViewTerms(slots);
  if (!slots || !terms) return undefined;
  const { version, limit, active } = terms;
  const settings = await deps.settings(version);
  const { connection, frameSeq } = request;
  const perUser = settings.maxSessionsPerUser;
  const session = newSession(deps, connection, active, perUser < limit, remainingMs);
  const outcome = await deps.sessions.admitOnRecent({
    session,
    limits: { total: limit, perDevice: settings.maxSessionsPerDevice, perUser },
    frameSeq,
    ...(connection.sessionId === undefined ? {} : { previousSessionId: connection.sessionId }),
    slots,
    settingsVersion: version,
  });
  if (outcome === 'admitted') return { outcome, session, settings };
  if (outcome === 'replayed') return { outcome: 'Replayed' };
  if (outcome === 'connection-gone') return { outcome: 'Gone' };
  return { outcome: 'missed' };
}

export async function login(deps: LoginDeps, request: LoginRequest): Promise<LoginResult> {
  const { connection, frameSeq } = request;
  const invocationEnd = deps.now() + routeRuntime.timeoutSeconds * 1000;
  const remainingMs = deps.remainingMs ?? (() => Math.max(0, invocationEnd - deps.now()));
  const refuse = async (result: Rejection): Promise<LoginResult> => {
    // Record the frame's number so the same frame cannot be replayed into another attempt.
    const seq = await deps.connections.acceptInbound(connection.connectionId, frameSeq);
    if (seq === 'replayed') return { outcome: 'Replayed' };
    return result;
  };

  // 0. One signed-in session per connection (checked first: it costs nobody anything).
  const previousSessionId = connection.sessionId;
  if (previousSessionId !== undefined) {
    const carried = await deps.sessions.get(previousSessionId);
    // A session resumed on another connection is no longer this one's.
    if (carried?.connectionId === connection.connectionId) return refuse(alreadySignedIn(previousSessionId));
  }

  // A warm environment first tries its recent view of the slot shards: when it admits, the login has read
  // nothing (docs/data-model.md, "The recent view"). Otherwise nothing was taken, and the login goes the
  // whole way below, in the source's order.
  const recent = await admitOnRecentView(deps, request, remainingMs);
  if (recent?.outcome === 'Replayed' || recent?.outcome === 'Gone') return recent;
  if (recent?.outcome === 'admitted')
    return signIn(deps, request, recent.session, recent.settings, [], remainingMs);

  // Eventually consistent even after the view missed: a strongly consistent read costs the slot items' partitions
  // twice the units, exactly when a storm fills the table (the scale-model storm lost logins to that throttling);
  // `admit` reads strongly consistent before it answers `full`.
  const snapshot = await deps.sessions.loginSnapshot(connection.userId, connection.deviceId, {
    withSettings: deps.settingsCold?.() === true,
  });
  const settings = await deps.settings(newestSettingsVersion(snapshot.slots ?? []), snapshot.settings);
  // The slot items' shares are the limit in force (admission compares against them); the settings' own
  // figure only on a table whose slot items carry none yet.
  const { whenFull, limit: settingsLimit } = sessionLimit(settings);
  const limit = sharedLimit(snapshot.slots ?? []) ?? settingsLimit;
  const allowed = snapshot.permission?.allowed === true;
  const forbidden = () =>
    rejected(
      'Forbidden',
      'not-permitted',
      'This user may not use the collaboration client; ask your administrator.',
    );
  // 1. Admission: the device's and the user's fair share first, so that neither reclaims others' slots.
  let reclaimed: Reclaimed[] = [];
  const perDevice = settings.maxSessionsPerDevice;
  const perUser = settings.maxSessionsPerUser;
  // Sessions of this device, or of this user, left on connections that are gone make room first: a device that
  // closed its connection holds its session until the $disconnect that runs after the close (or never comes).
  const reclaimLeft = async (sessionIds: readonly string[]) => {
    if (!allowed) return false;
    const freed = await deps.reclaimLeft(
      settings,
      sessionIds.filter((id) => !reclaimed.some((each) => each.sessionId === id)),
      connection.connectionId,
    );
    reclaimed = reclaimed.concat(freed);
    return freed.length > 0;
  };
  if (snapshot.deviceSessions.length >= perDevice && !(await reclaimLeft(snapshot.deviceSessions))) {
    return refuse(allowed ? deviceFull(perDevice, reclaimed) : forbidden());
  }
  const userSessions = snapshot.userSessions.filter((id) => !reclaimed.some((each) => each.sessionId === id));
  if (userSessions.length >= perUser && !(await reclaimLeft(userSessions))) {
    return refuse(allowed ? userFull(perUser, reclaimed) : forbidden());
  }
  const reclaimIfAllowed = async () => {
    if (whenFull !== 'Server Busy' || settings.idleTimeoutMs === undefined) return false;
    reclaimed = reclaimed.concat(await deps.reclaim({ ...settings, idleTimeoutMs: settings.idleTimeoutMs }));
    return reclaimed.length > 0;
  };
  if (snapshot.activeSessions >= limit) {
    // A user who would be refused anyway never costs another user their session.
    if (!allowed) return refuse(forbidden());
    if (!(await reclaimIfAllowed())) return refuse(full(whenFull, limit, reclaimed));
  }
  // 2. Permission.
  if (!allowed) return refuse(forbidden());

  const session = newSession(deps, connection, snapshot.activeSessions, perUser < limit, remainingMs);
  const admission = {
    session,
    limits: { total: limit, perDevice, perUser },
    frameSeq,
    ...(previousSessionId === undefined ? {} : { previousSessionId }),
    ...(snapshot.slots ? { slotHint: snapshot.slots } : {}),
  };
  let admitted = await deps.sessions.admit(admission);
  if (admitted === 'full' && (await reclaimIfAllowed())) admitted = await deps.sessions.admit(admission);
  if (admitted === 'replayed') return { outcome: 'Replayed' };
  if (admitted === 'connection-gone') return { outcome: 'Gone' };
  if (admitted === 'full') return refuse(full(whenFull, limit, reclaimed));
  if (admitted === 'contended') {
    return refuse(
      rejected('Server Busy', 'contention', 'Too many logins at this moment; try again shortly.', reclaimed),
    );
  }
  // Raced: another login on this connection, or of this device or user, took the share meanwhile.
  if (admitted === 'signed-in') return refuse(alreadySignedIn(previousSessionId));
  if (admitted === 'device-full') return refuse(deviceFull(perDevice, reclaimed));
  if (admitted === 'user-full') return refuse(userFull(perUser, reclaimed));

  return signIn(deps, request, session, settings, reclaimed, remainingMs);
}

/**
 * 3–7. Authentication through CWA, IWA then forms; then the IM session, the acceptance, and the session turned
 * active. The slot is the session's until released: released again on every failure here.
 */
async function signIn(
  deps: LoginDeps,
  request: LoginRequest,
  session: SessionRecord,
  settings: Settings,
  reclaimed: readonly Reclaimed[],
  remainingMs: () => number,
): Promise<LoginResult> {
  const { connection, credentials } = request;
  let imSession: ImSession | undefined;
  try {
    const imServer = deps.imServerFor(settings);
    const started = performance.now();
    const budget = () => remainingMs() - SIGN_IN_MARGIN_MS;
    const signIn = await withinSignInBudget(
      imServer.signIn({
        user: connection.userId,
        password: credentials.password,
        ...(credentials.sipUri ? { sipUri: credentials.sipUri } : {}),
      }),
      budget(),
    );
    const starting = imServer.startSession(signIn);
    try {
      imSession = await withinSignInBudget(starting, budget());
    } catch (error) {
      // A session CWA opens after we gave up is signed out when it comes, if the invocation still runs.
      if (error instanceof SignInBudgetExceeded) {
        void starting.then((late) => imServer.signOut(late)).catch(() => undefined);
      }
      throw error;
    }
    deps.onSignIn?.(signIn.method, performance.now() - started);
    const at = deps.now();
    const accepted = { ...session, state: 'active' as const, lastStatusAt: at };
    // 8. The acceptance to the device — first, before the session turns active and the event pump starts
    // sending to it, so that it is the first thing the device hears — then the connectivity cache, sealed
    // at rest (it holds the CWA ticket).
    await deps.announce?.({ outcome: 'Accepted', session: accepted, imSession, reclaimed });
    const sealed = await deps.sealer.seal(
      Buffer.from(JSON.stringify(imSession), 'utf8'),
      connectivityCacheContext(session.sessionId),
    );
    await deps.sessions.activate(session.sessionId, {
      sealedImSession: sealed,
      cursor: imSession.cursor,
      signInMethod: imSession.method,
      at,
      activityBucketMs: activityBucketMs(settings.inactivityTimeoutMs),
    });
    return { outcome: 'Accepted', session: accepted, imSession, reclaimed };
  } catch (error) {
    await deps.sessions.end(session);
    if (imSession) {
      const started = imSession;
      await deps
        .imServerFor(settings)
        .signOut(started)
        .catch(() => undefined);
    }
    const failure = cwaFailure(error, reclaimed);
    if (failure) return failure;
    throw error;
  }
}
