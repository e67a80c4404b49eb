// A small element tree for CWA's XML: parse an answer into ordered elements, and build a request from them.
// Parsing is @rgrove/parse-xml: a compliant XML 1.0 parser that checks well-formedness in the same single pass
// that builds its tree (~0.05 ms for a 300-byte <cwaEvents>, against ~0.6 ms for fast-xml-parser's separate
// validate + parse, which rebuilds its entity tables on every call; `npm run bench -- cwa-xml`). It never loads a
// DTD nor expands an entity a DTD declares (no billion laughs, no external entities); it decodes only the five
// predefined entities and character references, and refuses every other named entity. Building stays on
// fast-xml-parser's XMLBuilder, which escapes text and attribute values and costs a few µs per request.
// No regular expressions touch XML anywhere.

import {
  XmlElement as LibraryElement,
  parseXml as parseDocument,
  XmlDocumentType,
  XmlError,
  XmlText,
} from '@rgrove/parse-xml';
import { XMLBuilder } from 'fast-xml-parser';
import { checkXmlLimits, XmlLimitError } from './limits';

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

/** `s:state` → `state`. */
function localName(name: string): string {
  const colon = name.indexOf(':');
  return colon < 0 ? name : name.slice(colon + 1);
}

function toElement(node: LibraryElement): XmlElement {
  const attributes: Record<string, string> = {};
  for (const [key, value] of Object.entries(node.attributes)) {
    if (key === 'xmlns' || key.startsWith('xmlns:')) continue;
    attributes[localName(key)] = value;
  }
  const children: XmlElement[] = [];
  let text = '';
  for (const child of node.children) {
    // CDATA arrives as text (preserveCdata is off); comments and processing instructions are not kept.
    if (child instanceof XmlText) text += child.text;
    else if (child instanceof LibraryElement) children.push(toElement(child));
  }
  return { name: localName(node.name), attributes, children, text };
}

/** The parser's message without its excerpt of the document (which could be a password), bounded. */
function reasonOf(error: XmlError): string {
  const firstLine = error.message.split('\n', 1)[0] ?? '';
  const at = firstLine.lastIndexOf(' (line ');
  const reason = at < 0 ? firstLine : firstLine.slice(0, at);
  return reason.length > MAX_REASON_CHARS ? `${reason.slice(0, MAX_REASON_CHARS)}…` : reason;
}

/**
 * The document's root element. Throws XmlFormatError when the text is empty, over a limit of limits.ts, not
 * well-formed XML 1.0, uses a named entity other than the five predefined ones, or has a document type
 * declaration (CWA never sends one; refusing it keeps DTD tricks out entirely).
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
  let document: ReturnType<typeof parseDocument>;
  try {
    document = parseDocument(trimmed, { preserveDocumentType: true });
  } catch (error) {
    // No `cause`: the library's own message quotes the document around the error, and causes get logged.
    if (error instanceof XmlError) {
      throw new XmlFormatError(`not well-formed XML at ${error.line}:${error.column}: ${reasonOf(error)}`);
    }
    throw new XmlFormatError('XML could not be parsed', { cause: error });
  }
  if (document.children.some((child) => child instanceof XmlDocumentType)) {
    throw new XmlFormatError('a document type declaration is not accepted');
  }
  // The parser guarantees exactly one root element in a well-formed document.
  const root = document.root;
  if (!root) throw new XmlFormatError('a document needs exactly one root element');
  return toElement(root);
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
