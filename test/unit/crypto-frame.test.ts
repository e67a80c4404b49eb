// The sealed frame envelope: round trips both ways, every bound field refused when changed, replay and
// reordering refused before decompression, unknown versions, decompression bombs and size caps.

import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_PLAINTEXT_BYTES,
  deriveDeviceKeys,
  encodedFrameBytes,
  type FrameContext,
  FrameCryptoError,
  type FrameCryptoErrorCode,
  generateTransportKey,
  openFrame,
  peekFrame,
  type SealedFrame,
  SequenceGuard,
  sealFrame,
} from '../../functions/crypto';
import { CryptoInputError } from '../../functions/crypto/transport-key';

const keys = deriveDeviceKeys(Buffer.alloc(32, 7));
const toServer: FrameContext = {
  deviceId: 'device-01',
  channel: 'chan-3f2a',
  direction: 'toServer',
  action: 'sendmessage',
};
const toDevice: FrameContext = { deviceId: 'device-01', channel: 'chan-3f2a', direction: 'toDevice' };
const payload = { type: 'status', status: 'Accepted', user: 'sip:alice@example.com', n: [1, 2, 3] };

function codeOf(run: () => unknown): FrameCryptoErrorCode {
  try {
    run();
  } catch (error) {
    if (error instanceof FrameCryptoError) return error.code;
    throw error;
  }
  throw new Error('expected a FrameCryptoError');
}

/** Flips one bit of one byte of a base64 field. */
function flip(text: string, index: number): string {
  const bytes = Buffer.from(text, 'base64');
  const at = index < 0 ? bytes.length + index : index;
  bytes[at] = (bytes[at] ?? 0) ^ 0x01;
  return bytes.toString('base64');
}

/** What travels: the caller stringifies and parses the outer object. */
function overTheWire(frame: SealedFrame): unknown {
  return JSON.parse(JSON.stringify(frame));
}

describe('sealFrame / openFrame round trip', () => {
  it('opens a device→server frame, keeping the action in plaintext for routing', () => {
    const sealed = sealFrame(keys.toServer, toServer, 1, payload);

    expect(sealed).toMatchObject({ v: 1, seq: 1, action: 'sendmessage' });
    expect(Buffer.from(sealed.iv, 'base64')).toHaveLength(12);
    expect(JSON.stringify(sealed)).not.toContain('alice');
    expect(openFrame(keys.toServer, toServer, overTheWire(sealed))).toEqual({ seq: 1, payload });
  });

  it('opens a server→device frame, which carries no action', () => {
    const sealed = sealFrame(keys.toDevice, toDevice, 42, payload);

    expect(Object.keys(sealed).sort()).toEqual(['ct', 'iv', 'seq', 'v']);
    expect(openFrame(keys.toDevice, toDevice, overTheWire(sealed))).toEqual({ seq: 42, payload });
  });

  it('opens a toServer frame without an expected action, using the frame’s own', () => {
    const sealed = sealFrame(keys.toServer, toServer, 5, 'hi');
    const { action: _ignored, ...anyRoute } = toServer;

    expect(openFrame(keys.toServer, anyRoute, overTheWire(sealed)).payload).toBe('hi');
  });

  it('uses a fresh IV each time, so two seals of the same payload differ', () => {
    const first = sealFrame(keys.toServer, toServer, 1, payload);
    const second = sealFrame(keys.toServer, toServer, 1, payload);

    expect(first.iv).not.toBe(second.iv);
    expect(first.ct).not.toBe(second.ct);
  });

  it('round-trips scalars, unicode and nested values', () => {
    for (const value of [null, 0, false, '', 'ünï😀', [[], {}], { a: { b: { c: 'x'.repeat(10_000) } } }]) {
      expect(
        openFrame(keys.toDevice, toDevice, sealFrame(keys.toDevice, toDevice, 1, value)).payload,
      ).toEqual(value);
    }
  });

  it('reports the wire size', () => {
    const sealed = sealFrame(keys.toServer, toServer, 1, payload);
    expect(encodedFrameBytes(sealed)).toBe(Buffer.byteLength(JSON.stringify(sealed)));
  });
});

