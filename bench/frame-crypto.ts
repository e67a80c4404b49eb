// Frame crypto cost per message: seal (JSON + deflate + AES-256-GCM) and open (the reverse) for a typical
// acceptance status and a 16 KiB chat history, in plaintext MB/s and messages/s, plus the wire overhead.
// Run: npx tsx bench/frame-crypto.ts [--ms-per-case 1000]

import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  deriveDeviceKeys,
  encodedFrameBytes,
  type FrameContext,
  type FrameDirection,
  generateTransportKey,
  openFrame,
  type SealedFrame,
  sealFrame,
} from '../functions/crypto';

const context: FrameContext = { deviceId: 'bench-device', channel: randomUUID(), direction: 'toDevice' };

function acceptance(): unknown {
  return {
    type: 'status',
    status: 'Accepted',
    sessionId: randomUUID(),
    user: 'sip:alice@example.com',
    displayName: 'Alice Example',
    deviceId: 'bench-device',
    server: 'cwa.contoso.com',
    pollWaitTimeMs: 3000,
    sessionTimeoutMs: 1_800_000,
    capabilities: ['im', 'presence', 'contacts'],
    serverTime: Date.now(),
  };
}

/** Deterministic, varied text so compression sees something like real conversation rather than repeats. */
function chatHistory(targetBytes: number): unknown {
  const words = (
    'the meeting moved to three can you send the deck again thanks I will call after lunch sounds good ' +
    'which room is it in the build is green now ship it please review my change before five ok'
  ).split(' ');
  let state = 0x2545f491;
  const next = (n: number) => {
    state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return state % n;
  };
  const messages: unknown[] = [];
  const history = { type: 'history', conversationId: randomUUID(), messages };
  const started = Date.UTC(2007, 9, 1, 9);
  while (Buffer.byteLength(JSON.stringify(history)) < targetBytes) {
    const from = next(2) === 0 ? 'sip:alice@example.com' : 'sip:bob@example.com';
    const text = Array.from({ length: 4 + next(16) }, () => words[next(words.length)]).join(' ');
    messages.push({ id: messages.length + 1, from, sentAt: started + messages.length * 37_000, text });
  }
  return history;
}

interface Row {
  readonly payload: string;
  readonly operation: string;
  readonly plaintextBytes: number;
  readonly messagesPerSecond: number;
}

/** Runs `once` repeatedly for about `budgetMs` after a short warm-up; returns operations per second. */
function rate(once: () => void, budgetMs: number): number {
  const warmUpEnds = performance.now() + budgetMs / 10;
  while (performance.now() < warmUpEnds) once();
  let count = 0;
  const started = performance.now();
  let elapsed = 0;
  // Check the clock every few calls only, so timing does not dominate the ~300-byte case.
  do {
    for (let i = 0; i < 16; i++) once();
    count += 16;
    elapsed = performance.now() - started;
  } while (elapsed < budgetMs);
  return (count * 1000) / elapsed;
}

function measure(name: string, payload: unknown, budgetMs: number): Row[] {
  const key = deriveDeviceKeys(generateTransportKey()).toDevice;
  const plaintextBytes = Buffer.byteLength(JSON.stringify(payload));
  let seq = 0;
  const sealed = sealFrame(key, context, 1, payload);
  return [
    {
      payload: name,
      operation: 'seal',
      plaintextBytes,
      messagesPerSecond: rate(() => sealFrame(key, context, ++seq, payload), budgetMs),
    },
    {
      payload: name,
      operation: 'open',
      plaintextBytes,
      messagesPerSecond: rate(() => openFrame(key, context, sealed), budgetMs),
    },
  ];
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) =>
        column < 2 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0),
      )
      .join('  ');
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { 'ms-per-case': { type: 'string', default: '1000' } } });
  const budgetMs = Number(values['ms-per-case']);
  if (!(budgetMs > 0)) throw new Error('--ms-per-case must be a positive number');

  const payloads: [string, unknown][] = [
    ['acceptance', acceptance()],
    ['history 16 KiB', chatHistory(16 * 1024)],
  ];
  const rows = payloads.flatMap(([name, payload]) => measure(name, payload, budgetMs));
  console.log(
    `Frame crypto on Node ${process.version}, ${budgetMs} ms per case (MB = 10^6 bytes of plaintext JSON)\n`,
  );
  console.log(
    table(
      ['payload', 'op', 'JSON bytes', 'msgs/s', 'MB/s', 'µs/msg'],
      rows.map((row) => [
        row.payload,
        row.operation,
        String(row.plaintextBytes),
        Math.round(row.messagesPerSecond).toLocaleString('en-US'),
        ((row.messagesPerSecond * row.plaintextBytes) / 1e6).toFixed(1),
        (1e6 / row.messagesPerSecond).toFixed(1),
      ]),
    ),
  );

  // Overhead: the envelope (v, seq, iv, tag) and base64's 4/3, less whatever deflate saved.
  const key = deriveDeviceKeys(generateTransportKey()).toServer;
  const up: FrameContext = { ...context, direction: 'toServer', action: 'sendmessage' };
  console.log('\nWire size (encodedFrameBytes) against plaintext JSON:');
  console.log(
    table(
      ['payload', 'direction', 'JSON bytes', 'frame bytes', 'overhead'],
      payloads.flatMap(([name, payload]) => {
        const json = Buffer.byteLength(JSON.stringify(payload));
        const frames: [FrameDirection, SealedFrame][] = [
          ['toDevice', sealFrame(key, context, 1, payload)],
          ['toServer', sealFrame(key, up, 1, payload)],
        ];
        return frames.map(([direction, frame]) => {
          const overhead = encodedFrameBytes(frame) - json;
          const sign = overhead >= 0 ? '+' : '';
          return [name, direction, String(json), String(encodedFrameBytes(frame)), `${sign}${overhead}`];
        });
      }),
    ),
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run(process.argv.slice(2));
}
