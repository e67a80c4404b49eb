// CWA XML builders and parsers checked against the examples in Microsoft's UC AJAX SDK 2007 reference
// (learn.microsoft.com …/communication-server-2007/bbNNNNNN): requests must have the documented shape,
// and the documented answers must parse into the right typed values.

import { describe, expect, it } from 'vitest';
import {
  buildAcceptImRequest,
  buildInitiateImRequest,
  buildInitiateSessionRequest,
  buildLogonRequest,
  buildNotifyComposingRequest,
  buildPublishPresenceRequest,
  buildSendMessageRequest,
  buildTerminateImRequest,
  buildTerminateSessionRequest,
  CWA_NAMESPACE,
} from '../../functions/cwa/xml/requests';
import { parseCommandResponse, parseEventsResponse } from '../../functions/cwa/xml/responses';
import { childElement, parseXml, type XmlElement, XmlFormatError } from '../../functions/cwa/xml/tree';

/** Name, attributes, trimmed text and children: what two documents must share to be "the same". */
function shape(element: XmlElement): unknown {
  return {
    name: element.name,
    attributes: element.attributes,
    text: element.text.trim(),
    children: element.children.map(shape),
  };
}

const onlyRequest = (xml: string): XmlElement => {
  const root = parseXml(xml);
  expect(root.name).toBe('cwaRequests');
  expect(root.children).toHaveLength(1);
  return root.children[0] as XmlElement;
};

