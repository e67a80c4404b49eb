// A small element tree for CWA's XML: parse an answer into ordered elements, and build a request from them.
// Parsing is saxes (the strict, well-formedness-checking XML 1.0 parser under jsdom): one pass checks the document
// and feeds the handlers below, which build the tree. On this project's answers (`npm run bench -- cwa-xml`) that
// costs a quarter to a tenth of fast-xml-parser's separate validate + parse, which rebuilt its entity tables on every
// call; side by side, @rgrove/parse-xml 5 took about twice as long on a 6 KB answer and needs Node ≥ 22.12 where
// this project supports Node 20. saxes never loads a DTD nor expands an entity a DTD declares (no billion laughs,
// no external entities): it decodes only the five predefined entities and character references and refuses any
// other named entity; a DOCTYPE is refused outright below. Building stays on fast-xml-parser's XMLBuilder, which
// escapes text and attribute values at a few tens of µs per request (requests are built per command, not per poll).
// No regular expressions touch XML anywhere.

import { XMLBuilder } from 'fast-xml-parser';
import { SaxesParser } from 'saxes';
import { checkXmlLimits, XML_LIMITS, XmlLimitError } from './limits';

export interface XmlElement {
  /** Local name: a namespace prefix (`s:state`) is dropped, as namespaces carry no meaning for what we read. */
  readonly name: string;
  /** Attributes by local name; `xmlns` declarations are not data and are left out. */
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: readonly XmlElement[];
  /** The element's own text and CDATA, untrimmed (message content keeps its spaces). */
  readonly text: string;
}

export class XmlFormatError extends Error {
  override readonly name = 'XmlFormatError';
}

const ATTRIBUTES = ':@';
const TEXT = '#text';
const ATTRIBUTE_PREFIX = '@_';

/** How much of the parser's own explanation an error keeps: names in it come from the untrusted document. */
const MAX_REASON_CHARS = 120;

const builder = new XMLBuilder({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: ATTRIBUTE_PREFIX,
  suppressEmptyNode: true,
});

type OrderedNode = Record<string, unknown>;

interface Building {
  readonly name: string;
  readonly attributes: Record<string, string>;
  readonly children: XmlElement[];
  text: string;
}

/** `s:state` → `state`. */
function localName(name: string): string {
  const colon = name.indexOf(':');
  return colon < 0 ? name : name.slice(colon + 1);
}

/** The parser's reason for refusing, bounded; its own `line:column: ` prefix is restated by the caller. */
function reasonOf(error: Error): string {
  const reason = error.message.slice(error.message.indexOf(': ') + 2);
  return reason.length > MAX_REASON_CHARS ? `${reason.slice(0, MAX_REASON_CHARS)}…` : reason;
}

/** One pass of saxes over `xml`, building the tree; throws what saxes throws, or XmlFormatError. */
function buildTree(xml: string, parser: SaxesParser): XmlElement | undefined {
  // The document itself is the bottom of the stack: it collects the root (and whitespace around it).
  const document: Building = { name: '', attributes: {}, children: [], text: '' };
  const open: Building[] = [document];
  let top = document;
  parser.on('doctype', () => {
    // CWA never sends one; refusing it keeps every DTD trick out, whatever saxes would make of it.
    throw new XmlFormatError('a document type declaration is not accepted');
  });
  parser.on('opentag', (tag) => {
    const attributes: Record<string, string> = {};
    for (const [key, value] of Object.entries(tag.attributes)) {
      if (key === 'xmlns' || key.startsWith('xmlns:')) continue;
      attributes[localName(key)] = value;
    }
    const element: Building = { name: localName(tag.name), attributes, children: [], text: '' };
    top.children.push(element);
    open.push(element);
    top = element;
  });
  parser.on('closetag', () => {
    open.pop();
    top = open[open.length - 1] ?? document;
  });
  // CDATA is text; comments and processing instructions have no handler, so they are not kept.
  parser.on('text', (text) => {
    top.text += text;
  });
  parser.on('cdata', (text) => {
    top.text += text;
  });
  parser.write(xml).close();
  return document.children[0];
}

/**
 * The document's root element. Throws XmlFormatError when the text is empty, over a limit of limits.ts, not
 * well-formed XML 1.0, uses a named entity other than the five predefined ones, or has a document type
 * declaration. The message names the line, column and reason, never the text around the error.
 */