describe('openFrame refuses tampering', () => {
  const sealed = sealFrame(keys.toServer, toServer, 7, payload);

  it.each([
    ['a bit of the ciphertext', { ...sealed, ct: flip(sealed.ct, 0) }],
    ['a bit of the tag', { ...sealed, ct: flip(sealed.ct, -1) }],
    ['a bit of the iv', { ...sealed, iv: flip(sealed.iv, 5) }],
    ['the sequence number', { ...sealed, seq: 8 }],
    ['the action, re-routed by the sender', { ...sealed, action: 'admin' }],
  ])('when %s changed', (_what, frame) => {
    const { action: _route, ...anyRoute } = toServer;
    expect(codeOf(() => openFrame(keys.toServer, anyRoute, frame))).toBe('tampered');
  });

  it.each([
    ['deviceId', { ...toServer, deviceId: 'device-02' }],
    ['channel', { ...toServer, channel: 'chan-other' }],
    ['direction', { ...toServer, direction: 'toDevice' as const }],
    ['action', { ...toServer, action: 'presence' }],
  ])('when the receiver expects another %s', (_what, context) => {
    expect(codeOf(() => openFrame(keys.toServer, context, overTheWire(sealed)))).toBe('tampered');
  });

  it('when opened with the other direction’s key', () => {
    expect(codeOf(() => openFrame(keys.toDevice, toServer, overTheWire(sealed)))).toBe('tampered');
  });

  it('when a server→device frame is replayed at the server', () => {
    const down = sealFrame(keys.toDevice, toDevice, 3, payload);
    // Even with the right key and an action added, the direction in the additional data differs.
    const reflected = { ...down, action: 'sendmessage' };
    expect(codeOf(() => openFrame(keys.toDevice, toServer, reflected))).toBe('tampered');
  });
});

describe('openFrame with a SequenceGuard', () => {
  it('accepts increasing numbers with gaps and refuses a replay', () => {
    const guard = new SequenceGuard();
    const options = { checkSequence: (seq: number) => guard.accept(seq) };
    const first = overTheWire(sealFrame(keys.toServer, toServer, 1, 'a'));

    expect(openFrame(keys.toServer, toServer, first, options).payload).toBe('a');
    expect(openFrame(keys.toServer, toServer, sealFrame(keys.toServer, toServer, 4, 'b'), options).seq).toBe(
      4,
    );
    expect(codeOf(() => openFrame(keys.toServer, toServer, first, options))).toBe('replayed');
    expect(guard.last).toBe(4);
  });

  it('refuses a reordered frame (lower after higher accepted)', () => {
    const guard = new SequenceGuard();
    const options = { checkSequence: (seq: number) => guard.accept(seq) };
    const two = sealFrame(keys.toDevice, toDevice, 2, 'two');
    const three = sealFrame(keys.toDevice, toDevice, 3, 'three');

    openFrame(keys.toDevice, toDevice, three, options);
    expect(codeOf(() => openFrame(keys.toDevice, toDevice, two, options))).toBe('replayed');
  });

  it('does not let a forged frame move the guard', () => {
    const guard = new SequenceGuard(1);
    const forged = { ...sealFrame(keys.toServer, toServer, 9, 'x'), ct: Buffer.alloc(40).toString('base64') };

    expect(
      codeOf(() => openFrame(keys.toServer, toServer, forged, { checkSequence: (seq) => guard.accept(seq) })),
    ).toBe('tampered');
    expect(guard.last).toBe(1);
  });

  it('checks the sequence after the tag and before decompression', () => {
    const calls: string[] = [];
    const bomb = sealFrame(keys.toServer, toServer, 3, '0'.repeat(1024 * 1024));
    const guard = new SequenceGuard(3);

    // The payload is over the cap, so had decompression run first the error would be 'too-large'.
    const code = codeOf(() =>
      openFrame(keys.toServer, toServer, bomb, {
        maxPlaintextBytes: 64 * 1024,
        checkSequence: (seq) => {
          calls.push(`check ${seq}`);
          guard.accept(seq);
        },
      }),
    );
    expect(code).toBe('replayed');
    expect(calls).toEqual(['check 3']);
  });

  it('turns any refusal by checkSequence into "replayed", keeping the cause', () => {
    const sealed = sealFrame(keys.toServer, toServer, 1, 'a');
    const refusal = new Error('seen before');
    try {
      openFrame(keys.toServer, toServer, sealed, {
        checkSequence: () => {
          throw refusal;
        },
      });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(FrameCryptoError);
      expect(error).toMatchObject({ code: 'replayed', cause: refusal });
    }
  });
});