describe('request builders', () => {
  it('builds logon as bb969612 shows: no namespace, no rid, user/password/uri', () => {
    const xml = buildLogonRequest({
      user: 'CONTOSO\\jaya',
      password: 'p@ss<&>"',
      uri: 'sip:jaya@contoso.com',
    });
    expect(xml).not.toContain('xmlns');
    expect(xml).not.toContain('rid=');
    expect(shape(parseXml(xml))).toEqual(
      shape(
        parseXml(
          `<cwaRequests><logon><user>CONTOSO\\jaya</user><password>p@ss&lt;&amp;&gt;"</password>
           <uri>sip:jaya@contoso.com</uri></logon></cwaRequests>`,
        ),
      ),
    );
  });

  it('leaves user and password out of an IWA logon (the credentials travel in NTLM)', () => {
    expect(shape(parseXml(buildLogonRequest({})))).toEqual(
      shape(parseXml('<cwaRequests><logon/></cwaRequests>')),
    );
  });

  it('puts the CWA namespace and the sid on later requests (bb969612, bb969623)', () => {
    const xml = buildTerminateSessionRequest({ sid: '330', rid: '7' });
    expect(xml).toContain(`xmlns="${CWA_NAMESPACE}"`);
    expect(parseXml(xml).attributes).toEqual({ sid: '330' });
    expect(shape(onlyRequest(xml))).toEqual(shape(parseXml('<terminateSession rid="7"/>')));
  });

  it('builds initiateSession with securityMode and userStateAvailability (bb969467)', () => {
    const xml = buildInitiateSessionRequest({ rid: '1', availability: 3500 });
    expect(parseXml(xml).attributes.sid).toBeUndefined();
    expect(shape(onlyRequest(xml))).toEqual(
      shape(
        parseXml(
          `<initiateSession rid="1"><securityMode>private</securityMode>
           <userStateAvailability>3500</userStateAvailability></initiateSession>`,
        ),
      ),
    );
  });

  it('builds initiateImSession as bb969654, with confId 0 for a new conference (bb969572)', () => {
    const xml = buildInitiateImRequest({
      sid: '52',
      rid: '2',
      to: ['sip:jessicaa@contoso.com'],
      text: 'Hey,.can we talk?',
      format: 'X-MMS-IM-Format:FN=Arial;EF=;CO=000000;CS=1;PF=00',
    });
    expect(shape(onlyRequest(xml))).toEqual(
      shape(
        parseXml(
          `<conference rid="2" confId="0"><initiateImSession><uris><uri>sip:jessicaa@contoso.com</uri></uris>
           <message><format>X-MMS-IM-Format:FN=Arial;EF=;CO=000000;CS=1;PF=00</format>
           <content>Hey,.can we talk?</content></message></initiateImSession></conference>`,
        ),
      ),
    );
  });

  it('builds sendMessage as bb969495 and keeps the content exactly, escaped', () => {
    const format = 'X-MMS-IM-Format: FN=Arial; EF=; CO=000000; CS=1; PF=00';
    const xml = buildSendMessageRequest({
      sid: '52',
      rid: '2',
      confId: '1',
      text: 'The meeting is at 1pm.',
      format,
    });
    expect(shape(onlyRequest(xml))).toEqual(
      shape(
        parseXml(
          `<conference confId="1" rid="2"><sendMessage><format> ${format}</format>
           <content>The meeting is at 1pm.</content></sendMessage></conference>`,
        ),
      ),
    );
    const tricky = '  <b>bold</b> & "quotes" ]]> \u00e9\u{1F600} ';
    const sent = onlyRequest(buildSendMessageRequest({ sid: '1', rid: '1', confId: '1', text: tricky }));
    const content = childElement(childElement(sent, 'sendMessage') as XmlElement, 'content');
    expect(content?.text).toBe(tricky);
  });

  it('builds acceptImSession (bb969511), notifyComposing (bb969479) and terminateImSession', () => {
    expect(shape(onlyRequest(buildAcceptImRequest({ sid: '1', rid: '4', confId: '3' })))).toEqual(
      shape(parseXml('<conference rid="4" confId="3"><acceptImSession/></conference>')),
    );
    expect(
      shape(onlyRequest(buildNotifyComposingRequest({ sid: '1', rid: '13', confId: '1', composing: true }))),
    ).toEqual(
      shape(
        parseXml('<conference rid="13" confId="1"><notifyComposing>composing</notifyComposing></conference>'),
      ),
    );
    const idle = onlyRequest(
      buildNotifyComposingRequest({ sid: '1', rid: '14', confId: '1', composing: false }),
    );
    expect(childElement(idle, 'notifyComposing')?.text).toBe('idle');
    expect(shape(onlyRequest(buildTerminateImRequest({ sid: '1', rid: '5', confId: '3' })))).toEqual(
      shape(parseXml('<conference rid="5" confId="3"><terminateImSession/></conference>')),
    );
  });

  it('builds publishSelfPresence exactly like the machine-state example of bb969515', () => {
    const xml = buildPublishPresenceRequest({ sid: '1', rid: '6', availability: 5000, manual: false });
    expect(shape(onlyRequest(xml))).toEqual(
      shape(
        parseXml(
          `<publishSelfPresence rid="6"><cwaCategory name="state" instanceMask="805306368">
             <state xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="machineState" manual="false">
               <availability>5000</availability></state></cwaCategory></publishSelfPresence>`,
        ),
      ),
    );
    const manual = onlyRequest(
      buildPublishPresenceRequest({ sid: '1', rid: '7', availability: 6500, manual: true }),
    );
    const state = childElement(childElement(manual, 'cwaCategory') as XmlElement, 'state');
    expect(state?.attributes).toMatchObject({ type: 'userState', manual: 'true' });
    expect(childElement(manual, 'cwaCategory')?.attributes.instanceMask).toBe('536870912');
  });
});

