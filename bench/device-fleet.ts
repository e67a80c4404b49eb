// Load generators in their own processes (bench/device-fleet-child.ts): a benchmark's devices split over a few
// child processes, and the CWA bot in one more, driven by request/answer messages, so that their WebSocket,
// TLS, decryption and bookkeeping do not compete with the local stack for its event loop. Each process
// reports its CPU.

import { type ChildProcess, fork } from 'node:child_process';
import type { FleetDevice, FromFleet, ToFleet } from './device-fleet-messages';

export interface DeviceFleet {
  readonly pid: number;
  readonly size: number;
  ask<T extends FromFleet['type']>(message: ToFleet, expect: T): Promise<Extract<FromFleet, { type: T }>>;
  close(): Promise<void>;
}

function startFleet(size: number): DeviceFleet {
  const child: ChildProcess = fork(new URL('./device-fleet-child.ts', import.meta.url), [], {
    execArgv: ['--import', import.meta.resolve('tsx')],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Answers come in the order of the requests (the child serves one at a time).
  const pending: Array<{ resolve: (m: FromFleet) => void; reject: (e: Error) => void }> = [];
  child.on('message', (message: FromFleet) => pending.shift()?.resolve(message));
  void exited.then(() => {
    for (const waiter of pending.splice(0)) waiter.reject(new Error('a device fleet process exited'));
  });
  const fleet: DeviceFleet = {
    pid: child.pid ?? 0,
    size,
    ask(message, expect) {
      return new Promise((resolve, reject) => {
        pending.push({
          resolve: (answer) => {
            if (answer.type === expect) resolve(answer as Extract<FromFleet, { type: typeof expect }>);
            else reject(new Error(answer.type === 'failed' ? answer.message : `unexpected ${answer.type}`));
          },
          reject,
        });
        child.send(message);
      });
    },
    async close() {
      if (child.connected) {
        await fleet.ask({ type: 'close' }, 'closed').catch(() => undefined);
        child.disconnect();
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
  return fleet;
}

/**
 * Splits `devices` over `processes` fleets and signs them all in; resolves once every device is Accepted.
 * Rejects (after stopping the fleets) when one cannot sign in.
 */
export async function startDeviceFleets(
  url: string,
  devices: readonly FleetDevice[],
  processes: number,
): Promise<DeviceFleet[]> {
  const count = Math.max(1, Math.min(processes, devices.length));
  const shares = Array.from({ length: count }, (_, i) => devices.filter((_, j) => j % count === i));
  const fleets = shares.map((share) => startFleet(share.length));
  try {
    await Promise.all(
      fleets.map((fleet, i) => fleet.ask({ type: 'login', url, devices: shares[i] ?? [] }, 'loggedIn')),
    );
  } catch (error) {
    await Promise.all(fleets.map((fleet) => fleet.close()));
    throw error;
  }
  return fleets;
}

/** The CWA bot's process: signed in to CWA as `user`; then `botInvite` and `botChat` (see the messages). */
export async function startBotProcess(cwa: {
  readonly url: string;
  readonly caPem?: string;
  readonly user: string;
  readonly password: string;
}): Promise<DeviceFleet> {
  const bot = startFleet(0);
  try {
    await bot.ask(
      {
        type: 'botSignIn',
        cwaUrl: cwa.url,
        ...(cwa.caPem ? { caPem: cwa.caPem } : {}),
        user: cwa.user,
        password: cwa.password,
      },
      'botSignedIn',
    );
  } catch (error) {
    await bot.close();
    throw error;
  }
  return bot;
}
