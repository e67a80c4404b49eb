// What a warning says about an error: its name and (bounded) message — never its cause chain, a request,
// or anything else that could carry a ticket or a credential into a log.

export function errorDetail(error: unknown): { readonly error: string; readonly errorMessage?: string } {
  if (!(error instanceof Error)) return { error: typeof error };
  // Our errors' messages name a server, a limit or an element, never a credential; bound them regardless.
  // Not `message`: Powertools Logger reserves that key and would drop it (and warn).
  return { error: error.name, errorMessage: error.message.slice(0, 300) };
}
