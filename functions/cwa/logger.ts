// The narrow logger the connector writes to (Powertools' Logger fits it). The connector never passes it
// a password, a ticket or an NTLM token.

export interface CwaLogger {
  debug(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
}

export const silentLogger: CwaLogger = {
  debug: () => {},
  warn: () => {},
};
