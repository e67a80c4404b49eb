// Waiting on a call for at most what an invocation can spare: Lambda stops an invocation at its timeout with
// nothing said to anyone, so a step that may hang (a CWA request) is abandoned in time for the handler to
// answer by itself.

/**
 * `work`, or the error `expired(budgetMs)` makes once `budgetMs` (ms; 0 or less: at once) has passed. The work
 * is abandoned, not awaited or cancelled: it runs on while the invocation does, and its outcome is dropped.
 */
export async function withinBudget<T>(
  work: Promise<T>,
  budgetMs: number,
  expired: (budgetMs: number) => Error,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(expired(budgetMs)), Math.max(0, budgetMs));
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
