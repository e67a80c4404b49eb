// Identifiers and timestamps in API Gateway's formats: ids like `R1kmxc2VNjMCFIA=` and the CLF
// `requestTime` (`20/Jan/2024:11:55:08 +0000`).

import { randomBytes } from 'node:crypto';

/**
 * 11 random bytes in standard base64: 16 characters ending in one `=`, like the ids in AWS samples.
 * The standard alphabet yields `+` and `/`, which is what makes URL encoding in @connections paths matter.
 */
export function newAwsStyleId(): string {
  return randomBytes(11).toString('base64');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

const pad = (value: number) => String(value).padStart(2, '0');

/** Common Log Format in UTC, as `requestContext.requestTime`. */
export function clfTime(epochMs: number): string {
  const d = new Date(epochMs);
  const date = `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}`;
  return `${date}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}
