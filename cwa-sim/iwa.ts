// The IWA site's NTLM check (RFC 4559 over MS-NLMP): a NEGOTIATE gets a CHALLENGE bound to the TCP
// connection it arrived on; the AUTHENTICATE must come on that same connection and carry an NTLMv2
// response computed from the stored password. By default both `NTLM` (curl --ntlm) and `Negotiate` with a
// raw NTLMSSP token are accepted; modes narrow the offer (NTLM only, Negotiate only) or make Negotiate take
// Kerberos only, as an IIS site whose Negotiate provider is Kerberos-only does: it answers an NTLMSSP
// token under Negotiate with a bare 401 offering its schemes again.

import type { Socket } from 'node:net';
import {
  createChallengeMessage,
  NtlmMessageError,
  type NtlmScheme,
  parseAuthenticateMessage,
  parseAuthorizationHeader,
  parseNegotiateMessage,
  verifyNtlmV2Response,
} from '../functions/cwa/ntlm';
import type { SimUser, UserDirectory } from './users';

export type IwaStep =
  /** No token, or one under a scheme that cannot take it: offer the schemes (`why` for the log). */
  | { readonly kind: 'offer'; readonly why?: string }
  /** Answer 401 with this `WWW-Authenticate` value (scheme + CHALLENGE). */
  | { readonly kind: 'challenge'; readonly header: string }
  | { readonly kind: 'authenticated'; readonly user: SimUser }
  /** 401 again; `why` is for the log, naming the account but never the password. */
  | { readonly kind: 'rejected'; readonly why: string };

export const IWA_OFFERS: readonly NtlmScheme[] = ['Negotiate', 'NTLM'];

export interface IwaModes {
  /** Schemes the site offers, in this order. @default Negotiate, NTLM */
  readonly offers?: readonly NtlmScheme[];
  /** Negotiate takes Kerberos only: an NTLMSSP token under Negotiate gets no challenge. @default false */
  readonly kerberosOnlyNegotiate?: boolean;
  /**
   * A server that keeps a connection authenticated and reads no new token on it: a NEGOTIATE on a connection
   * that signed a user in is answered as that user (a client must not take that answer for another user).
   * @default false
   */
  readonly keepsConnectionAuthenticated?: boolean;
  /** Sees each CHALLENGE sent and the AUTHENTICATE that answered it (tests check them against an oracle). */
  readonly trace?: (messages: { readonly challenge: Buffer; readonly authenticate: Buffer }) => void;
}

const MESSAGE_TYPE_OFFSET = 8;
const NTLM_SIGNATURE = 'NTLMSSP\0';
const CLOCK_SKEW_MS = 5 * 60_000;

interface PendingChallenge {
  readonly challenge: Buffer;
  readonly serverChallenge: Buffer;
  readonly scheme: NtlmScheme;
}

export class IwaAuthenticator {
  // Keyed by the connection: a challenge is only good on the socket it was issued on.
  private readonly pending = new WeakMap<Socket, PendingChallenge>();
  /** With keepsConnectionAuthenticated: the user each connection last signed in. */
  private readonly signedIn = new WeakMap<Socket, SimUser>();

  readonly offers: readonly NtlmScheme[];
  private readonly kerberosOnlyNegotiate: boolean;
  private readonly keepsConnectionAuthenticated: boolean;
  private readonly trace: IwaModes['trace'];

  constructor(
    private readonly directory: UserDirectory,
    private readonly domain: { netbios: string; dns: string },
    modes: IwaModes = {},
  ) {
    this.offers = modes.offers ?? IWA_OFFERS;
    this.kerberosOnlyNegotiate = modes.kerberosOnlyNegotiate ?? false;
    this.keepsConnectionAuthenticated = modes.keepsConnectionAuthenticated ?? false;
    this.trace = modes.trace;
  }

  step(socket: Socket, authorization: string | undefined): IwaStep {
    const token = parseAuthorizationHeader(authorization);
    if (!token) return { kind: 'offer' };
    const { message, scheme } = token;
    if (!this.offers.includes(scheme)) return { kind: 'offer', why: `${scheme} is not offered here` };
    if (scheme === 'Negotiate' && this.kerberosOnlyNegotiate) {
      this.pending.delete(socket);
      return { kind: 'offer', why: 'Negotiate takes Kerberos only here; NTLMSSP under Negotiate refused' };
    }
    if (message.length < 12 || message.subarray(0, 8).toString('latin1') !== NTLM_SIGNATURE) {
      return { kind: 'rejected', why: 'the token is not NTLMSSP (Kerberos is not simulated)' };
    }
    try {
      const type = message.readUInt32LE(MESSAGE_TYPE_OFFSET);
      const kept = this.signedIn.get(socket);
      if (type === 1 && kept) return { kind: 'authenticated', user: kept };
      if (type === 1) return this.challenge(socket, scheme, message);
      if (type === 3) return this.authenticate(socket, message);
      return { kind: 'rejected', why: `unexpected NTLM message type ${type}` };
    } catch (error) {
      if (error instanceof NtlmMessageError)
        return { kind: 'rejected', why: `malformed NTLM token: ${error.message}` };
      throw error;
    }
  }

  private challenge(socket: Socket, scheme: NtlmScheme, message: Buffer): IwaStep {
    const negotiate = parseNegotiateMessage(message);
    const { message: challenge, serverChallenge } = createChallengeMessage({
      targetName: this.domain.netbios,
      computerName: 'CWASIM',
      dnsDomainName: this.domain.dns,
      dnsComputerName: `cwasim.${this.domain.dns}`,
      negotiateFlags: negotiate.flags,
    });
    this.pending.set(socket, { challenge, serverChallenge, scheme });
    return { kind: 'challenge', header: `${scheme} ${challenge.toString('base64')}` };
  }

  private authenticate(socket: Socket, message: Buffer): IwaStep {
    const pending = this.pending.get(socket);
    this.pending.delete(socket);
    if (!pending) return { kind: 'rejected', why: 'AUTHENTICATE on a connection that was not challenged' };
    this.trace?.({ challenge: pending.challenge, authenticate: message });
    const authenticate = parseAuthenticateMessage(message);
    const account = authenticate.domain ? `${authenticate.domain}\\${authenticate.user}` : authenticate.user;
    const user = this.directory.byNtlm(authenticate.user, authenticate.domain);
    if (!user) return { kind: 'rejected', why: `unknown account ${account}` };
    const valid = verifyNtlmV2Response({
      serverChallenge: pending.serverChallenge,
      authenticate,
      password: user.password,
      maxClockSkewMs: CLOCK_SKEW_MS,
    });
    if (!valid) return { kind: 'rejected', why: `wrong password for ${account}` };
    if (this.keepsConnectionAuthenticated) this.signedIn.set(socket, user);
    return { kind: 'authenticated', user };
  }
}