describe('SequenceGuard', () => {
  it('starts from a restored value and refuses equal, lower and non-integer numbers', () => {
    const guard = new SequenceGuard(10);
    for (const seq of [10, 9, 0, -1, 10.5, Number.NaN]) {
      expect(codeOf(() => guard.check(seq))).toBe('replayed');
    }
    guard.accept(11);
    expect(guard.last).toBe(11);
  });

  it('refuses a bad starting value as a programming error', () => {
    expect(() => new SequenceGuard(-1)).toThrow(CryptoInputError);
    expect(() => new SequenceGuard(1.5)).toThrow(CryptoInputError);
  });
});

describe('openFrame refuses malformed, unsupported and oversized frames', () => {
  const sealed = sealFrame(keys.toServer, toServer, 1, payload);

  it('refuses version 2 as unsupported, even when its other fields differ', () => {
    expect(codeOf(() => openFrame(keys.toServer, toServer, { ...sealed, v: 2 }))).toBe('unsupported-version');
    expect(codeOf(() => openFrame(keys.toServer, toServer, { v: 2, data: 'x' }))).toBe('unsupported-version');
  });

  it.each<[string, unknown]>([
    ['null', null],
    ['an array', [sealed]],
    ['a string', JSON.stringify(sealed)],
    ['no v', { ...sealed, v: undefined }],
    ['v as text', { ...sealed, v: '1' }],
    ['seq 0', { ...sealed, seq: 0 }],
    ['seq fractional', { ...sealed, seq: 1.5 }],
    ['seq unsafe', { ...sealed, seq: 2 ** 53 }],
    ['iv of 16 bytes', { ...sealed, iv: Buffer.alloc(16).toString('base64') }],
    ['iv not base64', { ...sealed, iv: '!!!!!!!!!!!!!!!!' }],
    ['iv base64url', { ...sealed, iv: '____________----' }],
    ['ct of 15 bytes', { ...sealed, ct: Buffer.alloc(15).toString('base64') }],
    ['ct with junk', { ...sealed, ct: `${sealed.ct}*` }],
    ['no action toward the server', { ...sealed, action: undefined }],
    ['an empty action', { ...sealed, action: '' }],
    ['a numeric action', { ...sealed, action: 1 }],
  ])('refuses %s as malformed', (_what, frame) => {
    const { action: _route, ...anyRoute } = toServer;
    expect(codeOf(() => openFrame(keys.toServer, anyRoute, frame))).toBe('malformed');
  });

  it('refuses a decompression bomb (10 MB of zeros) with the default cap', () => {
    const bomb = sealFrame(keys.toDevice, toDevice, 1, '0'.repeat(10 * 1024 * 1024));

    expect(encodedFrameBytes(bomb)).toBeLessThan(64 * 1024);
    expect(codeOf(() => openFrame(keys.toDevice, toDevice, bomb))).toBe('too-large');
  });

  it('honours the cap at its exact boundary', () => {
    const text = 'y'.repeat(DEFAULT_MAX_PLAINTEXT_BYTES - 2); // JSON adds the two quotes
    const exact = sealFrame(keys.toDevice, toDevice, 1, text);
    const over = sealFrame(keys.toDevice, toDevice, 1, `${text}y`);

    expect(openFrame(keys.toDevice, toDevice, exact).payload).toBe(text);
    expect(codeOf(() => openFrame(keys.toDevice, toDevice, over))).toBe('too-large');
  });

  it('honours a larger and a smaller cap', () => {
    const big = sealFrame(keys.toDevice, toDevice, 1, 'z'.repeat(DEFAULT_MAX_PLAINTEXT_BYTES * 2));
    expect(openFrame(keys.toDevice, toDevice, big, { maxPlaintextBytes: 1024 * 1024 }).payload).toHaveLength(
      DEFAULT_MAX_PLAINTEXT_BYTES * 2,
    );
    const small = sealFrame(keys.toDevice, toDevice, 1, payload);
    expect(codeOf(() => openFrame(keys.toDevice, toDevice, small, { maxPlaintextBytes: 10 }))).toBe(
      'too-large',
    );
  });

  it('refuses incompressible ciphertext far over the cap before decrypting it', () => {
    const huge = { ...sealed, ct: Buffer.alloc(64 * 1024).toString('base64') };
    expect(codeOf(() => openFrame(keys.toServer, toServer, huge, { maxPlaintextBytes: 1024 }))).toBe(
      'too-large',
    );
  });
});