export function parseXml(xml: string): XmlElement {
  const trimmed = xml.trim();
  if (trimmed.length === 0) throw new XmlFormatError('empty document');
  // Size, depth and attribute counts first, in one cheap pass, so the parser only ever sees bounded input.
  try {
    checkXmlLimits(trimmed);
  } catch (error) {
    if (error instanceof XmlLimitError) throw new XmlFormatError(`over a limit: ${error.message}`);
    throw error;
  }
  const parser = new SaxesParser();
  let root: XmlElement | undefined;
  try {
    root = buildTree(trimmed, parser);
  } catch (error) {
    if (error instanceof XmlFormatError) throw error;
    // saxes throws a plain Error for every well-formedness fault; anything else is no less a refusal.
    const reason = error instanceof Error ? reasonOf(error) : 'XML could not be parsed';
    throw new XmlFormatError(`not well-formed XML at ${parser.line}:${parser.column}: ${reason}`);
  }
  // saxes refuses a document without a root element, so this is a guard for the types.
  if (!root) throw new XmlFormatError('a document needs exactly one root element');
  return root;
}

/** XML declarations the lone-element path accepts as they are; any other goes to the full parser. */
const PLAIN_DECLARATIONS = [
  '<?xml version="1.0"?>',
  '<?xml version="1.0" encoding="utf-8"?>',
  '<?xml version="1.0" encoding="UTF-8"?>',
];

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
/** ASCII letters and `_`: what an attribute or element name may start with on this path. */
const isNameStart = (c: number) => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f;
/** Then also digits, `-` and `.` (and `:` for a prefix, handled by the caller). */
const isNameChar = (c: number) => isNameStart(c) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e;

/**
 * The root element of a document that is one empty element named `name` with plain attributes — an idle data
 * channel's `<cwaEvents sid="…" ackId="…" pollWaitTime="…" sessionTimeout="…"/>`, twenty times a minute per
 * session — read in one pass without the full parser; undefined for anything else, which the caller then gives
 * to parseXml. It accepts only a strict subset of XML whose tree is beyond doubt, and returns exactly what
 * parseXml would: an optional declaration from PLAIN_DECLARATIONS; the start tag with ASCII names
 * (`xmlns`/`xmlns:*` dropped, `p:name` read as `name`) and values in double or single quotes holding no `<`, `&`,
 * character outside printable ASCII or the quote; at most XML_LIMITS.maxAttributesPerElement attributes; no attribute twice; `/>` or an immediate `</name>`; whitespace around.
 * Everything else — entities, character references, comments, a prefixed root, text, children, a second root,
 * a DOCTYPE — is left to parseXml, so nothing it would refuse is ever accepted here.
 */