describe('command-channel answers', () => {
  it('reads initiateSession in the requestAccepted shape of bb969607', () => {
    const answer = parseCommandResponse(
      `<cwaResponses requestProcessed="0"><requestAccepted rid="1"><sid>52</sid>
       <uri>sip:jaya@contoso.com.com</uri><pollWaitTime>3000</pollWaitTime></requestAccepted></cwaResponses>`,
    );
    expect(answer.session).toEqual({ sid: '52', pollWaitTimeMs: 3000 });
    expect(answer.accepted).toEqual(['1']);
    expect(answer.failures).toEqual([]);
  });

  it('reads initiateSession in the attribute shape of bb969634', () => {
    const answer = parseCommandResponse(
      '<cwaResponses><initiateSessionAccepted rid="25" sid="330" pollWaitTime="3000"/></cwaResponses>',
    );
    expect(answer.session).toEqual({ sid: '330', pollWaitTimeMs: 3000 });
  });

  it('reads initiateImSessionAccepted (bb969493)', () => {
    const answer = parseCommandResponse(
      '<cwaResponses requestProcessed="1" unexpectedElement="0"><initiateImSessionAccepted rid="27" confId="1" /></cwaResponses>',
    );
    expect(answer.imAccepted).toEqual([{ rid: '27', confId: '1' }]);
  });

  it('reads a logon answer: uri and signInData (bb969562)', () => {
    const answer = parseCommandResponse(
      '<cwaResponses><uri>sip:jaya@contoso.com</uri><signInData>opaque data</signInData></cwaResponses>',
    );
    expect(answer).toMatchObject({ uri: 'sip:jaya@contoso.com', signInData: 'opaque data' });
  });

  it('collects error, requestInvalid and requestRejected with their codes', () => {
    const answer = parseCommandResponse(
      `<cwaResponses requestProcessed="0" unexpectedElement="1">
         <error code="18100" reason="Session Not Found" detail="gone"/>
         <requestInvalid rid="3"><error code="18001" subCode="4"/></requestInvalid>
         <requestRejected rid="4"><error code="18101"/></requestRejected>
         <somethingNew/></cwaResponses>`,
    );
    expect(answer.failures.map((failure) => [failure.element, failure.rid, failure.error.code])).toEqual([
      ['error', undefined, 18100],
      ['requestInvalid', '3', 18001],
      ['requestRejected', '4', 18101],
    ]);
    expect(answer.failures[0]?.error).toMatchObject({ reason: 'Session Not Found', detail: 'gone' });
    expect(answer.failures[1]?.error.subCode).toBe(4);
    expect(answer.unexpected).toEqual(['somethingNew']);
  });

  it('refuses what is not a cwaResponses document', () => {
    expect(() => parseCommandResponse('<cwaResponses><requestAccepted rid="1"></cwaResponses>')).toThrow(
      XmlFormatError,
    );
    expect(() => parseCommandResponse('<html><body>Server Error</body></html>')).toThrow(
      /expected <cwaResponses>/,
    );
    expect(() => parseCommandResponse('')).toThrow(XmlFormatError);
    expect(() =>
      parseCommandResponse('<cwaResponses><initiateImSessionAccepted rid="1"/></cwaResponses>'),
    ).toThrow(/no confId/);
  });
});

const events = (inner: string, attributes = 'sid="2" ackId="12" pollWaitTime="1000" sessionTimeout="594"') =>
  parseEventsResponse(`<cwaEvents ${attributes}>${inner}</cwaEvents>`);

