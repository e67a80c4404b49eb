// Parsers for what CWA answers: the synchronous `cwaResponses` of the sign-in and command channels
// (bb969562) and the `cwaEvents` of the data channel (bb969533), turned into typed values.

import type { ImEvent, ImServerErrorDetail } from '../../im-server/events';
import { availabilityFromCode } from '../../im-server/presence';
import {
  childElement,
  childElements,
  childText,
  integerOf,
  parseLoneElement,
  parseXml,
  type XmlElement,
  XmlFormatError,
} from './tree';

/** A request CWA refused synchronously or reported as failed (`error`, `requestInvalid`, …). */
export interface CwaFailure {
  readonly element: string;
  readonly rid: string | undefined;
  readonly error: ImServerErrorDetail;
}

export interface CommandResponse {
  /** rids of `requestAccepted` elements. */
  readonly accepted: readonly (string | undefined)[];
  /** `initiateImSessionAccepted`: the server's conversation id for a new IM. */
  readonly imAccepted: readonly { readonly rid: string | undefined; readonly confId: string }[];
  /** initiateSession's answer, in either documented shape (bb969634 attributes, bb969607 children). */
  readonly session: { readonly sid: string; readonly pollWaitTimeMs: number | undefined } | undefined;
  readonly failures: readonly CwaFailure[];
  /** Logon answers carry the user's URI and sign-in data. */
  readonly uri: string | undefined;
  readonly signInData: string | undefined;
  /** Element names the connector does not know. */
  readonly unexpected: readonly string[];
}

function descendants(parent: XmlElement, name: string): XmlElement[] {
  const found: XmlElement[] = [];
  for (const child of parent.children) {
    if (child.name === name) found.push(child);
    found.push(...descendants(child, name));
  }
  return found;
}

function errorDetail(failure: XmlElement): ImServerErrorDetail {
  const error = failure.name === 'error' ? failure : childElement(failure, 'error');
  const sipResponse =
    (error && childElement(error, 'sipResponse')) ?? childElement(failure, 'sipResponse') ?? undefined;
  return {
    code: integerOf(error?.attributes.code),
    subCode: integerOf(error?.attributes.subCode),
    reason: error?.attributes.reason ?? childText(failure, 'exception'),
    detail: error?.attributes.detail ?? childText(failure, 'exceptionDetail'),
    sipCode: integerOf(sipResponse?.attributes.code),
  };
}

const FAILURES = new Set(['error', 'requestInvalid', 'requestRejected', 'requestFailed']);

function expectRoot(xml: string, names: readonly string[]): XmlElement {
  const root = parseXml(xml);
  if (!names.includes(root.name)) {
    throw new XmlFormatError(`expected <${names.join('> or <')}>, got <${root.name}>`);
  }
  return root;
}

export function parseCommandResponse(xml: string): CommandResponse {
  const root = expectRoot(xml, ['cwaResponses']);
  const accepted: (string | undefined)[] = [];
  const imAccepted: { rid: string | undefined; confId: string }[] = [];
  const failures: CwaFailure[] = [];
  const unexpected: string[] = [];
  let session: CommandResponse['session'];
  for (const child of root.children) {
    if (FAILURES.has(child.name)) {
      failures.push({ element: child.name, rid: child.attributes.rid, error: errorDetail(child) });
    } else if (child.name === 'requestAccepted') {
      accepted.push(child.attributes.rid);
      const sid = childText(child, 'sid');
      if (sid) session = { sid, pollWaitTimeMs: integerOf(childText(child, 'pollWaitTime')) };
    } else if (child.name === 'initiateSessionAccepted') {
      const sid = child.attributes.sid;
      if (!sid) throw new XmlFormatError('<initiateSessionAccepted> has no sid');
      accepted.push(child.attributes.rid);
      session = { sid, pollWaitTimeMs: integerOf(child.attributes.pollWaitTime) };
    } else if (child.name === 'initiateImSessionAccepted') {
      const confId = child.attributes.confId;
      if (!confId) throw new XmlFormatError('<initiateImSessionAccepted> has no confId');
      imAccepted.push({ rid: child.attributes.rid, confId });
    } else if (!['uri', 'signInData', 'requestSucceeded', 'cwaEvents'].includes(child.name)) {
      unexpected.push(child.name);
    }
  }
  return {
    accepted,
    imAccepted,
    session,
    failures,
    uri: childText(root, 'uri') || undefined,
    signInData: childElement(root, 'signInData')?.text,
    unexpected,
  };
}

export interface EventItem {
  /** The top-level element's eid: duplicates are recognised by it. */
  readonly eid: number;
  readonly events: readonly ImEvent[];
  /**
   * Why the item could not be read (a known element without what it must carry): it comes as one `other` event
   * instead, so that the cursor passes it. CWA sends every event after the AckId again, so refusing the whole
   * answer for it stalled the session's stream for good.
   */
  readonly unreadable?: string;
}

export interface EventsResponse {
  readonly sid: string | undefined;
  readonly ackId: number | undefined;
  readonly pollWaitTimeMs: number | undefined;
  /** Seconds left before the server ends an idle session (bb969533 `sessionTimeout`). */
  readonly sessionTimeoutSeconds: number | undefined;
  readonly items: readonly EventItem[];
  /** Errors returned in place of events (e.g. 18100 for a session the server no longer knows). */
  readonly failures: readonly CwaFailure[];
}

function stateAvailability(parent: XmlElement): number | undefined {
  const states = descendants(parent, 'cwaCategory')
    .filter((category) => category.attributes.name === 'state')
    .flatMap((category) => childElements(category, 'state'));
  // Several state instances may be published; the aggregate is what others see.
  const state = states.find((candidate) => candidate.attributes.type === 'aggregateState') ?? states[0];
  return state === undefined ? undefined : integerOf(childText(state, 'availability'));
}

