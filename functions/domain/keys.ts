// Key builders for the single service table: every item kind's pk/sk in one place (docs/data-model.md).

export interface ItemKey {
  readonly pk: string;
  readonly sk: string;
}

export function connectionKey(connectionId: string): ItemKey {
  return { pk: `CONN#${connectionId}`, sk: 'CONN' };
}

export function handshakeNonceKey(deviceId: string, nonce: string): ItemKey {
  return { pk: `NONCE#${deviceId}#${nonce}`, sk: 'NONCE' };
}

/** gsi1 partition of a device's live connections (admin `devices deactivate` closes them). */
export function deviceConnectionsPartition(deviceId: string): string {
  return `DEVICE_CONN#${deviceId}`;
}
