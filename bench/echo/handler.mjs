// The trivial echo handler the gateway benchmarks run (`bench ping`'s local limit, `bench gateway-peers`): a
// WebSocket `$default` route that posts the message body straight back through `@connections` with a raw
// keep-alive POST. Plain JavaScript so that serverless-offline, which loads `.js`/`.mjs` handlers only, runs
// this very file; types in handler.d.mts.
import { Agent, request } from 'node:http';

/**
 * An echo bound to a management endpoint (`http://host:port[/stage]`), read on every call (a gateway's is
 * known only once it listens). The handler resolves `{ statusCode: 200 }` once the POST was answered,
 * whatever its status; it rejects on a socket error.
 */
export function connectionsEcho(managementEndpoint) {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const handler = (event) =>
    new Promise((resolve, reject) => {
      const id = encodeURIComponent(event.requestContext.connectionId);
      const post = request(
        `${managementEndpoint()}/@connections/${id}`,
        { method: 'POST', agent },
        (answer) => {
          answer.resume();
          answer.on('end', () => resolve({ statusCode: 200 }));
        },
      );
      post.on('error', reject);
      post.end(event.body ?? '');
    });
  return { handler, close: () => agent.destroy() };
}

/** A `$connect` that admits every connection (serverless-offline refuses connections without one). */
export const connect = async () => ({ statusCode: 200 });

let fromEnvironment;
/** The echo as a Lambda handler module exports it: the endpoint from `ECHO_MANAGEMENT_ENDPOINT`. */
export const echo = (event) => {
  fromEnvironment ??= connectionsEcho(() => process.env.ECHO_MANAGEMENT_ENDPOINT ?? '');
  return fromEnvironment.handler(event);
};
