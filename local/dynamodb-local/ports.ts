// Ports for DynamoDB Local: picking a free one, and telling whether our JVM (not a squatter) listens on it.
// DynamoDB Local 1.25 has no host option and binds every interface, so the checks use the wildcard too.
import { readdir, readFile, readlink } from 'node:fs/promises';
import { createServer } from 'node:net';

// Ports this process handed out recently: two launches in one process must not race for the same one.
const handedOut = new Set<number>();

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await listenOnce(0);
    if (port !== undefined && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no free TCP port found');
}

export async function isPortFree(port: number): Promise<boolean> {
  return (await listenOnce(port)) !== undefined;
}

function listenOnce(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(undefined));
    server.listen({ port, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : undefined;
      server.close(() => resolve(bound));
    });
  });
}

/**
 * Whether process `pid` holds the listening TCP socket on `port`: true/false on Linux (from /proc),
 * undefined where that cannot be told. Guards against taking someone else's server, for example another
 * DynamoDB Local that grabbed the port first, for ours.
 */
export async function listensOn(pid: number, port: number): Promise<boolean | undefined> {
  if (process.platform !== 'linux') return undefined;
  const inodes = new Set<string>();
  try {
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      const text = await readFile(table, 'utf8').catch(() => '');
      for (const line of text.split('\n').slice(1)) {
        const fields = line.trim().split(/\s+/);
        const [, local, , state] = fields;
        const inode = fields[9];
        // 0A is TCP_LISTEN; the local address ends in the port as four hex digits.
        if (state === '0A' && inode && local && Number.parseInt(local.split(':')[1] ?? '', 16) === port) {
          inodes.add(inode);
        }
      }
    }
    if (inodes.size === 0) return false;
    const fdDir = `/proc/${pid}/fd`;
    for (const fd of await readdir(fdDir)) {
      const target = await readlink(`${fdDir}/${fd}`).catch(() => '');
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode && inodes.has(inode)) return true;
    }
    return false;
  } catch (error) {
    // The process is gone (ENOENT), so it listens on nothing; anything else means we cannot tell.
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? false : undefined;
  }
}