function messageOf(parent: XmlElement): { text: string | undefined; format: string | undefined } {
  const message = childElement(parent, 'message');
  const content = message ? childElement(message, 'content') : undefined;
  return { text: content?.text, format: message ? childText(message, 'format') || undefined : undefined };
}

function conferenceEvents(eid: number, conference: XmlElement): ImEvent[] {
  const conversationId = conference.attributes.confId;
  if (!conversationId) throw new XmlFormatError('<conference> event has no confId');
  const base = { eventId: eid, conversationId };
  const events: ImEvent[] = [];
  for (const child of conference.children) {
    switch (child.name) {
      case 'imSessionReceived': {
        const inviter = childElement(child, 'inviter');
        const from = inviter?.attributes.uri;
        if (!from) throw new XmlFormatError('<imSessionReceived> has no inviter uri');
        events.push({
          ...base,
          type: 'invitation',
          from,
          fromName: inviter.attributes.name,
          ...messageOf(child),
        });
        break;
      }
      case 'messageReceived': {
        const from = child.attributes.sender;
        if (!from) throw new XmlFormatError('<messageReceived> has no sender');
        const { text, format } = messageOf(child);
        events.push({ ...base, type: 'message', from, text: text ?? '', format });
        break;
      }
      case 'imSessionState':
        events.push({ ...base, type: 'conversationState', state: child.text.trim() });
        break;
      case 'composingState':
        events.push({
          ...base,
          type: 'typing',
          from: child.attributes.uri,
          typing: child.text.trim().toLowerCase() === 'composing',
        });
        break;
      case 'initiateImSessionAccepted':
        events.push({
          eventId: eid,
          conversationId: child.attributes.confId ?? conversationId,
          type: 'conversationStarted',
          requestId: child.attributes.rid,
        });
        break;
      case 'messageSendFailed':
        events.push({ ...base, type: 'messageFailed' });
        break;
      default:
        events.push({ eventId: eid, type: 'other', element: `conference/${child.name}` });
    }
  }
  return events;
}

function eventsOf(eid: number, item: XmlElement): ImEvent[] {
  switch (item.name) {
    case 'conference':
      return conferenceEvents(eid, item);
    case 'userPresence': {
      const events: ImEvent[] = childElements(item, 'user').flatMap((user): ImEvent[] => {
        const uri = user.attributes.uri;
        if (!uri) return [];
        const code = stateAvailability(user);
        if (code === undefined) return [];
        return [
          {
            eventId: eid,
            type: 'presence',
            user: uri,
            availability: availabilityFromCode(code),
            availabilityCode: code,
          },
        ];
      });
      return events.length > 0 ? events : [{ eventId: eid, type: 'other', element: item.name }];
    }
    case 'selfPresence': {
      const code = stateAvailability(item);
      return [
        {
          eventId: eid,
          type: 'selfPresence',
          availability: code === undefined ? undefined : availabilityFromCode(code),
          availabilityCode: code,
        },
      ];
    }
    case 'requestSucceeded':
      return [{ eventId: eid, type: 'commandSucceeded', requestId: item.attributes.rid }];
    case 'requestFailed':
      return [
        { eventId: eid, type: 'commandFailed', requestId: item.attributes.rid, error: errorDetail(item) },
      ];
    default:
      return [{ eventId: eid, type: 'other', element: item.name }];
  }
}

/** A data-channel answer: `<cwaEvents>` alone or inside `<cwaResponses>`, or `<cwaResponses>` with errors. */
export function parseEventsResponse(xml: string): EventsResponse {
  // An idle poll's answer is one empty <cwaEvents …/>: read without the full parser (same tree, a fraction of
  // the CPU); anything else is parsed in full.
  const root = parseLoneElement(xml, 'cwaEvents') ?? expectRoot(xml, ['cwaEvents', 'cwaResponses']);
  const failures: CwaFailure[] = [];
  let events: XmlElement | undefined = root;
  if (root.name === 'cwaResponses') {
    for (const child of root.children) {
      if (FAILURES.has(child.name)) {
        failures.push({ element: child.name, rid: child.attributes.rid, error: errorDetail(child) });
      }
    }
    events = childElement(root, 'cwaEvents');
    if (!events && failures.length === 0)
      throw new XmlFormatError('<cwaResponses> holds neither events nor errors');
  }
  const items: EventItem[] = [];
  for (const item of events?.children ?? []) {
    const eid = integerOf(item.attributes.eid);
    // The eid becomes the stored cursor: it must be a whole number the checkpoint can compare exactly.
    if (eid === undefined || eid < 0)
      throw new XmlFormatError(`event <${item.name}> has no eid between 0 and 2^53−1`);
    try {
      items.push({ eid, events: eventsOf(eid, item) });
    } catch (error) {
      if (!(error instanceof XmlFormatError)) throw error;
      items.push({
        eid,
        events: [{ eventId: eid, type: 'other', element: item.name }],
        unreadable: error.message,
      });
    }
  }
  return {
    sid: events?.attributes.sid,
    ackId: integerOf(events?.attributes.ackId),
    pollWaitTimeMs: integerOf(events?.attributes.pollWaitTime),
    // bb969533 spells the attribute both `sessionTimeout` and `sesionTimeout`.
    sessionTimeoutSeconds: integerOf(events?.attributes.sessionTimeout ?? events?.attributes.sesionTimeout),
    items,
    failures,
  };
}
