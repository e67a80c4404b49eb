// CWA-Ticket issue and rotation: a sign-in opens a ticket family; the current ticket is replaced every
// N authenticated requests or T ms, and the one before it stays valid so that requests already in
// flight with it do not fail. Anything older is refused.

import { randomBytes } from 'node:crypto';
import type { SimUser } from './users';

export interface TicketRotation {
  /** Rotate after this many authenticated requests. @default never */
  readonly everyRequests?: number;
  /** Rotate when the current ticket is this old. @default 10 minutes */
  readonly everyMs?: number;
}

export interface TicketFamily {
  readonly user: SimUser;
  readonly method: 'iwa' | 'forms';
  current: string;
  previous: string | undefined;
  issuedAt: number;
  uses: number;
  rotations: number;
}

function newTicket(): string {
  return randomBytes(24).toString('base64url');
}

export class TicketBook {
  private readonly byTicket = new Map<string, TicketFamily>();

  constructor(
    private readonly rotation: TicketRotation,
    private readonly now: () => number = Date.now,
  ) {}

  issue(user: SimUser, method: 'iwa' | 'forms'): TicketFamily {
    const family: TicketFamily = {
      user,
      method,
      current: newTicket(),
      previous: undefined,
      issuedAt: this.now(),
      uses: 0,
      rotations: 0,
    };
    this.byTicket.set(family.current, family);
    return family;
  }

  /** The family of a ticket that is still accepted (current or the one before), after counting this use. */
  use(ticket: string | undefined): TicketFamily | undefined {
    if (!ticket) return undefined;
    const family = this.byTicket.get(ticket);
    if (!family || (ticket !== family.current && ticket !== family.previous)) return undefined;
    family.uses += 1;
    const { everyRequests, everyMs = 10 * 60_000 } = this.rotation;
    const due =
      (everyRequests !== undefined && family.uses >= everyRequests) ||
      this.now() - family.issuedAt >= everyMs;
    if (due) this.rotate(family);
    return family;
  }

  private rotate(family: TicketFamily): void {
    if (family.previous) this.byTicket.delete(family.previous);
    family.previous = family.current;
    family.current = newTicket();
    family.issuedAt = this.now();
    family.uses = 0;
    family.rotations += 1;
    this.byTicket.set(family.current, family);
  }
}