describe('programming errors', () => {
  it('refuses keys of the wrong length, bad sequence numbers and unsealable payloads', () => {
    expect(() => sealFrame(Buffer.alloc(16), toServer, 1, 'x')).toThrow(CryptoInputError);
    for (const seq of [0, -1, 1.5, Number.NaN, 2 ** 53]) {
      expect(() => sealFrame(keys.toServer, toServer, seq, 'x')).toThrow(CryptoInputError);
    }
    expect(() => sealFrame(keys.toServer, toServer, 1, undefined)).toThrow(CryptoInputError);
    expect(() => sealFrame(keys.toServer, toServer, 1, { n: 1n })).toThrow(CryptoInputError);
    expect(() => openFrame(Buffer.alloc(31), toServer, {})).toThrow(CryptoInputError);
  });

  it('refuses contexts that would make the additional data ambiguous or a frame unroutable', () => {
    const { action: _route, ...noAction } = toServer;
    expect(() => sealFrame(keys.toServer, noAction, 1, 'x')).toThrow(CryptoInputError);
    expect(() => sealFrame(keys.toServer, { ...toServer, channel: 'a|b' }, 1, 'x')).toThrow(CryptoInputError);
    expect(() => sealFrame(keys.toServer, { ...toServer, deviceId: 'a|b' }, 1, 'x')).toThrow(
      CryptoInputError,
    );
    expect(() => sealFrame(keys.toServer, { ...toServer, action: '' }, 1, 'x')).toThrow(CryptoInputError);
  });

  it('works with any freshly generated key', () => {
    const fresh = deriveDeviceKeys(generateTransportKey());
    expect(openFrame(fresh.toDevice, toDevice, sealFrame(fresh.toDevice, toDevice, 1, 'ok')).payload).toBe(
      'ok',
    );
  });
});

describe('peekFrame', () => {
  it('reads version, sequence and action without any key', () => {
    expect(peekFrame(sealFrame(keys.toServer, toServer, 3, 'x'))).toEqual({
      v: 1,
      seq: 3,
      action: 'sendmessage',
    });
    expect(peekFrame(sealFrame(keys.toDevice, toDevice, 4, 'x'))).toEqual({ v: 1, seq: 4 });
    expect(peekFrame({ v: 2, seq: 1 })).toEqual({ v: 2, seq: 1 });
  });

  it.each<unknown>([null, 'x', [], {}, { v: 1 }, { v: '1', seq: 1 }, { v: 1, seq: 0 }])(
    'returns undefined for %j',
    (frame) => {
      expect(peekFrame(frame)).toBeUndefined();
    },
  );
});
