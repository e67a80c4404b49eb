// Guardian: runs one program (DynamoDB Local's JVM) for a parent Node process so that it never outlives it.
// Run as `node guardian.mjs <command> [args...]`; stdout carries JSON events, the program's output goes to stderr.

// The parent holds our stdin and never writes to it: EOF there means "stop", whether the parent asked (it
// closed the pipe) or died, even by SIGKILL, since the kernel closes a dead process's pipes. That is what a
// signal handler in the parent can never guarantee. The parent runs the program under `setpriv --pdeathsig`
// where it can, so that the program also dies if this guardian is killed outright.
import { spawn } from 'node:child_process';

const [command, ...args] = process.argv.slice(2);
const graceMs = Number(process.env.DYNAMODB_LOCAL_STOP_GRACE_MS ?? 5000);

// A vanished parent is not an error worth dying for before the program is stopped.
process.stdout.on('error', () => {});

function send(event) {
  try {
    process.stdout.write(`${JSON.stringify(event)}\n`);
  } catch {
    // parent gone: nobody to tell
  }
}

if (!command) {
  send({ event: 'error', message: 'guardian: no command given' });
  process.exit(2);
}

// stdin ignored: the program must not hold (or read) the parent's pipe. Detached (its own process group):
// a Ctrl-C at the terminal, or a signal to the whole group, must not stop it behind the parent's back.
const child = spawn(command, args, { stdio: ['ignore', 2, 2], detached: true });
let stopping = false;

function stop() {
  if (stopping) return;
  stopping = true;
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  setTimeout(() => child.kill('SIGKILL'), graceMs).unref();
}

child.on('error', (error) => {
  send({ event: 'error', message: error.message, code: error.code });
  process.exit(1);
});

child.on('spawn', () => send({ event: 'spawned', pid: child.pid }));

child.on('exit', (code, signal) => {
  send({ event: 'exit', code, signal });
  // Exit only once the event is written (pipes are asynchronous on some platforms), but never hang on it.
  process.stdout.write('', () => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
});

process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.on('error', stop);
process.stdin.resume();
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, deferToParent);

// A signal that reached us also reached the parent when it went to the whole group (Ctrl-C at a terminal,
// `kill -- -PGID`): the parent stops in order — the event pump hands over, the last $disconnects run — and
// only then closes our stdin. So while the parent lives, a signal only arms a fallback; with no parent, stop.
const parentPid = process.ppid;
function deferToParent() {
  if (!isAlive(parentPid)) return stop();
  setTimeout(stop, 2 * graceMs).unref();
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
