// Runs inside DynamoDB Local's own network namespace (started as `unshare -rn node netns-bridge.mjs ...`):
// brings up the namespace's loopback, starts the JVM there, and relays a Unix socket to it. DynamoDB Local
// has no bind option and listens on every interface; in a namespace with nothing but loopback, "every
// interface" is loopback, and the only way in from outside is the Unix socket, in a directory only this
// user can open. Usage: node netns-bridge.mjs <socketPath> <port> <ip command> <command> [args...]
// The program's pid is reported on stderr as `netns-bridge: program pid N`.
import { spawn, spawnSync } from 'node:child_process';
import { connect, createServer } from 'node:net';

const [socketPath, portText, ipCommand, command, ...args] = process.argv.slice(2);
const port = Number(portText);

const lo = spawnSync(ipCommand, ['link', 'set', 'lo', 'up'], { encoding: 'utf8' });
if (lo.status !== 0) {
  process.stderr.write(`netns-bridge: cannot bring up loopback: ${lo.stderr || lo.error}\n`);
  process.exit(1);
}

const child = spawn(command, args, { stdio: ['ignore', 2, 2] });
child.on('spawn', () => process.stderr.write(`netns-bridge: program pid ${child.pid}\n`));
child.on('error', (error) => {
  process.stderr.write(`netns-bridge: cannot start ${command}: ${error.message}\n`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  server.close();
  // Report the program's end as our own, so the guardian sees how it ended.
  if (signal) {
    for (const name of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.removeAllListeners(name);
    process.kill(process.pid, signal);
  }
  process.exit(code ?? 1);
});

const server = createServer((client) => {
  const upstream = connect(port, '127.0.0.1');
  client.pipe(upstream).pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
});
server.listen(socketPath);

function stop(signal) {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
}
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.on(signal, () => {
    stop('SIGTERM');
    setTimeout(() => stop('SIGKILL'), 5000).unref();
  });
}

// The parent (the guardian) gone without a word, e.g. killed outright: take the JVM down with us. A
// parent-death signal cannot be relied on across the user-namespace change, so watch for re-parenting.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) {
    stop('SIGKILL');
    process.exit(1);
  }
}, 250);
