// The simulator's request handlers, one per CWA endpoint: IWA and forms sign-in, the command channel
// and the data channel. Each reads the request, asks the world, and writes CWA's XML back.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  childElement,
  childElements,
  childText,
  element,
  integerOf,
  parseXml,
  type XmlElement,
  type XmlNode,
} from '../functions/cwa/xml/tree';
import {
  cwaEvents,
  cwaResponses,
  errorElement,
  errorResponse,
  events,
  logonAnswer,
  truncated,
} from './answers';
import { type CwaFaults, takeFault } from './faults';
import type { IwaAuthenticator } from './iwa';
import type { SimSession } from './session';
import type { TicketFamily } from './tickets';
import type { SimUser } from './users';
import { type Message, SimRequestError, type SimWorld, type StateKind } from './world';

export interface ChannelContext {
  readonly world: SimWorld;
  readonly iwa: IwaAuthenticator;
  readonly faults: CwaFaults;
  readonly sites: { readonly iwa: boolean; readonly forms: boolean };
  readonly pollWaitTimeMs: number;
  readonly holdMs: number;
  readonly log: (line: string) => void;
  readonly stats: SimStats;
}

export interface SimStats {
  /** TCP connections accepted (an NTLM handshake must not open more than one). */
  connections: number;
  /** TLS handshakes that did not resume a session (a full certificate exchange). */
  fullHandshakes: number;
  requests: number;
  signIns: { iwa: number; forms: number };
  refusedSignIns: { iwa: number; forms: number };
}

type Reply = (status: number, body: string, headers?: Record<string, string | string[]>) => void;

export function replier(res: ServerResponse): Reply {
  return (status, body, headers = {}) => {
    res.writeHead(status, {
      'Content-Type': body.startsWith('<html') ? 'text/html; charset=utf-8' : 'text/xml; charset=utf-8',
      'Cache-Control': 'no-cache',
      ...headers,
    });
    res.end(body);
  };
}

function samePassword(stored: string, given: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(stored), digest(given));
}

function signedIn(context: ChannelContext, reply: Reply, user: SimUser, method: 'iwa' | 'forms'): void {
  const family = context.world.tickets.issue(user, method);
  context.stats.signIns[method] += 1;
  context.log(`${method} sign-in: ${user.domain}\\${user.name} (${user.sipUri})`);
  reply(200, logonAnswer(user.sipUri, context.world.signInData()), { 'CWA-Ticket': family.current });
}

/**
 * The redirect mode: a sign-in is answered 302 to another place, as a reverse proxy or an IIS site moved
 * elsewhere does. A client must not follow it with credentials.
 */
function redirected(context: ChannelContext, reply: Reply): boolean {
  const location = context.faults.redirectSignIn;
  if (!location) return false;
  context.log(`sign-in redirected to ${location}`);
  reply(302, '<html><body>Object moved</body></html>', { Location: location });
  return true;
}

export function iwaLogon(context: ChannelContext, req: IncomingMessage, reply: Reply): void {
  if (!context.sites.iwa || context.faults.iwaDisabled) {
    reply(404, '<html><body>Not Found</body></html>');
    return;
  }
  if (req.method !== 'POST' && req.method !== 'GET') {
    reply(405, '<html><body>Method Not Allowed</body></html>');
    return;
  }
  if (redirected(context, reply)) return;
  const step = context.iwa.step(req.socket, req.headers.authorization);
  const unauthorized = (authenticate: string | string[]) =>
    reply(401, '<html><body>401 Unauthorized</body></html>', { 'WWW-Authenticate': authenticate });
  switch (step.kind) {
    case 'offer':
      if (step.why) context.log(`iwa: ${step.why}`);
      unauthorized([...context.iwa.offers]);
      return;
    case 'challenge':
      unauthorized(step.header);
      return;
    case 'rejected':
      context.stats.refusedSignIns.iwa += 1;
      context.log(`iwa sign-in refused: ${step.why}`);
      unauthorized([...context.iwa.offers]);
      return;
    case 'authenticated':
      signedIn(context, reply, step.user, 'iwa');
      return;
  }
}

function parseRequests(body: string): XmlElement | undefined {
  try {
    const root = parseXml(body);
    return root.name === 'cwaRequests' ? root : undefined;
  } catch {
    return undefined;
  }
}

