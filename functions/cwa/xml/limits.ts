// Limits on an XML answer before any parser sees it: one linear pass that counts size, nesting depth,
// elements and attributes, so that a hostile or broken CWA answer (megabytes of attributes, thousands of
// nested elements) is refused in milliseconds instead of holding the process for seconds. The values are
// far above what CWA 2007 sends (its largest answers are event batches of a few KB) and are listed in
// docs/security.md. Hand-written because it must stay cheaper than the parsing it guards.

export const XML_LIMITS = {
  /** Characters in one document. */
  maxChars: 1024 * 1024,
  /** Elements nested inside one another. */
  maxDepth: 32,
  /** Elements in one document. */
  maxElements: 20_000,
  /** Attributes on one element. */
  maxAttributesPerElement: 32,
  /** Attributes in one document. */
  maxAttributes: 40_000,
} as const;

export class XmlLimitError extends Error {
  override readonly name = 'XmlLimitError';
}

/** Skips from `from` to just past `end`; the document's length when `end` never comes. */
function skipPast(xml: string, from: number, end: string): number {
  const at = xml.indexOf(end, from);
  return at < 0 ? xml.length : at + end.length;
}

/** Throws XmlLimitError naming the first limit the document exceeds. Well-formedness is not judged here. */
export function checkXmlLimits(xml: string, limits = XML_LIMITS): void {
  if (xml.length > limits.maxChars) {
    throw new XmlLimitError(`the document has ${xml.length} characters; at most ${limits.maxChars}`);
  }
  let depth = 0;
  let elements = 0;
  let attributes = 0;
  let i = 0;
  while (i < xml.length) {
    const open = xml.indexOf('<', i);
    if (open < 0) break;
    const next = xml[open + 1];
    if (next === '/') {
      depth -= 1;
      i = skipPast(xml, open, '>');
      continue;
    }
    if (next === '?') {
      i = skipPast(xml, open, '?>');
      continue;
    }
    if (next === '!') {
      const end = xml.startsWith('<!--', open) ? '-->' : xml.startsWith('<![CDATA[', open) ? ']]>' : '>';
      i = skipPast(xml, open, end);
      continue;
    }
    elements += 1;
    if (elements > limits.maxElements) throw new XmlLimitError(`more than ${limits.maxElements} elements`);
    // Through the start tag: `=` outside quotes starts an attribute; a quoted value may hold `>`.
    let quote: string | undefined;
    let own = 0;
    let j = open + 1;
    for (; j < xml.length; j += 1) {
      const c = xml[j];
      if (quote) {
        if (c === quote) quote = undefined;
      } else if (c === '"' || c === "'") quote = c;
      else if (c === '=') own += 1;
      else if (c === '>') break;
    }
    if (own > limits.maxAttributesPerElement) {
      throw new XmlLimitError(`an element has ${own} attributes; at most ${limits.maxAttributesPerElement}`);
    }
    attributes += own;
    if (attributes > limits.maxAttributes)
      throw new XmlLimitError(`more than ${limits.maxAttributes} attributes`);
    if (xml[j - 1] !== '/') {
      depth += 1;
      if (depth > limits.maxDepth) throw new XmlLimitError(`elements nested deeper than ${limits.maxDepth}`);
    }
    i = j + 1;
  }
}
