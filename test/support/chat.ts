// Helpers for tests and benches that chat: a CWA user who is not a device (straight to the simulator), and
// a device-side event reader that drops repeats the way the device protocol says (by eventId and part).

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

/** Collects a device's `event` messages, dropping any (eventId, part) at or below the last one seen. */
export class EventInbox {
  readonly events: ReceivedEvent[] = [];
  duplicates = 0;
  private last = { eventId: -1, part: -1 };

  constructor(client: DeviceClient, onOther?: (incoming: Incoming) => void) {
    client.onIncoming((incoming) => {
      if (incoming.kind !== 'message' || incoming.message.type !== 'event') {
        onOther?.(incoming);
        return;
      }
      const { eventId, part, event } = incoming.message as unknown as Omit<ReceivedEvent, 'at'>;
      if (eventId < this.last.eventId || (eventId === this.last.eventId && part <= this.last.part)) {
        this.duplicates += 1;
        return;
      }
      this.last = { eventId, part };
      this.events.push({ eventId, part, event, at: Date.now() });
    });
  }

  messages(): string[] {
    return this.events.filter((e) => e.event.type === 'message').map((e) => String(e.event.text));
  }

  async waitFor(predicate: (inbox: EventInbox) => boolean, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this)) {
      if (Date.now() > deadline)
        throw new Error(`inbox: condition not reached (${this.events.length} events)`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}
