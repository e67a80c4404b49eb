// A small element tree over fast-xml-parser: parse CWA's XML into ordered elements and build XML from
// them, with entities escaped and decoded by the library. No regular expressions touch XML anywhere.

import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import { checkXmlLimits, XmlLimitError } from './limits';

export interface XmlElement {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: readonly XmlElement[];
  /** The element's own text, untrimmed (message content keeps its spaces). */
  readonly text: string;
}

export class XmlFormatError extends Error {
  override readonly name = 'XmlFormatError';
}

const ATTRIBUTES = ':@';
const TEXT = '#text';
const ATTRIBUTE_PREFIX = '@_';

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: ATTRIBUTE_PREFIX,
  // Namespace prefixes (xsi:type, a default xmlns) carry no meaning for what we read.
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  // Numeric character references (&#233;) are legal XML; the library decodes them only with this on.
  htmlEntities: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  processEntities: { enabled: true, maxEntityCount: 20, maxTotalExpansions: 200, maxExpandedLength: 20_000 },
});

const builder = new XMLBuilder({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: ATTRIBUTE_PREFIX,
  suppressEmptyNode: true,
});

type OrderedNode = Record<string, unknown>;

function toElement(node: OrderedNode): XmlElement | undefined {
  const name = Object.keys(node).find((key) => key !== ATTRIBUTES);
  if (name === undefined || name === TEXT || name.startsWith('?') || name.startsWith('!')) return undefined;
  const rawAttributes = (node[ATTRIBUTES] ?? {}) as Record<string, unknown>;
  const attributes: Record<string, string> = {};
  for (const [key, value] of Object.entries(rawAttributes)) {
    const attributeName = key.startsWith(ATTRIBUTE_PREFIX) ? key.slice(ATTRIBUTE_PREFIX.length) : key;
    // removeNSPrefix leaves `xmlns` declarations behind; they are not data.
    if (attributeName === 'xmlns' || attributeName.startsWith('xmlns:')) continue;
    attributes[attributeName] = String(value);
  }
  const children: XmlElement[] = [];
  let text = '';
  for (const child of (node[name] ?? []) as OrderedNode[]) {
    if (TEXT in child) {
      text += String(child[TEXT]);
      continue;
    }
    const element = toElement(child);
    if (element) children.push(element);
  }
  return { name, attributes, children, text };
}

/** The document's root element; XmlFormatError when the text is not well-formed XML. */
export function parseXml(xml: string): XmlElement {
  const trimmed = xml.trim();
  if (trimmed.length === 0) throw new XmlFormatError('empty document');
  // Size, depth and attribute counts first, in one cheap pass: the validator and parser are far slower.
  try {
    checkXmlLimits(trimmed);
  } catch (error) {
    if (error instanceof XmlLimitError) throw new XmlFormatError(`over a limit: ${error.message}`);
    throw error;
  }
  // The parser is lenient (it accepts unclosed tags), so well-formedness is checked first.
  const validation = XMLValidator.validate(trimmed);
  if (validation !== true) {
    const { msg, line, col } = validation.err;
    throw new XmlFormatError(`not well-formed XML at ${line}:${col}: ${msg}`);
  }
  let nodes: OrderedNode[];
  try {
    nodes = parser.parse(trimmed) as OrderedNode[];
  } catch (error) {
    throw new XmlFormatError('XML could not be parsed', { cause: error });
  }
  const roots = nodes.map(toElement).filter((element): element is XmlElement => element !== undefined);
  const [root] = roots;
  if (!root || roots.length > 1) throw new XmlFormatError('a document needs exactly one root element');
  return root;
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
