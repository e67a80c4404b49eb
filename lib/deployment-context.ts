// Deployment settings read from CDK context (`-c stage=prod`, `-c throttleRateLimit=200`), validated once
// so a typo fails the synth with one clear message instead of producing a surprising stack.

import type { Node } from 'constructs';

export interface DeploymentContext {
  /** Name of the WebSocket stage and suffix of the stack name, so several stages can share an account. */
  readonly stage: string;
  /** Steady-state requests per second allowed on every route of the stage. */
  readonly throttleRateLimit: number;
  /** Requests allowed in a short burst on every route of the stage. */
  readonly throttleBurstLimit: number;
}

export const defaultDeploymentContext: DeploymentContext = {
  stage: 'dev',
  // Far below the account default (10 000 rps): a runaway or abusive client hits the stage limit long
  // before it starves other APIs in the account. Raise per stage with context as load grows.
  throttleRateLimit: 100,
  throttleBurstLimit: 200,
};

export class DeploymentContextError extends Error {
  override readonly name = 'DeploymentContextError';
}

const stagePattern = /^[A-Za-z0-9_-]{1,64}$/;

// CLI context (`-c key=value`) arrives as a string; cdk.json or tests may give a number.
function positiveNumber(
  value: unknown,
  key: string,
  integer: boolean,
  problems: string[],
): number | undefined {
  if (value === undefined) return undefined;
  const parsed = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  if (!Number.isFinite(parsed) || parsed <= 0 || (integer && !Number.isInteger(parsed))) {
    problems.push(
      `context ${key} must be a positive ${integer ? 'integer' : 'number'}, got ${String(value)}`,
    );
    return undefined;
  }
  return parsed;
}

/** Reads and validates the deployment context; absent values take `defaultDeploymentContext`. */
export function readDeploymentContext(node: Pick<Node, 'tryGetContext'>): DeploymentContext {
  const problems: string[] = [];
  const rawStage: unknown = node.tryGetContext('stage');
  let stage = defaultDeploymentContext.stage;
  if (rawStage !== undefined) {
    if (typeof rawStage === 'string' && stagePattern.test(rawStage)) stage = rawStage;
    else problems.push(`context stage must match ${stagePattern}, got ${String(rawStage)}`);
  }
  const rate = positiveNumber(node.tryGetContext('throttleRateLimit'), 'throttleRateLimit', false, problems);
  const burst = positiveNumber(
    node.tryGetContext('throttleBurstLimit'),
    'throttleBurstLimit',
    true,
    problems,
  );
  if (problems.length > 0)
    throw new DeploymentContextError(`Invalid deployment context: ${problems.join('; ')}`);
  return {
    stage,
    throttleRateLimit: rate ?? defaultDeploymentContext.throttleRateLimit,
    throttleBurstLimit: burst ?? defaultDeploymentContext.throttleBurstLimit,
  };
}
