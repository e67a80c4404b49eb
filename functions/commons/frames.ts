// The JSON frames a handler sends back to a device as a route response.

export interface ErrorFrame {
  readonly type: 'error';
  readonly code: string;
  readonly message: string;
  /** Echoed from the device's frame when it had one, so the device can match the reply. */
  readonly action?: string;
  /** The API Gateway request id, for support: quote it when reporting a problem. */
  readonly requestId: string;
}

export function errorFrame(code: string, message: string, requestId: string, action?: string): ErrorFrame {
  return { type: 'error', code, message, requestId, ...(action === undefined ? {} : { action }) };
}
