// Helpers for tests and benches that chat: a CWA user who is not a device (straight to the simulator), and
// a device-side event reader that drops repeats the way the device protocol says (by eventId and part)
// and tells an allowed repeat from an event that came out of order.

import type { DeviceClient, Incoming } from '../../device/client';
import { type CwaConnector, createCwaConnector, resolveCwaConfig } from '../../functions/cwa';
import type { ImSession } from '../../functions/im-server';
import type { LocalStack } from '../../local/stack';

export interface CwaUser {
  readonly connector: CwaConnector;
  readonly session: ImSession;
}

/** Signs `user` in to the stack's CWA simulator directly, as a desktop Communicator would. */
export async function cwaUser(stack: LocalStack, user: string, password: string): Promise<CwaUser> {
  const connector = createCwaConnector(
    resolveCwaConfig({ baseUrl: stack.cwa.url, ...(stack.cwa.caPem ? { caBundle: stack.cwa.caPem } : {}) }),
  );
  const session = await connector.startSession(await connector.signIn({ user, password }));
  return { connector, session };
}

export interface ReceivedEvent {
  readonly eventId: number;
  readonly part: number;
  readonly event: { readonly type: string; readonly [field: string]: unknown };
  readonly at: number;
}

/**
 * Collects a device's `event` messages, dropping any (eventId, part) at or below the last one seen, as the
 * device protocol says (docs/device-protocol.md, "Events": in order and at least once). A dropped event is a
 * repeat the protocol allows only if that very event was kept before, unchanged; anything else dropped was
 * never seen (it came out of order, so an event was skipped) and is listed in `violations`.
 */
export class EventInbox {
  readonly events: ReceivedEvent[] = [];
  /** Repeats dropped: events delivered again after a failure (at-least-once delivery). */
  duplicates = 0;
  /** Dropped events that were not repeats of a kept one: out of order, or a pair reused for another event. */
  readonly violations: string[] = [];
  private last = { eventId: -1, part: -1 };
  private readonly kept = new Map<string, string>();

  constructor(client: DeviceClient, onOther?: (incoming: Incoming) => void) {
    client.onIncoming((incoming) => {
      if (incoming.kind !== 'message' || incoming.message.type !== 'event') {
        onOther?.(incoming);
        return;
      }
      const { eventId, part, event } = incoming.message as unknown as Omit<ReceivedEvent, 'at'>;
      const pair = `${eventId}/${part}`;
      const content = JSON.stringify(event);
      if (eventId < this.last.eventId || (eventId === this.last.eventId && part <= this.last.part)) {
        this.duplicates += 1;
        const original = this.kept.get(pair);
        if (original === undefined) this.violations.push(`${pair} arrived after a later event`);
        else if (original !== content) this.violations.push(`${pair} came again with other content`);
        return;
      }
      this.last = { eventId, part };
      this.kept.set(pair, content);
      this.events.push({ eventId, part, event, at: Date.now() });
    });
  }

  messages(): string[] {
    return this.events.filter((e) => e.event.type === 'message').map((e) => String(e.event.text));
  }

  /** Waits until `predicate` holds; `timeoutMs` is a liveness bound, generous for a loaded machine. */
  async waitFor(predicate: (inbox: EventInbox) => boolean, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this)) {
      if (Date.now() > deadline)
        throw new Error(`inbox: condition not reached (${this.events.length} events)`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}
