// Noticing that the process which started us is gone. `npm start` runs as npm → node (local/start.ts); when
// npm is killed outright (SIGKILL) nobody tells node, which would keep the gateway, DynamoDB Local and the
// ports. Node's `process.ppid` is read once at startup, so the live parent comes from /proc on Linux.

import { readFileSync } from 'node:fs';

/** The current parent pid: from /proc/self/stat on Linux, else undefined (cannot tell). */
export function currentParentPid(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ")".
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(ppid) ? ppid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether process `pid` exists and is not a zombie (killed, not yet reaped: gone for every purpose here). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // "pid (comm) state …": the state follows the last ")".
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    // No /proc (not Linux), or it exited just now: the signal check above is what we know.
    return true;
  }
}

/**
 * Calls `onGone` once when the parent process has died (we were re-parented, or it no longer exists).
 * Polls every `intervalMs` on a timer that does not keep the process alive. Returns a function that stops it.
 */
export function watchParent(onGone: () => void, intervalMs = 250): () => void {
  const original = process.ppid;
  const timer = setInterval(() => {
    const now = currentParentPid();
    const gone = now === undefined ? !isAlive(original) : now !== original;
    if (!gone) return;
    clearInterval(timer);
    onGone();
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
