// MD4 and RC4, the two primitives written here because OpenSSL 3 keeps them in its legacy provider.
import { describe, expect, it } from 'vitest';
import { md4, rc4 } from '../../functions/cwa/ntlm';

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');

describe('md4', () => {
  // RFC 1320 §A.5 "Test suite".
  it.each([
    ['', '31d6cfe0d16ae931b73c59d7e0c089c0'],
    ['a', 'bde52cb31de33e46245e05fbdbd6fb24'],
    ['abc', 'a448017aaf21d8525fc10ae87aa6729d'],
    ['message digest', 'd9130a8164549fe818874806e1c7014b'],
    ['abcdefghijklmnopqrstuvwxyz', 'd79e1c308aa5bbcdeea8ed63df412da9'],
    ['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', '043f8582f241db351ce627e153e7f0e4'],
    [
      '12345678901234567890123456789012345678901234567890123456789012345678901234567890',
      'e33b4ddc9c38f2199c3e7b164fcc0536',
    ],
  ])('RFC 1320 test suite: MD4(%j)', (input, expected) => {
    expect(md4(Buffer.from(input, 'latin1')).toString('hex')).toBe(expected);
  });

  // Padding edge cases around the 56-byte and 64-byte block boundaries; expected values from
  // `openssl dgst -md4 -provider legacy` over n letters 'a'.
  it.each([
    [55, 'c889c81dd86c4d2e025778944ea02881'],
    [56, 'd5f9a9e9257077a5f08b0b92f348b0ad'],
    [63, '7ea3da77432d44c323671097d1348fc8'],
    [64, '52f5076fabd22680234a3fa9f9dc5732'],
    [65, '330e377bf231f3cacfecc2c182fe7e5b'],
    [119, 'e65dd227ccef97fa1d34d70189120f76'],
    [120, 'b03ddbd470b47c013e0c7ab2ddd763db'],
    [1000, '5f1bf26a8067c9159b91f1440f7c9e8a'],
  ])('pads %i bytes correctly', (length, expected) => {
    expect(md4(Buffer.alloc(length, 'a')).toString('hex')).toBe(expected);
  });

  it('accepts a plain Uint8Array and gives the NT hash of [MS-NLMP] §4.2.2.1.2', () => {
    // NTOWFv1("Password") = MD4(UNICODE("Password")): "a4 f4 9c 40 65 10 bd ca b6 82 4e e7 c3 0f d8 52".
    const unicode = new Uint8Array(Buffer.from('Password', 'utf16le'));
    expect(md4(unicode)).toEqual(hex('a4 f4 9c 40 65 10 bd ca b6 82 4e e7 c3 0f d8 52'));
  });
});

describe('rc4', () => {
  // The classic ARCFOUR test vectors (Key/Plaintext, Wiki/pedia, Secret/Attack at dawn).
  it.each([
    ['Key', 'Plaintext', 'bbf316e8d940af0ad3'],
    ['Wiki', 'pedia', '1021bf0420'],
    ['Secret', 'Attack at dawn', '45a01f645fc35b383552544b9bf5'],
  ])('RC4(%j, %j)', (key, plaintext, expected) => {
    const ciphertext = rc4(Buffer.from(key), Buffer.from(plaintext));
    expect(ciphertext.toString('hex')).toBe(expected);
    expect(rc4(Buffer.from(key), ciphertext).toString()).toBe(plaintext);
  });
});
