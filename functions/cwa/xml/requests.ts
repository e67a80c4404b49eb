// Builders for the CWA 2007 AJAX requests the connector sends (Microsoft's UC AJAX SDK reference,
// bb969609 logon … bb969598 terminateSession). Each returns the XML body of one HTTP request.

import { buildXml, element, type XmlNode } from './tree';

export const CWA_NAMESPACE = 'http://schemas.microsoft.com/2006/09/rtc/cwa';
const XSI_NAMESPACE = 'http://www.w3.org/2001/XMLSchema-instance';
const STATE_NAMESPACE = 'http://schemas.microsoft.com/2006/09/sip/state';

/** The format CWA clients send with plain text (bb969495). */
export const PLAIN_TEXT_FORMAT = 'X-MMS-IM-Format: FN=Segoe UI; EF=; CO=000000; CS=1; PF=00';

/** instanceMask values of the `state` category: the user's chosen state vs. the machine's (bb969515). */
export const STATE_INSTANCE = { userState: 536870912, machineState: 805306368 } as const;

/**
 * The sign-in request (bb969609, bb969612): the only request without the namespace and without a rid.
 * For IWA the credentials travel in the NTLM handshake, so user and password are left out.
 */
export function buildLogonRequest(input: { user?: string; password?: string; uri?: string }): string {
  return buildXml(
    element(
      'cwaRequests',
      {},
      element(
        'logon',
        {},
        input.user === undefined ? undefined : element('user', {}, input.user),
        input.password === undefined ? undefined : element('password', {}, input.password),
        input.uri === undefined ? undefined : element('uri', {}, input.uri),
      ),
    ),
  );
}

function requests(sid: string | undefined, ...items: XmlNode[]): string {
  return buildXml(element('cwaRequests', { xmlns: CWA_NAMESPACE, sid }, ...items));
}

/** bb969467: creates the session; `sid` comes back in the synchronous response. */
export function buildInitiateSessionRequest(input: {
  rid: string;
  availability: number;
  signInData?: string;
}): string {
  return requests(
    undefined,
    element(
      'initiateSession',
      { rid: input.rid },
      // "private": the session runs on a trusted machine (our service), not a public kiosk.
      element('securityMode', {}, 'private'),
      element('userStateAvailability', {}, String(input.availability)),
      input.signInData === undefined ? undefined : element('signInData', {}, input.signInData),
    ),
  );
}

function message(text: string, format: string): XmlNode {
  return element('message', {}, element('format', {}, format), element('content', {}, text));
}

/** bb969654: a new conversation; confId 0 asks the server to assign one. */
export function buildInitiateImRequest(input: {
  sid: string;
  rid: string;
  to: readonly string[];
  text: string;
  format?: string;
}): string {
  return requests(
    input.sid,
    element(
      'conference',
      { rid: input.rid, confId: '0' },
      element(
        'initiateImSession',
        {},
        element('uris', {}, ...input.to.map((uri) => element('uri', {}, uri))),
        message(input.text, input.format ?? PLAIN_TEXT_FORMAT),
      ),
    ),
  );
}

function conference(sid: string, rid: string, confId: string, request: XmlNode): string {
  return requests(sid, element('conference', { rid, confId }, request));
}

/** bb969495 */
export function buildSendMessageRequest(input: {
  sid: string;
  rid: string;
  confId: string;
  text: string;
  format?: string;
}): string {
  return conference(
    input.sid,
    input.rid,
    input.confId,
    element(
      'sendMessage',
      {},
      element('format', {}, input.format ?? PLAIN_TEXT_FORMAT),
      element('content', {}, input.text),
    ),
  );
}

/** bb969511 */
export function buildAcceptImRequest(input: { sid: string; rid: string; confId: string }): string {
  return conference(input.sid, input.rid, input.confId, element('acceptImSession'));
}

/** bb969479: CWA's typing notification. */
export function buildNotifyComposingRequest(input: {
  sid: string;
  rid: string;
  confId: string;
  composing: boolean;
}): string {
  return conference(
    input.sid,
    input.rid,
    input.confId,
    element('notifyComposing', {}, input.composing ? 'composing' : 'idle'),
  );
}

/** Leaves the conversation (conference request element, bb969572). */
export function buildTerminateImRequest(input: { sid: string; rid: string; confId: string }): string {
  return conference(input.sid, input.rid, input.confId, element('terminateImSession'));
}

/** bb969515: publishes the `state` category, user-chosen (manual) or machine state. */
export function buildPublishPresenceRequest(input: {
  sid: string;
  rid: string;
  availability: number;
  manual: boolean;
}): string {
  const type = input.manual ? 'userState' : 'machineState';
  return requests(
    input.sid,
    element(
      'publishSelfPresence',
      { rid: input.rid },
      element(
        'cwaCategory',
        { name: 'state', instanceMask: STATE_INSTANCE[type] },
        element(
          'state',
          {
            xmlns: STATE_NAMESPACE,
            'xmlns:xsi': XSI_NAMESPACE,
            'xsi:type': type,
            manual: String(input.manual),
          },
          element('availability', {}, String(input.availability)),
        ),
      ),
    ),
  );
}

/** bb969598: ends the session; the ticket stays valid. */
export function buildTerminateSessionRequest(input: { sid: string; rid: string }): string {
  return requests(input.sid, element('terminateSession', { rid: input.rid }));
}
