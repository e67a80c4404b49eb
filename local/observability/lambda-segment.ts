// What the Lambda service does for X-Ray around each invocation, done by the local execution environment:
// a trace header for the function (`_X_AMZN_TRACE_ID`, read by the X-Ray SDK) and, when the invocation ends,
// the function segment sent to the daemon, which the SDK's subsegments hang under.
// Header and ids: https://docs.aws.amazon.com/xray/latest/devguide/xray-api-sendingdata.html

import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { functionOrigin } from './trace-store';

export interface InvocationTrace {
  /** The value of `_X_AMZN_TRACE_ID` for this invocation. */
  readonly header: string;
  /** Sends the function segment (`error` marks a failed invocation as a fault). */
  end(error: boolean): void;
}

let socket: Socket | undefined;

/** A new trace for one invocation of `functionName`, reported to the daemon at `daemonAddress` (host:port). */
export function beginInvocationTrace(functionName: string, daemonAddress: string): InvocationTrace {
  const startSeconds = Date.now() / 1000;
  const traceId = `1-${Math.floor(startSeconds).toString(16).padStart(8, '0')}-${randomBytes(12).toString('hex')}`;
  const id = randomBytes(8).toString('hex');
  const [host = '127.0.0.1', port = '2000'] = daemonAddress.split(':');
  return {
    header: `Root=${traceId};Parent=${id};Sampled=1`,
    end(error) {
      const document = {
        name: functionName,
        id,
        trace_id: traceId,
        start_time: startSeconds,
        end_time: Date.now() / 1000,
        origin: functionOrigin,
        ...(error ? { fault: true } : {}),
      };
      if (!socket) {
        socket = createSocket('udp4');
        // Lost segments are lost, as with the real daemon; the environment must not die of it.
        socket.on('error', () => undefined);
        socket.unref();
      }
      socket.send(`{"format":"json","version":1}\n${JSON.stringify(document)}`, Number(port), host);
    },
  };
}
