// Events the IM server pushes to a signed-in user (read from CWA's data channel), typed so the event pump
// can forward them to the device without knowing the dialect's XML.

import type { Availability } from './presence';

/** Diagnostic detail CWA attaches to a failed request (`<error code subCode reason detail>`). */
export interface ImServerErrorDetail {
  readonly code: number | undefined;
  readonly subCode: number | undefined;
  readonly reason: string | undefined;
  readonly detail: string | undefined;
  /** SIP status from OCS when the failure came from there (e.g. 480 Temporarily Unavailable). */
  readonly sipCode: number | undefined;
}

interface EventBase {
  /** The server's event id (CWA `eid`); the session cursor advances to the highest one delivered. */
  readonly eventId: number;
}

interface ConversationEvent extends EventBase {
  /** The server's id for the IM conversation (CWA `confId`), as a string. */
  readonly conversationId: string;
}

export type ImEvent =
  /** Someone invites the user to an IM conversation (CWA `imSessionReceived`). */
  | (ConversationEvent & {
      readonly type: 'invitation';
      readonly from: string;
      readonly fromName: string | undefined;
      readonly text: string | undefined;
      readonly format: string | undefined;
    })
  /** A message in a conversation (CWA `messageReceived`). */
  | (ConversationEvent & {
      readonly type: 'message';
      readonly from: string;
      readonly text: string;
      readonly format: string | undefined;
    })
  /** The conversation's state changed: connecting, incoming, connected, terminated (CWA `imSessionState`). */
  | (ConversationEvent & { readonly type: 'conversationState'; readonly state: string })
  /** Another participant started or stopped typing (CWA `composingState`). */
  | (ConversationEvent & {
      readonly type: 'typing';
      readonly from: string | undefined;
      readonly typing: boolean;
    })
  /** The server assigned the conversation started by a request (CWA `initiateImSessionAccepted`). */
  | (ConversationEvent & { readonly type: 'conversationStarted'; readonly requestId: string | undefined })
  /** A message could not be delivered (CWA `messageSendFailed`). */
  | (ConversationEvent & { readonly type: 'messageFailed' })
  /** A contact's presence (CWA `userPresence`). */
  | (EventBase & {
      readonly type: 'presence';
      readonly user: string;
      readonly availability: Availability | undefined;
      readonly availabilityCode: number | undefined;
    })
  /** The user's own aggregated presence (CWA `selfPresence`). */
  | (EventBase & {
      readonly type: 'selfPresence';
      readonly availability: Availability | undefined;
      readonly availabilityCode: number | undefined;
    })
  /** A command finished (CWA `requestSucceeded`). */
  | (EventBase & { readonly type: 'commandSucceeded'; readonly requestId: string | undefined })
  /** A command failed after it was accepted (CWA `requestFailed`). */
  | (EventBase & {
      readonly type: 'commandFailed';
      readonly requestId: string | undefined;
      readonly error: ImServerErrorDetail;
    })
  /** Anything else the server sends (contact groups, configuration, …), kept so nothing vanishes silently. */
  | (EventBase & { readonly type: 'other'; readonly element: string });

export type ImEventType = ImEvent['type'];
