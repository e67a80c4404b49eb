// DynamoDB's item size and key arithmetic on the wire format ({"S": "..."} attribute values), as AWS counts
// them: attribute names plus values in UTF-8 bytes, numbers by significant digits. Source: DynamoDB developer
// guide, "Item sizes and formats" and "Read/write capacity units".

export type AttributeValue = Record<string, unknown>;
export type Item = Record<string, AttributeValue>;

/** 400 KB, the largest item DynamoDB stores (names and values, UTF-8). */
export const MAX_ITEM_BYTES = 400 * 1024;

const utf8 = (text: string): number => Buffer.byteLength(text, 'utf8');

/** Bytes of a number: about one byte per two significant digits, plus one (leading/trailing zeros free). */
function numberSize(text: string): number {
  const digits = text
    .replace(/^[-+]/, '')
    .replace(/[eE].*$/, '')
    .replace('.', '')
    .replace(/^0+/, '');
  const significant = digits.replace(/0+$/, '').length;
  return Math.ceil(Math.max(significant, 1) / 2) + 1;
}

export function valueSize(value: AttributeValue): number {
  const [type, inner] = Object.entries(value)[0] ?? [];
  switch (type) {
    case 'S':
      return utf8(String(inner));
    case 'N':
      return numberSize(String(inner));
    case 'B':
      return Buffer.from(String(inner), 'base64').length;
    case 'BOOL':
    case 'NULL':
      return 1;
    case 'SS':
      return (inner as string[]).reduce((sum, s) => sum + utf8(s), 0);
    case 'NS':
      return (inner as string[]).reduce((sum, n) => sum + numberSize(n), 0);
    case 'BS':
      return (inner as string[]).reduce((sum, b) => sum + Buffer.from(b, 'base64').length, 0);
    case 'L':
      // 3 bytes of overhead, one per element.
      return 3 + (inner as AttributeValue[]).reduce((sum, v) => sum + 1 + valueSize(v), 0);
    case 'M':
      return (
        3 + Object.entries(inner as Item).reduce((sum, [name, v]) => sum + 1 + utf8(name) + valueSize(v), 0)
      );
    default:
      return 0;
  }
}

export function itemSize(item: Item | undefined): number {
  if (!item) return 0;
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += utf8(name) + valueSize(value);
  return size;
}

/** Write units: one per started KB, at least one. */
export function writeUnits(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / 1024));
}

/** Strongly consistent read units: one per started 4 KB, at least one. */
export function readUnits(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / 4096));
}

/** A number as its significant digits and exponent: "1.50", "15e-1" and "+1.5" all read "15e-1". */
function canonicalNumber(text: string): string {
  const match = /^([-+]?)(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?$/.exec(text);
  if (!match) return text;
  const [, sign = '', whole = '', fraction = '', exponent = '0'] = match;
  let digits = `${whole}${fraction}`.replace(/^0+/, '');
  let power = Number(exponent) - fraction.length;
  while (digits.endsWith('0')) {
    digits = digits.slice(0, -1);
    power++;
  }
  return digits === '' ? '0' : `${sign === '-' ? '-' : ''}${digits}e${power}`;
}

/**
 * A value in one spelling, whoever wrote it: members of maps by name, of sets sorted, numbers as digits and
 * exponent. A client's item and DynamoDB's answer for the same stored item differ in exactly these (DynamoDB
 * keeps neither a set's order nor a number's spelling); sizes are unchanged (numberSize counts digits).
 */
export function canonicalValue(value: AttributeValue): AttributeValue {
  const [type, inner] = Object.entries(value)[0] ?? [];
  switch (type) {
    case 'N':
      return { N: canonicalNumber(String(inner)) };
    case 'SS':
    case 'BS':
      return { [type]: [...(inner as string[])].sort() };
    case 'NS':
      return { NS: (inner as string[]).map(canonicalNumber).sort() };
    case 'L':
      return { L: (inner as AttributeValue[]).map(canonicalValue) };
    case 'M':
      return { M: canonicalItem(inner as Item) };
    default:
      return value;
  }
}

/** An item with its attributes in name order and each value in canonicalValue's spelling. */
export function canonicalItem(item: Item): Item {
  const names = Object.keys(item).sort();
  return Object.fromEntries(names.map((name) => [name, canonicalValue(item[name] as AttributeValue)]));
}
