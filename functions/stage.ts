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
 * Default route throttling of the stage: sized for the specified peak, a storm of 2,000 logins per second
 * with none lost to throttling (and 100,000 sessions' heartbeats, about 1,700 pings per second, on their own
 * route), with a quarter to spare. Still half the account's default (10,000 rps, bursts of 5,000), so a
 * runaway client cannot take the whole account. At the former 100 rps with bursts of 200, the local
 * gateway answered 773 of 1,000 simultaneous logins with "Too Many Requests", as the deployed stage would.
 * Override per deployment with CDK context (`-c throttleRateLimit=… -c throttleBurstLimit=…`).
 */
export const stageThrottle: StageThrottle = { rateLimit: 2_500, burstLimit: 2_500 };
