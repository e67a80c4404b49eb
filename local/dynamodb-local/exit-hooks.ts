// Stops running DynamoDB Local JVMs when this process exits or gets SIGINT/SIGTERM/SIGHUP.
// Hard deaths (SIGKILL) are the guardian's job; these hooks only make ordinary exits prompt.

export interface Killable {
  /** Synchronous, best effort: handlers on the way out cannot wait. */
  killNow(): void;
}

const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const running = new Set<Killable>();

function killAll(): void {
  for (const target of running) target.killNow();
}

function onSignal(signal: NodeJS.Signals): void {
  // Having a listener cancels Node's default of dying on the signal. When ours is the only one, stop the
  // JVMs, take the hook away and raise the signal again so the process ends exactly as it would have
  // without us (exit status included). When the application has its own handler, stopping is that
  // handler's decision — it may still need DynamoDB for a graceful shutdown (npm start hands the event pump
  // over and runs the last $disconnects first); the 'exit' hook and the guardian still leave no JVM behind.
  if (process.listenerCount(signal) === 1) {
    killAll();
    uninstall();
    process.kill(process.pid, signal);
  }
}

function install(): void {
  process.on('exit', killAll);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

function uninstall(): void {
  process.off('exit', killAll);
  for (const signal of SIGNALS) process.off(signal, onSignal);
}

/** Registers a running JVM; the returned function unregisters it (hooks go away with the last one). */
export function killOnExit(target: Killable): () => void {
  if (running.size === 0) install();
  running.add(target);
  return () => {
    if (running.delete(target) && running.size === 0) uninstall();
  };
}
