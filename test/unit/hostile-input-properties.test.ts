// Property tests (fast-check) for the parsers that take outside input beyond frames and handshakes (those
// are in crypto-properties.test.ts): the $connect query, route selection, CWA XML and its integers, the
// NTLM challenge, Configuration Database settings, and the action an error frame echoes. Each parser
// either answers or throws its own, named error — never anything else, never slowly.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { echoedAction, MAX_ECHOED_ACTION_CHARS } from '../../functions/commons/errors';
import { clampPollWait, POLL_WAIT_RANGE_MS } from '../../functions/cwa/connector';
import { parseChallengeMessage } from '../../functions/cwa/ntlm/challenge';
import { NtlmMessageError } from '../../functions/cwa/ntlm/errors';
import { checkXmlLimits, XML_LIMITS, XmlLimitError } from '../../functions/cwa/xml/limits';
import { parseEventsResponse } from '../../functions/cwa/xml/responses';
import { integerOf, parseXml, XmlFormatError } from '../../functions/cwa/xml/tree';
import {
  applySettingChanges,
  DEFAULT_SETTINGS,
  SettingsError,
  settingNames,
} from '../../functions/domain/settings';
import { queryParameters } from '../../local/gateway/events';
import { actionOf } from '../../local/gateway/route-selection';

const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype'];
const name = fc.oneof(fc.constantFrom(...PROTOTYPE_NAMES), fc.string({ maxLength: 20 }));

describe('the $connect query', () => {
  it('keeps every name as an own property holding its last value, whatever the name', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(name, fc.string({ maxLength: 10 })), { maxLength: 12 }), (pairs) => {
        const url = `/local?${new URLSearchParams(pairs).toString()}`;
        const { queryStringParameters: single = {}, multiValueQueryStringParameters: multi = {} } =
          queryParameters(url);
        for (const [key, value] of pairs) {
          expect(Object.hasOwn(single, key)).toBe(true);
          expect(single[key]).toBe(pairs.filter(([k]) => k === key).at(-1)?.[1]);
          expect(multi[key]).toContain(value);
        }
        expect(Object.getPrototypeOf(single)).toBe(Object.prototype);
      }),
    );
  });
});

describe('route selection', () => {
  it('never throws on any body, and reads only a string action', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (body) => {
        const action = actionOf(body);
        expect(action === undefined || typeof action === 'string').toBe(true);
      }),
    );
  });

  it('bounds the action an error frame echoes', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 5000 }), (action) => {
        const echoed = echoedAction(action);
        expect(echoed.length).toBeLessThanOrEqual(MAX_ECHOED_ACTION_CHARS + 30);
        if (action.length <= MAX_ECHOED_ACTION_CHARS) expect(echoed).toBe(action);
      }),
    );
  });
});

describe('CWA XML', () => {
  it('parses or throws XmlFormatError for any text', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.stringMatching(/^<[a-z]{1,3}( [a-z]="[^"<]*")*>[^<]*<\/[a-z]{1,3}>$/)),
        (xml) => {
          try {
            parseXml(xml);
          } catch (error) {
            expect(error).toBeInstanceOf(XmlFormatError);
          }
        },
      ),
    );
  });

  it('refuses documents over a limit in one cheap pass', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('depth', 'attributes', 'elements', 'size'),
        fc.integer({ min: 1, max: 3 }),
        (kind, factor) => {
          const xml =
            kind === 'depth'
              ? '<a>'.repeat(XML_LIMITS.maxDepth + factor) + '</a>'.repeat(XML_LIMITS.maxDepth + factor)
              : kind === 'attributes'
                ? `<a ${Array.from({ length: XML_LIMITS.maxAttributesPerElement + factor }, (_, i) => `x${i}="1"`).join(' ')}/>`
                : kind === 'elements'
                  ? `<r>${'<e/>'.repeat(XML_LIMITS.maxElements + factor)}</r>`
                  : `<r>${'x'.repeat(XML_LIMITS.maxChars + factor)}</r>`;
          expect(() => checkXmlLimits(xml)).toThrow(XmlLimitError);
          expect(() => parseXml(xml)).toThrow(/over a limit/);
        },
      ),
      { numRuns: 12 },
    );
  });

  it('reads integers only within the safe range', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.bigInt().map(String)), (text) => {
        const n = integerOf(text);
        if (n !== undefined) {
          expect(Number.isSafeInteger(n)).toBe(true);
          expect(BigInt(n)).toBe(BigInt(text.trim()));
        }
      }),
    );
  });

  it('refuses an event id beyond 2^53 as malformed, never as Infinity', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 2n ** 53n, max: 10n ** 400n }), (eid) => {
        expect(() =>
          parseEventsResponse(
            `<cwaEvents sid="s" ackId="1"><conference eid="${eid}" confId="c"/></cwaEvents>`,
          ),
        ).toThrow(XmlFormatError);
      }),
      { numRuns: 50 },
    );
  });

  it('clamps any pollWaitTime into the documented range', () => {
    fc.assert(
      fc.property(fc.integer(), (ms) => {
        const clamped = clampPollWait(ms, 3000);
        expect(clamped).toBeGreaterThanOrEqual(POLL_WAIT_RANGE_MS.min);
        expect(clamped).toBeLessThanOrEqual(POLL_WAIT_RANGE_MS.max);
      }),
    );
  });
});

describe('the NTLM challenge', () => {
  it('parses or throws NtlmMessageError for any bytes', () => {
    const signature = Buffer.from('NTLMSSP\0', 'latin1');
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc
            .uint8Array({ minLength: 0, maxLength: 200 })
            .map((rest) => new Uint8Array([...signature, 2, 0, 0, 0, ...rest])),
        ),
        (bytes) => {
          try {
            parseChallengeMessage(Buffer.from(bytes));
          } catch (error) {
            expect(error).toBeInstanceOf(NtlmMessageError);
          }
        },
      ),
    );
  });
});

describe('settings', () => {
  it('applies known names and refuses every other name, prototype names included', () => {
    fc.assert(
      fc.property(name, fc.string({ maxLength: 10 }), (setting, value) => {
        // JSON.parse makes `__proto__` an own key, as an attacker's input would.
        const changes = JSON.parse(JSON.stringify({ [setting]: value })) as Record<string, string>;
        Object.defineProperty(changes, setting, { value, enumerable: true });
        try {
          applySettingChanges(DEFAULT_SETTINGS, changes);
          expect(Object.hasOwn(settingNames, setting)).toBe(true);
        } catch (error) {
          expect(error).toBeInstanceOf(SettingsError);
          if (!Object.hasOwn(settingNames, setting)) {
            expect((error as SettingsError).message).toContain(`unknown setting "${setting}"`);
          }
        }
      }),
    );
  });
});
