// MD4 (RFC 1320), needed for the NT hash: OpenSSL 3 keeps MD4 in its legacy provider, which Node does
// not load, so `createHash('md4')` throws on Node 17+.

const S1 = [3, 7, 11, 19] as const;
const S2 = [3, 5, 9, 13] as const;
const S3 = [3, 9, 11, 15] as const;
// Round 3 visits the message words in bit-reversed order (RFC 1320 §3.4).
const ROUND3_ORDER = [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15] as const;

function rotl(x: number, n: number): number {
  return (x << n) | (x >>> (32 - n));
}

function pad(data: Uint8Array): Buffer {
  // Append 0x80, zeros up to 56 mod 64, then the bit length as a 64-bit little-endian integer.
  const padded = Buffer.alloc((((data.length + 8) >> 6) + 1) << 6);
  padded.set(data);
  padded[data.length] = 0x80;
  const bits = data.length * 8;
  padded.writeUInt32LE(bits >>> 0, padded.length - 8);
  padded.writeUInt32LE(Math.floor(bits / 0x1_0000_0000) >>> 0, padded.length - 4);
  return padded;
}

export function md4(data: Uint8Array): Buffer {
  const message = pad(data);
  let a = 0x67452301;
  let b = 0xefcdab89;
  let c = 0x98badcfe;
  let d = 0x10325476;
  const x = new Array<number>(16).fill(0);
  const word = (i: number): number => x[i] ?? 0;

  for (let block = 0; block < message.length; block += 64) {
    for (let i = 0; i < 16; i++) x[i] = message.readInt32LE(block + i * 4);
    const [aa, bb, cc, dd] = [a, b, c, d];

    for (let i = 0; i < 16; i++) {
      const f = (b & c) | (~b & d);
      const t = rotl((a + f + word(i)) | 0, S1[i % 4] ?? 0);
      [a, b, c, d] = [d, t, b, c];
    }
    for (let i = 0; i < 16; i++) {
      const g = (b & c) | (b & d) | (c & d);
      const k = (i % 4) * 4 + (i >> 2);
      const t = rotl((a + g + word(k) + 0x5a827999) | 0, S2[i % 4] ?? 0);
      [a, b, c, d] = [d, t, b, c];
    }
    for (let i = 0; i < 16; i++) {
      const h = b ^ c ^ d;
      const t = rotl((a + h + word(ROUND3_ORDER[i] ?? 0) + 0x6ed9eba1) | 0, S3[i % 4] ?? 0);
      [a, b, c, d] = [d, t, b, c];
    }

    a = (a + aa) | 0;
    b = (b + bb) | 0;
    c = (c + cc) | 0;
    d = (d + dd) | 0;
  }

  const digest = Buffer.alloc(16);
  digest.writeInt32LE(a, 0);
  digest.writeInt32LE(b, 4);
  digest.writeInt32LE(c, 8);
  digest.writeInt32LE(d, 12);
  return digest;
}