describe('data-channel events', () => {
  it('reads cwaEvents inside cwaResponses as in bb969556', () => {
    const answer = parseEventsResponse(
      `<cwaResponses requestProcessed="1" unexpectedElement="0">
         <cwaEvents pollWaitTime="1000" sessionTimeout="594" ackId="12" sid="2">
           <conference eid="12" confId="1"><initiateImSessionAccepted rid="2" confId="1" /></conference>
         </cwaEvents></cwaResponses>`,
    );
    expect(answer).toMatchObject({ sid: '2', ackId: 12, pollWaitTimeMs: 1000, sessionTimeoutSeconds: 594 });
    expect(answer.items).toEqual([
      {
        eid: 12,
        events: [{ eventId: 12, type: 'conversationStarted', conversationId: '1', requestId: '2' }],
      },
    ]);
  });

  it('reads an invitation as bb969471 shows it', () => {
    const answer = events(
      `<conference eid="5" confId="3"><imSessionReceived>
         <inviter uri="sip:sallyG@contoso.com" name="Sally" sourceNetwork="sameEnterprise" />
         <role>attendee</role><escalationMode>invitingPeer</escalationMode><subject />
         <message><format>X-MMS-IM-Format: FN=Arial; EF=; CO=000000; CS=1; PF=00
         </format><content>hi</content></message></imSessionReceived></conference>`,
    );
    expect(answer.items[0]?.events).toEqual([
      {
        eventId: 5,
        type: 'invitation',
        conversationId: '3',
        from: 'sip:sallyG@contoso.com',
        fromName: 'Sally',
        text: 'hi',
        format: 'X-MMS-IM-Format: FN=Arial; EF=; CO=000000; CS=1; PF=00',
      },
    ]);
  });

  it('reads messageReceived (bb969640), keeping the content as sent', () => {
    const answer = events(
      `<conference eid="6" confId="3"><messageReceived sender="sip:ManuelO@contoso.com"><message>
         <format>X-MMS-IM-Format: FN=Arial; EF=; CO=000000; CS=1; PF=00</format>
         <content>  The new Microsoft MPI player is out! &amp; &#233;</content></message></messageReceived></conference>`,
    );
    expect(answer.items[0]?.events[0]).toMatchObject({
      type: 'message',
      from: 'sip:ManuelO@contoso.com',
      text: '  The new Microsoft MPI player is out! & é',
    });
  });

  it('reads imSessionState (bb969584) and composingState (bb969484)', () => {
    const answer = events(
      `<conference eid="36" confId="1"><imSessionState>terminated</imSessionState></conference>
       <conference eid="37" confId="1"><composingState uri="sip:a@contoso.com">composing</composingState></conference>
       <conference eid="38" confId="1"><composingState>idle</composingState></conference>`,
    );
    expect(answer.items.flatMap((item) => item.events)).toEqual([
      { eventId: 36, conversationId: '1', type: 'conversationState', state: 'terminated' },
      { eventId: 37, conversationId: '1', type: 'typing', from: 'sip:a@contoso.com', typing: true },
      { eventId: 38, conversationId: '1', type: 'typing', from: undefined, typing: false },
    ]);
  });

  it('keeps conference elements it does not model as "other" (messageIdReceived, bb969586)', () => {
    const answer = events(
      '<conference eid="158" confId="1"><messageIdReceived rid="68" messageId="2-mcu" /></conference>',
      'pollWaitTime="1000" ackId="160" sid="964"',
    );
    expect(answer.items[0]?.events).toEqual([
      { eventId: 158, type: 'other', element: 'conference/messageIdReceived' },
    ]);
    expect(answer.sessionTimeoutSeconds).toBeUndefined();
  });

  it('reads requestFailed in both documented shapes (bb969635, bb969595)', () => {
    const answer = events(
      `<requestFailed eid="19" rid="3"><exception>Microsoft...FailureResponse Text...</exception >
         <exceptionDetail>The requested operation failed.</exceptionDetail><sipResponse code="480" warning="0" />
       </requestFailed>
       <requestFailed eid="102" rid="6"><error code="18201" reason="Operation failed" detail="The requested operation failed.">
         <sipResponse code="485" reason="Duplicate group name"><ms-diagnostics>errorId="2";reason="Unknown Failure"</ms-diagnostics>
         </sipResponse><stackTrace> ... </stackTrace></error></requestFailed>`,
    );
    expect(answer.items.flatMap((item) => item.events)).toEqual([
      {
        eventId: 19,
        type: 'commandFailed',
        requestId: '3',
        error: {
          code: undefined,
          subCode: undefined,
          reason: 'Microsoft...FailureResponse Text...',
          detail: 'The requested operation failed.',
          sipCode: 480,
        },
      },
      {
        eventId: 102,
        type: 'commandFailed',
        requestId: '6',
        error: {
          code: 18201,
          subCode: undefined,
          reason: 'Operation failed',
          detail: 'The requested operation failed.',
          sipCode: 485,
        },
      },
    ]);
  });

  it('reads presence from the aggregate state (userPresence and selfPresence)', () => {
    const state = (type: string, value: number) =>
      `<cwaCategory name="state" instance="1" version="0"><state xsi:type="${type}"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://schemas.microsoft.com/2006/09/sip/state">
         <availability>${value}</availability></state></cwaCategory>`;
    const answer = events(
      `<userPresence eid="11">
         <user uri="sip:kasturi@contoso.com" sourceNetwork="sameEnterprise"><cwaCategory name="note" />${state('aggregateState', 3500)}</user>
         <user uri="sip:peter@contoso.com" sourceNetwork="sameEnterprise">${state('aggregateState', 18000)}</user>
         <user uri="sip:nostate@contoso.com"><cwaCategory name="contactCard" /></user>
       </userPresence>
       <selfPresence eid="12">${state('machineState', 3500)}${state('aggregateState', 6500)}</selfPresence>
       <contactGroup eid="13"/>`,
    );
    expect(answer.items.flatMap((item) => item.events)).toEqual([
      {
        eventId: 11,
        type: 'presence',
        user: 'sip:kasturi@contoso.com',
        availability: 'online',
        availabilityCode: 3500,
      },
      {
        eventId: 11,
        type: 'presence',
        user: 'sip:peter@contoso.com',
        availability: 'offline',
        availabilityCode: 18000,
      },
      { eventId: 12, type: 'selfPresence', availability: 'busy', availabilityCode: 6500 },
      { eventId: 13, type: 'other', element: 'contactGroup' },
    ]);
  });

  it('reads requestSucceeded, an empty answer, and errors in place of events', () => {
    expect(events('<requestSucceeded eid="4" rid="9"/>').items[0]?.events).toEqual([
      { eventId: 4, type: 'commandSucceeded', requestId: '9' },
    ]);
    expect(events('').items).toEqual([]);
    const failed = parseEventsResponse(
      '<cwaResponses><error code="18100" reason="Session Not Found"/></cwaResponses>',
    );
    expect(failed.failures[0]?.error.code).toBe(18100);
    expect(failed.items).toEqual([]);
  });

  it('passes an event it cannot read on as "other", with the reason, so the events after it still come', () => {
    // Refusing the whole answer stalled the session for good: CWA sends it again after the same AckId.
    const answer = events(
      `<conference eid="5" confId="1"><imSessionState>connected</imSessionState></conference>
       <conference eid="6" confId="1"><messageReceived><message><content>?</content></message></messageReceived></conference>
       <conference eid="7"><imSessionState>disconnected</imSessionState></conference>
       <conference eid="8" confId="1"><messageReceived sender="sip:bob@contoso.com"><message><content>hi</content></message></messageReceived></conference>`,
    );
    expect(
      answer.items.map((item) => [item.eid, item.events.map((event) => event.type), item.unreadable]),
    ).toEqual([
      [5, ['conversationState'], undefined],
      [6, ['other'], '<messageReceived> has no sender'],
      [7, ['other'], '<conference> event has no confId'],
      [8, ['message'], undefined],
    ]);
    expect(answer.items[1]?.events).toEqual([{ eventId: 6, type: 'other', element: 'conference' }]);
  });

  it('refuses events without an eid, truncated XML and foreign documents', () => {
    expect(() =>
      events('<conference confId="1"><imSessionState>connected</imSessionState></conference>'),
    ).toThrow(/no eid between 0 and 2\^53−1/);
    expect(() => parseEventsResponse('<cwaEvents sid="1" ackId="2"><conference eid="3" confId')).toThrow(
      XmlFormatError,
    );
    expect(() => parseEventsResponse('<cwaResponses/>')).toThrow(/neither events nor errors/);
    expect(() => parseEventsResponse('<feed/>')).toThrow(/expected <cwaEvents> or <cwaResponses>/);
  });
});
