// A DynamoDB document client that resolves each command's middleware once per command class instead of on
// every request. The SDK's `cacheMiddleware: true` does this for a low-level client (aws-sdk-js-v3 v3.649.0,
// issue #6423), but `DynamoDBDocumentClient` refuses it (lib-dynamodb builds a new inner command per call).
// So the document commands the stores build are translated here: their input marshalled with
// `@aws-sdk/util-dynamodb` along the command's own key nodes, sent as the matching low-level command through a
// caching `DynamoDBClient`, and the output unmarshalled the same way. Same requests on the wire, same errors.

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, DynamoDBDocumentClientCommand } from '@aws-sdk/lib-dynamodb';
import {
  marshall,
  type marshallOptions,
  type NativeAttributeValue,
  unmarshall,
  type unmarshallOptions,
} from '@aws-sdk/util-dynamodb';

/**
 * Where a document command holds attribute values: `null` is a value itself; `{}` (or `[]`) means every
 * member is a value; `{'*': nodes}` applies `nodes` to every member; other keys name the members to walk.
 * lib-dynamodb declares these on each command (`inputKeyNodes`, `outputKeyNodes`).
 */
type KeyNodes = null | { readonly [key: string]: KeyNodes };

/** The parts of a lib-dynamodb command this client reads: protected there, stable across its commands. */
interface DocumentCommandParts {
  readonly input: object;
  readonly inputKeyNodes: KeyNodes;
  readonly outputKeyNodes: KeyNodes;
  readonly clientCommand: { readonly constructor: new (input: object) => object };
}

type Convert = (value: unknown) => unknown;

/** Walks `value` along `nodes` and converts the attribute values found; other members are kept as they are. */
function convertNodes(value: unknown, nodes: KeyNodes, convert: Convert): unknown {
  if (value === undefined) return value;
  if (nodes === null) return convert(value);
  if (typeof value !== 'object' || value === null) return value;
  const keys = Object.keys(nodes);
  if (keys.length === 0) return mapMembers(value, (member) => convert(member));
  if (keys.length === 1 && keys[0] === '*') {
    const each = nodes['*'] as KeyNodes;
    return mapMembers(value, (member) => convertNodes(member, each, convert));
  }
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const key of keys) {
    if (key in out) out[key] = convertNodes(out[key], nodes[key] as KeyNodes, convert);
  }
  return out;
}

/** An undefined member stays undefined (an array keeps its place; a map drops it), as in lib-dynamodb. */
function mapMembers(value: object, convert: Convert): unknown {
  if (Array.isArray(value))
    return value.map((member) => (member === undefined ? undefined : convert(member)));
  const out: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) {
    if (member !== undefined) out[key] = convert(member);
  }
  return out;
}

function isDocumentCommand(command: unknown): command is DocumentCommandParts {
  return command instanceof DynamoDBDocumentClientCommand;
}

export interface CachedDocumentClientOptions {
  readonly marshallOptions?: marshallOptions;
  readonly unmarshallOptions?: unmarshallOptions;
}

/**
 * A `DynamoDBDocumentClient` (so stores, paginators and types take it as one) whose `send` goes through
 * `sender`, a low-level client built with `cacheMiddleware: true` and any middleware added before its first
 * request. `shell` is a second client that only gives the document client its configuration; it sends nothing.
 */
export class CachedDocumentClient extends DynamoDBDocumentClient {
  private readonly marshalling: marshallOptions;
  private readonly unmarshalling: unmarshallOptions;

  constructor(
    private readonly sender: DynamoDBClient,
    shell: DynamoDBClient,
    options: CachedDocumentClientOptions = {},
  ) {
    super(shell, options);
    // lib-dynamodb's own defaults for its commands (DynamoDBDocumentClientCommand.addMarshallingMiddleware).
    this.marshalling = { convertTopLevelContainer: true, ...options.marshallOptions };
    this.unmarshalling = { convertWithoutMapWrapper: true, ...options.unmarshallOptions };
  }

  // biome-ignore lint/suspicious/noExplicitAny: the overloads of Client.send take every command of the client.
  override send(command: any, optionsOrCallback?: any, callback?: any): any {
    if (optionsOrCallback !== undefined || callback !== undefined) {
      throw new TypeError('CachedDocumentClient.send takes a command only (no options, no callback)');
    }
    if (!isDocumentCommand(command)) return this.sender.send(command);
    return this.sendDocument(command);
  }

  private async sendDocument(command: DocumentCommandParts): Promise<unknown> {
    const input = convertNodes(command.input, command.inputKeyNodes, (value) =>
      marshall(value as Record<string, NativeAttributeValue>, this.marshalling),
    ) as object;
    const LowLevel = command.clientCommand.constructor;
    // biome-ignore lint/suspicious/noExplicitAny: any low-level DynamoDB command.
    const output = await this.sender.send(new LowLevel(input) as any);
    return convertNodes(output, command.outputKeyNodes, (value) =>
      // biome-ignore lint/suspicious/noExplicitAny: an AttributeValue map or one AttributeValue.
      unmarshall(value as any, this.unmarshalling),
    );
  }
}