export function formsLogon(context: ChannelContext, req: IncomingMessage, body: string, reply: Reply): void {
  if (!context.sites.forms || context.faults.formsDisabled) {
    reply(404, '<html><body>Not Found</body></html>');
    return;
  }
  if (req.method !== 'POST') {
    reply(405, '<html><body>Method Not Allowed</body></html>');
    return;
  }
  if (redirected(context, reply)) return;
  const logon = (() => {
    const root = parseRequests(body);
    return root && childElement(root, 'logon');
  })();
  if (!logon) {
    reply(400, errorResponse(18000, 'The logon request is not a well-formed <cwaRequests><logon>.'));
    return;
  }
  const login = childText(logon, 'user') ?? '';
  const user = context.world.directory.byLogin(login);
  if (!user || !samePassword(user.password, childElement(logon, 'password')?.text ?? '')) {
    context.stats.refusedSignIns.forms += 1;
    context.log(`forms sign-in refused for ${login || '(no user)'}`);
    reply(403, errorResponse(undefined, 'The user name or password is incorrect.'));
    return;
  }
  signedIn(context, reply, user, 'forms');
}

function authenticated(
  context: ChannelContext,
  req: IncomingMessage,
  reply: Reply,
): TicketFamily | undefined {
  const header = req.headers['cwa-ticket'];
  const family = context.world.tickets.use(Array.isArray(header) ? header[0] : header);
  if (!family) {
    context.log(`${req.method} ${req.url?.split('?')[0]}: ticket refused`);
    reply(403, errorResponse(undefined, 'The CWA-Ticket is missing, expired or unknown.'));
  }
  return family;
}

function messageOf(parent: XmlElement): Message {
  const message = childElement(parent, 'message') ?? parent;
  return {
    format: childText(message, 'format') ?? '',
    content: childElement(message, 'content')?.text ?? '',
  };
}

/** The first `state` category's availability, and whether it is a machine state (`xsi:type`, read by local name; bb969515). */
function publishedState(request: XmlElement): { availability: number; kind: StateKind } | undefined {
  for (const category of childElements(request, 'cwaCategory')) {
    if (category.attributes.name !== 'state') continue;
    const state = childElement(category, 'state');
    const availability = state && integerOf(childText(state, 'availability'));
    if (state && availability !== undefined) {
      const kind = state.attributes.type === 'machineState' ? 'machineState' : 'userState';
      return { availability, kind };
    }
  }
  return undefined;
}

function invalid(rid: string | undefined, detail: string): XmlNode {
  return element('requestInvalid', { rid }, errorElement(18001, detail));
}

/** One conference request; returns its synchronous answer. */
function conference(context: ChannelContext, session: SimSession, request: XmlElement): XmlNode {
  const { world } = context;
  const { rid, confId } = request.attributes;
  const [action] = request.children;
  const accepted = element('requestAccepted', { rid });
  switch (action?.name) {
    // bb969654's own example spells it "initateImSession"; accept both.
    case 'initiateImSession':
    case 'initateImSession': {
      const uris = childElements(childElement(action, 'uris') ?? action, 'uri').map((uri) => uri.text.trim());
      return element('initiateImSessionAccepted', {
        rid,
        confId: world.initiateIm(session, rid, uris, messageOf(action)),
      });
    }
    case 'sendMessage':
      world.sendMessage(session, confId, messageOf(action));
      return accepted;
    case 'acceptImSession':
      world.acceptIm(session, confId);
      return accepted;
    case 'notifyComposing':
      world.notifyComposing(session, confId, action.text.trim().toLowerCase() === 'composing');
      return accepted;
    case 'terminateImSession':
      world.terminateIm(session, confId);
      return accepted;
    default:
      return invalid(rid, `unknown conference request <${action?.name ?? ''}>`);
  }
}

