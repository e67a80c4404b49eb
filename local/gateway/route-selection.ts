// Route selection on `$request.body.action`, the only selection expression the stand-in supports
// (it is the one functions/routes.ts declares).

import type { RouteDefinition } from '../../functions/routes';

/** The action a message names, if its body is a JSON object with a string `action`. */
export function actionOf(body: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const action = (parsed as { action?: unknown }).action;
  return typeof action === 'string' ? action : undefined;
}

/**
 * The route a message goes to: the custom route named by its action, else `$default`, else none
 * (API Gateway then answers "Forbidden"). Reserved keys (`$connect`…) can never be selected by an action.
 */
export function selectRoute(routes: readonly RouteDefinition[], body: string): RouteDefinition | undefined {
  const action = actionOf(body);
  const custom =
    action === undefined || action.startsWith('$')
      ? undefined
      : routes.find((route) => route.routeKey === action);
  return custom ?? routes.find((route) => route.routeKey === '$default');
}

export function findRoute(routes: readonly RouteDefinition[], routeKey: string): RouteDefinition | undefined {
  return routes.find((route) => route.routeKey === routeKey);
}
