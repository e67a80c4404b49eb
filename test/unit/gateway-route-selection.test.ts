// Route selection of the gateway stand-in on $request.body.action.

import { describe, expect, it } from 'vitest';
import type { RouteDefinition } from '../../functions/routes';
import { actionOf, selectRoute } from '../../local/gateway/route-selection';

const route = (routeKey: string): RouteDefinition => ({
  routeKey,
  name: routeKey,
  entry: 'x',
  returnResponse: true,
});
const withDefault = [route('$connect'), route('$disconnect'), route('$default'), route('sendMessage')];
const withoutDefault = [route('$connect'), route('sendMessage')];

describe('actionOf', () => {
  it.each([
    ['{"action":"sendMessage"}', 'sendMessage'],
    ['  {"action":"a b","x":1} ', 'a b'],
    ['{"action":""}', ''],
    ['{"action":1}', undefined],
    ['{"action":null}', undefined],
    ['{"Action":"sendMessage"}', undefined],
    ['[{"action":"sendMessage"}]', undefined],
    ['"sendMessage"', undefined],
    ['null', undefined],
    ['not json', undefined],
    ['', undefined],
  ])('%j → %j', (body, expected) => {
    expect(actionOf(body)).toBe(expected);
  });
});

describe('selectRoute', () => {
  it('selects the custom route the action names', () => {
    expect(selectRoute(withDefault, '{"action":"sendMessage"}')?.routeKey).toBe('sendMessage');
    expect(selectRoute(withoutDefault, '{"action":"sendMessage"}')?.routeKey).toBe('sendMessage');
  });

  it('falls back to $default for unknown actions, no action, and non-JSON bodies', () => {
    for (const body of ['{"action":"dance"}', '{}', 'hello', '{"action":"SendMessage"}']) {
      expect(selectRoute(withDefault, body)?.routeKey).toBe('$default');
    }
  });

  it('never lets an action select a reserved route', () => {
    expect(selectRoute(withDefault, '{"action":"$disconnect"}')?.routeKey).toBe('$default');
    expect(selectRoute(withoutDefault, '{"action":"$connect"}')).toBeUndefined();
  });

  it('selects nothing when no route matches and there is no $default', () => {
    expect(selectRoute(withoutDefault, '{"action":"dance"}')).toBeUndefined();
    expect(selectRoute(withoutDefault, 'hello')).toBeUndefined();
  });
});