export function command(context: ChannelContext, req: IncomingMessage, body: string, reply: Reply): void {
  if (req.method !== 'POST') {
    reply(405, '<html><body>Method Not Allowed</body></html>');
    return;
  }
  const family = authenticated(context, req, reply);
  if (!family) return;
  const answer = (xml: string) =>
    reply(200, takeFault(context.faults, 'malformedXml') ? truncated(xml) : xml, {
      'CWA-Ticket': family.current,
    });
  const root = parseRequests(body);
  if (!root) {
    answer(errorResponse(18000, 'The request is not a well-formed <cwaRequests> document.'));
    return;
  }
  if (takeFault(context.faults, 'throttle')) {
    answer(errorResponse(18101, 'Too many requests; slow down.'));
    return;
  }
  const { world } = context;
  const items: XmlNode[] = [];
  let unexpected = 0;
  let ending: SimSession | undefined;
  for (const request of root.children) {
    const { rid } = request.attributes;
    if (request.name === 'initiateSession') {
      const availability = integerOf(childText(request, 'userStateAvailability')) ?? 3500;
      const session = world.startSession(family, availability);
      context.log(`session ${session.sid} started for ${family.user.sipUri}`);
      items.push(
        element(
          'requestAccepted',
          { rid },
          element('sid', {}, String(session.sid)),
          element('uri', {}, family.user.sipUri),
          element('pollWaitTime', {}, String(context.pollWaitTimeMs)),
        ),
      );
      continue;
    }
    let session: SimSession;
    try {
      session = world.session(root.attributes.sid, family);
    } catch (error) {
      if (error instanceof SimRequestError) {
        answer(errorResponse(error.code, error.message));
        return;
      }
      throw error;
    }
    try {
      if (request.name === 'conference') {
        items.push(conference(context, session, request));
      } else if (request.name === 'publishSelfPresence') {
        const state = publishedState(request);
        if (state === undefined) {
          items.push(invalid(rid, 'publishSelfPresence needs a state category with an availability'));
        } else {
          world.publishPresence(session, state.availability, state.kind);
          items.push(element('requestAccepted', { rid }));
        }
      } else if (request.name === 'terminateSession') {
        ending = session;
        items.push(element('requestAccepted', { rid }));
      } else {
        unexpected += 1;
        items.push(invalid(rid, `unknown request <${request.name}>`));
      }
    } catch (error) {
      if (!(error instanceof SimRequestError)) throw error;
      // Accepted, then failed: CWA reports the outcome on the data channel (bb969562).
      session.push(events.requestFailed(rid, error.code, error.message));
      items.push(element('requestAccepted', { rid }));
    }
  }
  answer(cwaResponses(items, items.length - unexpected, unexpected));
  if (ending) {
    context.log(`session ${ending.sid} terminated`);
    world.endSession(ending);
  }
}

function queryParameter(url: URL, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of url.searchParams) if (key.toLowerCase() === wanted) return value;
  return undefined;
}

export async function dataChannel(
  context: ChannelContext,
  req: IncomingMessage,
  url: URL,
  reply: Reply,
): Promise<void> {
  if (req.method !== 'GET') {
    reply(405, '<html><body>Method Not Allowed</body></html>');
    return;
  }
  const family = authenticated(context, req, reply);
  if (!family) return;
  const { faults, world } = context;
  const answer = (xml: string) =>
    reply(200, takeFault(faults, 'malformedXml') ? truncated(xml) : xml, { 'CWA-Ticket': family.current });
  let session: SimSession;
  try {
    session = world.session(queryParameter(url, 'Sid'), family, queryParameter(url, 'UA') === 'true');
  } catch (error) {
    if (error instanceof SimRequestError) {
      answer(errorResponse(error.code, error.message));
      return;
    }
    throw error;
  }
  if (takeFault(faults, 'throttle')) {
    answer(errorResponse(18101, 'Too many requests; slow down.'));
    return;
  }
  const ackId = Math.max(0, integerOf(queryParameter(url, 'AckId')) ?? 0);
  session.acknowledge(ackId);
  let items = session.pendingAfter(ackId);
  if (items.length === 0) {
    // A real CWA paces clients with pollWaitTime; holding briefly only makes delivery quicker.
    await session.waitForEvent(context.holdMs);
    items = session.pendingAfter(ackId);
  }
  if (takeFault(faults, 'dropResponse')) {
    context.log(`session ${session.sid}: data-channel answer dropped (fault)`);
    req.socket.destroy();
    return;
  }
  const highest = items.reduce((max, item) => Math.max(max, Number(item.attributes?.eid ?? 0)), ackId);
  if (faults.duplicateEvents)
    items = [...session.recentlyAcknowledged(3), ...items.flatMap((item) => [item, item])];
  answer(
    cwaEvents({
      sid: session.sid,
      ackId: highest,
      pollWaitTimeMs: context.pollWaitTimeMs,
      sessionTimeoutSeconds: world.sessionTimeoutSeconds(session),
      items,
    }),
  );
}
