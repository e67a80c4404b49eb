// The XML the simulator answers with, shaped after Microsoft's examples for CWA 2007: cwaResponses on
// the sign-in and command channels (bb969562), cwaEvents on the data channel (bb969533) and the events
// inside it. Built with the same XML library as the connector, but independently of its parsers.

import { buildXml, element, type XmlNode } from '../functions/cwa/xml/tree';

const STATE_NAMESPACE = 'http://schemas.microsoft.com/2006/09/sip/state';
const XSI_NAMESPACE = 'http://www.w3.org/2001/XMLSchema-instance';

export const ERROR_TEXT: Readonly<Record<number, string>> = {
  18000: 'Invalid Format',
  18001: 'Invalid Request',
  18100: 'Session Not Found',
  18101: 'Request Throttled',
  18102: 'Invalid Operation',
  18201: 'OCS Failure Response',
  18400: 'Internal Failure',
};

export function errorElement(code: number | undefined, detail: string, sipCode?: number): XmlNode {
  return element(
    'error',
    { code, reason: code === undefined ? 'Logon failed' : ERROR_TEXT[code], detail },
    sipCode === undefined ? undefined : element('sipResponse', { code: sipCode, warning: 0 }),
  );
}

export function cwaResponses(items: readonly XmlNode[], processed = items.length, unexpected = 0): string {
  return buildXml(
    element('cwaResponses', { requestProcessed: processed, unexpectedElement: unexpected }, ...items),
  );
}

export function errorResponse(code: number | undefined, detail: string): string {
  return cwaResponses([errorElement(code, detail)], 0);
}

export function logonAnswer(uri: string, signInData: string): string {
  return cwaResponses([element('uri', {}, uri), element('signInData', {}, signInData)], 1);
}

function stateCategory(availability: number, type: 'aggregateState', version: number): XmlNode {
  return element(
    'cwaCategory',
    { name: 'state', instance: 0, version, publishTime: new Date().toISOString() },
    element(
      'state',
      { 'xsi:type': type, xmlns: STATE_NAMESPACE, 'xmlns:xsi': XSI_NAMESPACE },
      element('availability', {}, String(availability)),
    ),
  );
}

/** Event bodies; the session assigns the eid when it queues one. */
export const events = {
  selfPresence: (availability: number, version: number): XmlNode =>
    element('selfPresence', {}, stateCategory(availability, 'aggregateState', version)),
  userPresence: (uri: string, availability: number, version: number): XmlNode =>
    element(
      'userPresence',
      {},
      element(
        'user',
        { uri, sourceNetwork: 'sameEnterprise' },
        stateCategory(availability, 'aggregateState', version),
      ),
    ),
  conference: (confId: number, child: XmlNode): XmlNode => element('conference', { confId }, child),
  imSessionReceived: (inviter: { uri: string; name: string }, message: { format: string; content: string }) =>
    element(
      'imSessionReceived',
      {},
      element('inviter', { uri: inviter.uri, name: inviter.name, sourceNetwork: 'sameEnterprise' }),
      element('role', {}, 'attendee'),
      element('escalationMode', {}, 'invitingPeer'),
      element('subject'),
      element('message', {}, element('format', {}, message.format), element('content', {}, message.content)),
    ),
  imSessionState: (state: 'connecting' | 'incoming' | 'connected' | 'terminated') =>
    element('imSessionState', {}, state),
  messageReceived: (sender: string, message: { format: string; content: string }) =>
    element(
      'messageReceived',
      { sender },
      element('message', {}, element('format', {}, message.format), element('content', {}, message.content)),
    ),
  // CWA documents no sender on composingState; the simulator adds `uri` so a client can tell who types.
  composingState: (uri: string, composing: boolean) =>
    element('composingState', { uri }, composing ? 'composing' : 'idle'),
  requestFailed: (rid: string | undefined, code: number, detail: string, sipCode?: number): XmlNode =>
    element('requestFailed', { rid }, errorElement(code, detail, sipCode)),
};

/** Gives a queued event its eid (CWA numbers events per session). */
export function withEid(node: XmlNode, eid: number): XmlNode {
  return { ...node, attributes: { eid, ...node.attributes } };
}

export function cwaEvents(input: {
  sid: number;
  ackId: number;
  pollWaitTimeMs: number;
  sessionTimeoutSeconds: number;
  items: readonly XmlNode[];
}): string {
  return buildXml(
    element(
      'cwaEvents',
      {
        sid: input.sid,
        ackId: input.ackId,
        pollWaitTime: input.pollWaitTimeMs,
        sessionTimeout: input.sessionTimeoutSeconds,
      },
      ...input.items,
    ),
  );
}

/** A well-formed answer cut in half: what the malformed-XML fault sends. */
export function truncated(xml: string): string {
  return xml.slice(0, Math.max(1, Math.floor(xml.length / 2)));
}
