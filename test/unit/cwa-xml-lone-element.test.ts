// The idle data channel's short path (parseLoneElement in functions/cwa/xml/tree.ts): on CWA's empty
// `<cwaEvents …/>` in the shapes bb969533 and the simulator give it, the same tree as the full parser; on
// anything it is not sure of, no answer (the full parser decides); and, over generated documents, never an
// answer where the full parser refuses or reads something else.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { XML_LIMITS } from '../../functions/cwa/xml/limits';
import { parseEventsResponse } from '../../functions/cwa/xml/responses';
import { parseLoneElement, parseXml } from '../../functions/cwa/xml/tree';

/** What the full parser makes of `xml`, or 'refused'. */
function full(xml: string) {
  try {
    return parseXml(xml);
  } catch {
    return 'refused';
  }
}

describe('the empty answers of an idle data channel', () => {
  const shapes = [
    // The simulator's (fast-xml-parser's builder, suppressEmptyNode).
    '<cwaEvents sid="12" ackId="0" pollWaitTime="3000" sessionTimeout="600"/>',
    // bb969533's attribute order, an explicit end tag, a declaration and a namespace.
    '<?xml version="1.0" encoding="utf-8"?>\r\n<cwaEvents pollWaitTime="1000" sessionTimeout="594" ackId="12" sid="2"></cwaEvents>',
    '<cwaEvents xmlns="http://schemas.microsoft.com/2006/09/rtc/cwa" sid="2" ackId="12" pollWaitTime="1000" sesionTimeout="594" />\n',
    "  <cwaEvents sid='7' ackId='3'/>  ",
    '<cwaEvents/>',
  ];

  it.each(shapes)('reads %j as the full parser does', (xml) => {
    const root = parseLoneElement(xml, 'cwaEvents');
    expect(root).toBeDefined();
    expect(root).toEqual(parseXml(xml));
  });

  it('gives parseEventsResponse the same answer either way', () => {
    const xml = '<cwaEvents sid="2" ackId="12" pollWaitTime="1000" sessionTimeout="594"/>';
    expect(parseEventsResponse(xml)).toEqual({
      sid: '2',
      ackId: 12,
      pollWaitTimeMs: 1000,
      sessionTimeoutSeconds: 594,
      items: [],
      failures: [],
    });
  });
});

describe('what it leaves to the full parser', () => {
  const others = [
    // events, text, comments, references: not a lone empty element
    '<cwaEvents sid="2"><conference eid="3"/></cwaEvents>',
    '<cwaEvents sid="2"> </cwaEvents>',
    '<cwaEvents sid="2"><!-- c --></cwaEvents>',
    '<cwaEvents sid="&amp;"/>',
    '<cwaEvents sid="&#50;"/>',
    // malformed or unusual: the full parser refuses or decides
    '<cwaEvents sid="2" sid="3"/>',
    '<cwaEvents sid="2"',
    '<cwaEvents sid=2/>',
    '<cwaEvents sid = "2"/>',
    '<cwaEvents sid="2"ackId="3"/>',
    '<cwaEvents sid="2"/><cwaEvents/>',
    '<cwaEvents sid="2"/>trailing',
    '<cwaEventsX sid="2"/>',
    '<c:cwaEvents xmlns:c="urn:x" sid="2"/>',
    '<cwaEvents a:sid="2" b:sid="3"/>',
    '<cwaEvents sid="tab\there"/>',
    '<cwaEvents sid="é"/>',
    '<cwaEvents constructor="1"/>',
    '<!DOCTYPE cwaEvents><cwaEvents/>',
    '<?xml version="1.1"?><cwaEvents/>',
    '<?xml version="1.0" standalone="yes"?><cwaEvents/>',
    `<cwaEvents ${Array.from({ length: XML_LIMITS.maxAttributesPerElement + 1 }, (_, i) => `a${i}="1"`).join(' ')}/>`,
    '',
    '   ',
  ];

  it.each(others)('gives no answer for %j', (xml) => {
    expect(parseLoneElement(xml, 'cwaEvents')).toBeUndefined();
  });

  it('never answers where the full parser refuses or reads another tree (generated documents)', () => {
    const fragment = fc.constantFrom(
      '<cwaEvents',
      '<cwaEvent',
      '</cwaEvents>',
      '<?xml version="1.0"?>',
      '<?xml version="1.0" encoding="utf-8"?>',
      '<!DOCTYPE x>',
      ' ',
      '\n',
      '/>',
      '>',
      '<',
      '"',
      "'",
      '=',
      ':',
      'sid',
      'xmlns',
      'x:sid',
      'ackId',
      '&amp;',
      '&#60;',
      '1',
      'a b',
      '\t',
      'é',
      '__proto__',
    );
    const document = fc.array(fragment, { maxLength: 24 }).map((parts) => parts.join(''));
    // Mostly-right documents too: the valid shape with one fragment spliced in.
    const near = fc.tuple(fc.nat(60), fragment).map(([at, text]) => {
      const base = '<cwaEvents sid="12" ackId="0" pollWaitTime="3000" sessionTimeout="600"/>';
      const cut = at % (base.length + 1);
      return base.slice(0, cut) + text + base.slice(cut);
    });
    fc.assert(
      fc.property(fc.oneof(document, near), (xml) => {
        const fast = parseLoneElement(xml, 'cwaEvents');
        if (fast !== undefined) expect(fast).toEqual(full(xml));
      }),
      { numRuns: 5000 },
    );
  });
});
