// The WebSocket stage's throttling, read by both the CDK stage (lib/) and the local gateway (local/), as the
// route table in routes.ts is: one definition, so the local stack throttles exactly as the deployed stage.

/** API Gateway stage throttling: a token bucket per route refilled at `rateLimit`, holding `burstLimit`. */
export interface StageThrottle {
  /** Steady-state requests per second on each route of the stage (connects and messages alike). */
  readonly rateLimit: number;
  /** Requests a route may take at once: the bucket's size. */
  readonly burstLimit: number;
}

/**
 * Default route throttling of the stage. Far below the account default (10,000 rps, bursts of 5,000): a
 * runaway or abusive client hits the stage limit long before it starves other APIs in the account. Raise per
 * stage with CDK context (`-c throttleRateLimit=… -c throttleBurstLimit=…`) as load grows.
 */
export const stageThrottle: StageThrottle = { rateLimit: 100, burstLimit: 200 };
