// Load generators in their own processes (bench/device-fleet-child.ts): a benchmark's devices split over a few
// child processes, and the CWA bot in one more, driven by request/answer messages, so that their WebSocket,
// TLS, decryption and bookkeeping do not compete with the local stack for its event loop. Each process
// reports its CPU.

import { type ChildProcess, fork } from 'node:child_process';
import { parseUserSpec, type SimUser } from '../cwa-sim/users';
import type { ServiceFixture } from '../test/support/service-fixture';
import type { FleetDevice, FromFleet, ToFleet } from './device-fleet-messages';

/** A CWA simulator user a benchmark signs a device in as. */
export interface BenchUser {
  readonly login: string;
  readonly password: string;
  readonly sip: string;
}

/** `count` users `CONTOSO\<prefix>0000`…, each with its own password and SIP URI. */
export function benchUsers(count: number, prefix = 'user'): BenchUser[] {
  return Array.from({ length: count }, (_, i) => {
    const name = `${prefix}${String(i).padStart(4, '0')}`;
    return { login: `CONTOSO\\${name}`, password: `Pw#${i}x`, sip: `sip:${name}@contoso.com` };
  });
}

/** The simulator's user list for `users` (the stack's `cwa.users`). */
export function simUsers(users: readonly BenchUser[]): SimUser[] {
  return users.map((u) => parseUserSpec(`${u.login}:${u.password}:${u.sip}`));
}

/**
 * Allows every user the client, activates a device for each, and signs them all in from `processes` device
 * fleets (startDeviceFleets). Resolves once every device is Accepted.
 */
export async function signInFleets(
  service: ServiceFixture,
  users: readonly BenchUser[],
  processes: number,
): Promise<DeviceFleet[]> {
  for (let i = 0; i < users.length; i += 50)
    await Promise.all(
      users.slice(i, i + 50).map((u) => service.stores.permissions.set(u.login, true, Date.now())),
    );
  const devices: FleetDevice[] = [];
  for (let i = 0; i < users.length; i += 100) {
    devices.push(
      ...(await Promise.all(
        users.slice(i, i + 100).map(async (u) => {
          const credential = await service.activate(u.login);
          return {
            deviceId: credential.deviceId,
            transportKey: credential.transportKey.toString('base64'),
            password: u.password,
          };
        }),
      )),
    );
  }
  return startDeviceFleets(service.stack.endpoints.websocketUrl, devices, processes);
}

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
