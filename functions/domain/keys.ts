// Key builders for the single service table: every item kind's pk/sk in one place (docs/data-model.md).

export interface ItemKey {
  readonly pk: string;
  readonly sk: string;
}

export function connectionKey(connectionId: string): ItemKey {
  return { pk: `CONN#${connectionId}`, sk: 'CONN' };
}