export function parseLoneElement(xml: string, name: string): XmlElement | undefined {
  if (xml.length > 4096) return undefined;
  let i = 0;
  const n = xml.length;
  while (i < n && isSpace(xml.charCodeAt(i))) i++;
  if (xml.startsWith('<?', i)) {
    const declaration = PLAIN_DECLARATIONS.find((text) => xml.startsWith(text, i));
    if (!declaration) return undefined;
    i += declaration.length;
    while (i < n && isSpace(xml.charCodeAt(i))) i++;
  }
  if (xml.charCodeAt(i) !== 0x3c || !xml.startsWith(name, i + 1)) return undefined;
  i += 1 + name.length;
  const attributes: Record<string, string> = {};
  const seen = new Set<string>();
  for (;;) {
    const before = i;
    while (i < n && isSpace(xml.charCodeAt(i))) i++;
    const c = xml.charCodeAt(i);
    if (c === 0x2f) {
      // `/>`: the element is empty.
      if (xml.charCodeAt(i + 1) !== 0x3e) return undefined;
      i += 2;
      break;
    }
    if (c === 0x3e) {
      // `>` must be followed at once by the end tag: text or children go to the full parser.
      const end = `</${name}>`;
      if (!xml.startsWith(end, i + 1)) return undefined;
      i += 1 + end.length;
      break;
    }
    // An attribute: whitespace before it, then a name, `=`, a quoted value.
    if (i === before || !isNameStart(c)) return undefined;
    const start = i;
    let colon = -1;
    i++;
    while (i < n) {
      const d = xml.charCodeAt(i);
      if (d === 0x3a && colon < 0) colon = i;
      else if (!isNameChar(d)) break;
      i++;
    }
    const qualified = xml.slice(start, i);
    if (colon >= 0 && (colon === start || colon === i - 1 || !isNameStart(xml.charCodeAt(colon + 1))))
      return undefined;
    if (seen.has(qualified) || xml.charCodeAt(i) !== 0x3d) return undefined;
    seen.add(qualified);
    // parseXml refuses an element over the attribute limit (limits.ts); so does this path.
    if (seen.size > XML_LIMITS.maxAttributesPerElement) return undefined;
    const quote = xml.charCodeAt(i + 1);
    if (quote !== 0x22 && quote !== 0x27) return undefined;
    const valueStart = i + 2;
    let j = valueStart;
    for (; j < n; j++) {
      const d = xml.charCodeAt(j);
      if (d === quote) break;
      // Printable ASCII only: no character the full parser would refuse or normalize, no reference.
      if (d === 0x3c || d === 0x26 || d < 0x20 || d > 0x7e) return undefined;
    }
    if (j >= n) return undefined;
    i = j + 1;
    if (qualified === 'xmlns' || qualified.startsWith('xmlns:')) continue;
    const local = colon < 0 ? qualified : qualified.slice(colon - start + 1);
    // `a:x` and `b:x` would both be `x`: the full parser decides what that means.
    if (local in attributes) return undefined;
    attributes[local] = xml.slice(valueStart, j);
  }
  while (i < n && isSpace(xml.charCodeAt(i))) i++;
  if (i !== n) return undefined;
  return { name, attributes, children: [], text: '' };
}

/** What builders pass in: attributes with undefined values are left out. */
export interface XmlNode {
  readonly name: string;
  readonly attributes?: Readonly<Record<string, string | number | undefined>>;
  readonly children?: readonly XmlNode[];
  readonly text?: string;
}

export function element(
  name: string,
  attributes: XmlNode['attributes'] = {},
  ...children: (XmlNode | string | undefined)[]
): XmlNode {
  const nodes: XmlNode[] = [];
  let text: string | undefined;
  for (const child of children) {
    if (child === undefined) continue;
    if (typeof child === 'string') text = (text ?? '') + child;
    else nodes.push(child);
  }
  return { name, attributes, children: nodes, ...(text === undefined ? {} : { text }) };
}

function toOrdered(node: XmlNode): OrderedNode {
  const content: OrderedNode[] = [];
  if (node.text !== undefined && node.text !== '') content.push({ [TEXT]: node.text });
  for (const child of node.children ?? []) content.push(toOrdered(child));
  const ordered: OrderedNode = { [node.name]: content };
  const attributes: Record<string, string> = {};
  for (const [key, value] of Object.entries(node.attributes ?? {})) {
    if (value !== undefined) attributes[`${ATTRIBUTE_PREFIX}${key}`] = String(value);
  }
  if (Object.keys(attributes).length > 0) ordered[ATTRIBUTES] = attributes;
  return ordered;
}

export function buildXml(node: XmlNode): string {
  return builder.build([toOrdered(node)]) as string;
}

export function childElement(parent: XmlElement, name: string): XmlElement | undefined {
  return parent.children.find((child) => child.name === name);
}

export function childElements(parent: XmlElement, name: string): XmlElement[] {
  return parent.children.filter((child) => child.name === name);
}

/** Trimmed text of a child element; undefined when the child is absent. */
export function childText(parent: XmlElement, name: string): string | undefined {
  const child = childElement(parent, name);
  return child === undefined ? undefined : child.text.trim();
}

/**
 * An integer attribute or child text; undefined when absent, not an integer, or outside the safe integers
 * (±2^53−1): a bigger number would lose its last digits (or turn into Infinity) and compare wrongly.
 */
export function integerOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  // 16 digits already exceed 2^53; refusing longer text up front keeps parsing it cheap.
  if (trimmed === '' || trimmed.length > 17 || !/^-?\d+$/.test(trimmed)) return undefined;
  const n = Number.parseInt(trimmed, 10);
  return Number.isSafeInteger(n) ? n : undefined;
}
