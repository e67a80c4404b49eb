// The element tree's parse (functions/cwa/xml/tree.ts) on what XML 1.0 allows and what it does not: no DTD
// at all (so no entity expansion, internal or external), only the five predefined entities and character
// references, CDATA and text kept untrimmed, namespace prefixes dropped, and errors that never quote the
// document back.

import { describe, expect, it } from 'vitest';
import { parseXml, XmlFormatError } from '../../functions/cwa/xml/tree';

const refused = (xml: string): XmlFormatError => {
  try {
    parseXml(xml);
  } catch (error) {
    expect(error).toBeInstanceOf(XmlFormatError);
    return error as XmlFormatError;
  }
  throw new Error(`parsed, but should have been refused: ${xml}`);
};

const NOT_A_DTD = 'a document type declaration is not accepted';

describe('document type declarations', () => {
  it('refuses a DOCTYPE with an internal entity, used or not (billion laughs)', () => {
    const laughs = [
      '<!DOCTYPE lolz [<!ENTITY lol "lol">',
      ...Array.from(
        { length: 9 },
        (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`,
      ),
      ']>',
    ].join('');
    expect(refused(`${laughs}<cwaEvents>&lol9;</cwaEvents>`).message).toBe(NOT_A_DTD);
    expect(refused(`${laughs}<cwaEvents/>`).message).toBe(NOT_A_DTD);
  });

  it('refuses a DOCTYPE naming an external entity or DTD, without fetching anything', () => {
    expect(refused('<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>').message).toBe(
      NOT_A_DTD,
    );
    expect(refused('<!DOCTYPE r SYSTEM "http://127.0.0.1:1/x.dtd"><r/>').message).toBe(NOT_A_DTD);
    expect(refused('<!DOCTYPE r><r/>').message).toBe(NOT_A_DTD);
  });
});

describe('references', () => {
  it('decodes the five predefined entities and character references, once', () => {
    expect(parseXml('<a b="&quot;&apos;&#x41;">&lt;&gt;&amp;&#233;&#x1F600;&amp;#233;</a>')).toEqual({
      name: 'a',
      attributes: { b: `"'A` },
      children: [],
      text: '<>&é😀&#233;',
    });
  });

  it('refuses HTML, undeclared and Object.prototype-named entities instead of guessing', () => {
    for (const name of ['nbsp', 'copy', 'bogus', 'constructor', '__proto__']) {
      expect(refused(`<a>x&${name};</a>`).message).toMatch(
        /^not well-formed XML at 1:\d+: undefined entity\.$/,
      );
    }
  });

  it('refuses characters XML 1.0 cannot carry, literal or referenced', () => {
    for (const xml of [
      '<a>\u0001</a>',
      '<a>&#0;</a>',
      '<a>&#xD800;</a>',
      '<a>\uFFFE</a>',
      '<a b="<"/>',
      '<a>]]></a>',
    ]) {
      expect(refused(xml).message).toMatch(/^not well-formed XML at 1:\d+: /);
    }
  });
});

describe('the tree', () => {
  it('keeps CDATA and text untrimmed in order, and leaves out comments, PIs and the declaration', () => {
    const root = parseXml(
      '<?xml version="1.0" encoding="utf-8"?><!-- c --><a> one <![CDATA[ <b>&amp; ]]><!-- c --><?pi x?><b/> two </a>',
    );
    expect(root).toEqual({
      name: 'a',
      attributes: {},
      children: [{ name: 'b', attributes: {}, children: [], text: '' }],
      text: ' one  <b>&amp;  two ',
    });
  });

  it('drops namespace prefixes and xmlns declarations', () => {
    expect(
      parseXml('<s:a xmlns="urn:x" xmlns:s="urn:s" xmlns:xsi="urn:i" xsi:type="t" b="1"><s:c/></s:a>'),
    ).toEqual({
      name: 'a',
      attributes: { type: 't', b: '1' },
      children: [{ name: 'c', attributes: {}, children: [], text: '' }],
      text: '',
    });
  });

  it('normalizes line ends in text and whitespace in attribute values, as XML 1.0 requires', () => {
    expect(parseXml('<a b="x\ny\tz\r\n">1\r\n2\r3</a>')).toMatchObject({
      attributes: { b: 'x y z ' },
      text: '1\n2\n3',
    });
  });

  it('gives an attribute named __proto__ no power over the attributes object', () => {
    const root = parseXml('<a __proto__="x" constructor="y" b="1"/>');
    expect(Object.getPrototypeOf(root.attributes)).toBe(Object.prototype);
    expect(root.attributes.b).toBe('1');
    expect(root.attributes.constructor).toBe('y');
  });

  it('refuses a second root, trailing text, mismatched or unclosed tags and a missing root', () => {
    expect(refused('<a/><b/>').message).toBe(
      'not well-formed XML at 1:7: documents may contain only one root.',
    );
    expect(refused('<a/>x').message).toBe('not well-formed XML at 1:5: text data outside of root node.');
    expect(refused('<a><b></a>').message).toBe('not well-formed XML at 1:10: unexpected close tag.');
    expect(refused('<a><b>').message).toMatch(/^not well-formed XML at 1:6: unclosed tag: [ab]$/);
    expect(refused('<!-- no root -->').message).toBe(
      'not well-formed XML at 1:16: document must contain a root element.',
    );
  });
});

describe('errors', () => {
  it('never quote the document around the error (a logon carries a password) nor keep it as a cause', () => {
    const error = refused(
      '<cwaRequests><logon><password>hunter2-secret</password><user></logon></cwaRequests>',
    );
    expect(error.message).not.toContain('hunter2');
    expect(error.cause).toBeUndefined();
    expect(`${error.stack}`).not.toContain('hunter2');
  });

  it('stay short when the document puts a huge name in them', () => {
    const name = 'n'.repeat(100_000);
    const error = refused(`<${name}>`);
    expect(error.message).toContain('unclosed tag: nnn');
    expect(error.message.length).toBeLessThan(200);
  });
});
