// Cost of reading CWA's XML (functions/cwa/xml/tree.ts): µs per parse of the answers the event pump and the
// sign-in read — an empty, a one-event and a 20-event <cwaEvents>, and a sign-in <cwaResponses> — built by the
// CWA simulator's own answer builders. Side by side with what tree.ts did before (fast-xml-parser's
// XMLValidator.validate, then XMLParser.parse, then the same element tree), kept here only for the ratio; and
// the cost of building a sendMessage request with XMLBuilder. Old and new alternate in rounds; the figure is the
// median round. Both parsers must give the same tree for every document, or the benchmark fails.
// Run: npx tsx bench/cwa-xml.ts [--rounds 7] [--ms-per-round 300]

import { deepStrictEqual } from 'node:assert';
import { parseArgs } from 'node:util';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { cwaEvents, cwaResponses, events, logonAnswer, withEid } from '../cwa-sim/answers';
import { checkXmlLimits } from '../functions/cwa/xml/limits';
import { buildSendMessageRequest } from '../functions/cwa/xml/requests';
import { parseEventsResponse } from '../functions/cwa/xml/responses';
import { element, parseXml, type XmlElement } from '../functions/cwa/xml/tree';
import { summarize, table } from './measure';

// --- The parse tree.ts used before @rgrove/parse-xml: same options, same tree. ---
const ATTRIBUTES = ':@';
const TEXT = '#text';
const PREFIX = '@_';
const oldParser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: PREFIX,
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  htmlEntities: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  processEntities: { enabled: true, maxEntityCount: 20, maxTotalExpansions: 200, maxExpandedLength: 20_000 },
});
type OrderedNode = Record<string, unknown>;
function oldElement(node: OrderedNode): XmlElement | undefined {
  const name = Object.keys(node).find((key) => key !== ATTRIBUTES);
  if (name === undefined || name === TEXT || name.startsWith('?') || name.startsWith('!')) return undefined;
  const attributes: Record<string, string> = {};
  for (const [key, value] of Object.entries((node[ATTRIBUTES] ?? {}) as Record<string, unknown>)) {
    const attribute = key.startsWith(PREFIX) ? key.slice(PREFIX.length) : key;
    if (attribute === 'xmlns' || attribute.startsWith('xmlns:')) continue;
    attributes[attribute] = String(value);
  }
  const children: XmlElement[] = [];
  let text = '';
  for (const child of (node[name] ?? []) as OrderedNode[]) {
    if (TEXT in child) text += String(child[TEXT]);
    else {
      const each = oldElement(child);
      if (each) children.push(each);
    }
  }
  return { name, attributes, children, text };
}
function oldParseXml(xml: string): XmlElement {
  const trimmed = xml.trim();
  checkXmlLimits(trimmed);
  if (XMLValidator.validate(trimmed) !== true) throw new Error('not well-formed');
  const [root] = (oldParser.parse(trimmed) as OrderedNode[])
    .map(oldElement)
    .filter((each): each is XmlElement => each !== undefined);
  if (!root) throw new Error('no root');
  return root;
}

// --- Typical answers, from the simulator's builders. ---
const FORMAT = 'X-MMS-IM-Format: FN=Arial; EF=; CO=000000; CS=1; PF=00';
const session = { sid: 330, pollWaitTimeMs: 3000, sessionTimeoutSeconds: 594 };
const message = (n: number) => ({
  format: FORMAT,
  content: `message ${n}: the meeting is at 1pm & not later`,
});
const mixed = (n: number) => {
  const kind = n % 4;
  const body =
    kind === 0
      ? events.conference(1, events.messageReceived('sip:bot@contoso.com', message(n)))
      : kind === 1
        ? events.conference(1, events.composingState('sip:bot@contoso.com', n % 8 === 1))
        : kind === 2
          ? events.userPresence('sip:peer@contoso.com', 3500, n)
          : events.conference(
              2,
              events.imSessionReceived({ uri: 'sip:bot@contoso.com', name: 'Bot' }, message(n)),
            );
  return withEid(body, 100 + n);
};
const documents: readonly { name: string; xml: string }[] = [
  { name: 'empty <cwaEvents>', xml: cwaEvents({ ...session, ackId: 12, items: [] }) },
  {
    name: 'one-event <cwaEvents>',
    xml: cwaEvents({
      ...session,
      ackId: 13,
      items: [withEid(events.conference(1, events.messageReceived('sip:bot@contoso.com', message(1))), 13)],
    }),
  },
  {
    name: '20-event <cwaEvents>',
    xml: cwaEvents({ ...session, ackId: 120, items: Array.from({ length: 20 }, (_, n) => mixed(n)) }),
  },
  { name: 'sign-in <cwaResponses> (logon)', xml: logonAnswer('sip:jaya@contoso.com', 'opaque-sign-in-data') },
  {
    name: 'sign-in <cwaResponses> (initiateSession)',
    xml: cwaResponses([
      element(
        'requestAccepted',
        { rid: 1 },
        element('sid', {}, '330'),
        element('uri', {}, 'sip:jaya@contoso.com'),
        element('pollWaitTime', {}, '3000'),
      ),
    ]),
  },
];

/** µs per call of `run` over about `budgetMs`. */
function perCall(run: () => unknown, budgetMs: number): number {
  let calls = 0;
  const started = performance.now();
  let elapsed = 0;
  do {
    for (let i = 0; i < 50; i++) run();
    calls += 50;
    elapsed = performance.now() - started;
  } while (elapsed < budgetMs);
  return (elapsed * 1000) / calls;
}

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '7' }, 'ms-per-round': { type: 'string', default: '300' } },
});
const rounds = Number(values.rounds);
const budgetMs = Number(values['ms-per-round']);
if (!(Number.isInteger(rounds) && rounds > 0 && budgetMs > 0)) throw new Error('--rounds and --ms-per-round');

const rows = [['document', 'bytes', 'old µs', 'new µs', 'old ÷ new', 'parseEventsResponse µs']];
for (const { name, xml } of documents) {
  deepStrictEqual(parseXml(xml), oldParseXml(xml), `old and new disagree on ${name}`);
  const isEvents = xml.startsWith('<cwaEvents');
  perCall(() => oldParseXml(xml), budgetMs / 3); // warm-up
  perCall(() => parseXml(xml), budgetMs / 3);
  const old: number[] = [];
  const now: number[] = [];
  const full: number[] = [];
  for (let round = 0; round < rounds; round++) {
    old.push(perCall(() => oldParseXml(xml), budgetMs));
    now.push(perCall(() => parseXml(xml), budgetMs));
    if (isEvents) full.push(perCall(() => parseEventsResponse(xml), budgetMs));
  }
  const o = summarize(old).p50;
  const n = summarize(now).p50;
  rows.push([
    name,
    String(xml.length),
    o.toFixed(1),
    n.toFixed(1),
    `${(o / n).toFixed(1)}×`,
    isEvents ? summarize(full).p50.toFixed(1) : '',
  ]);
}
console.log(`Median of ${rounds} rounds of ~${budgetMs} ms each, old and new alternating:`);
console.log(table(rows));

const request = () =>
  buildSendMessageRequest({ sid: '330', rid: '7', confId: '1', text: message(1).content, format: FORMAT });
perCall(request, budgetMs / 3);
const built = Array.from({ length: rounds }, () => perCall(request, budgetMs));
console.log(`Building a sendMessage request (XMLBuilder): ${summarize(built).p50.toFixed(1)} µs`);
