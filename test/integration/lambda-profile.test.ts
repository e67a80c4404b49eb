// The local runtime's profiling switch (local/lambda/profiling.ts) on real worker threads: an environment of a
// profiled function writes a V8 .cpuprofile, with the handler's own frames in it, when it is retired; a
// function left out writes none; a switch naming no local function is refused before anything starts.

import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { repositoryRoot } from '../../local/endpoints-file';
import { profileOptionsFrom } from '../../local/lambda/profiling';
import { type LambdaRuntime, startLambdaRuntime } from '../../local/lambda/runtime';

const entry = 'test/fixtures/lambda/probe.ts';
const dir = mkdtempSync(join(tmpdir(), 'lambda-profile-'));
const logLines: string[] = [];
let runtime: LambdaRuntime;

beforeAll(async () => {
  runtime = await startLambdaRuntime({
    rootDir: repositoryRoot,
    functions: [
      { name: 'profiled', entry, settings: { timeoutSeconds: 20, memoryMb: 128 } },
      { name: 'plain', entry, settings: { timeoutSeconds: 20, memoryMb: 128 } },
    ],
    // As LAMBDA_PROFILE_DIR=<dir> LAMBDA_PROFILE_FUNCTIONS=profiled would set it.
    profile: profileOptionsFrom({ LAMBDA_PROFILE_DIR: dir, LAMBDA_PROFILE_FUNCTIONS: 'profiled' }, [
      'profiled',
      'plain',
    ]),
    log: (line) => logLines.push(line),
    output: () => undefined,
  });
});

afterAll(() => runtime?.close());

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string } }[];
  samples: number[];
  startTime: number;
  endTime: number;
}

it('writes a .cpuprofile per environment of a profiled function when it is retired, and none for the others', async () => {
  // Work the sampler cannot miss: tens of ms of allocation inside the probe.
  await runtime.invoke('profiled', { allocateMb: 40 });
  await runtime.invoke('plain', { allocateMb: 5 });
  await runtime.retire('profiled');
  await runtime.retire('plain');
  const files = readdirSync(dir);
  expect(files).toEqual([expect.stringMatching(/^local-profiled\.1\.\d+\.cpuprofile$/)]);
  const profile = JSON.parse(readFileSync(join(dir, files[0] as string), 'utf8')) as CpuProfile;
  expect(profile.endTime).toBeGreaterThan(profile.startTime);
  expect(profile.samples.length).toBeGreaterThan(0);
  expect(profile.nodes.some((node) => node.callFrame.functionName === 'probe')).toBe(true);
  expect(logLines).toContainEqual(
    `local-profiled environment #1 CPU profile: ${join(dir, files[0] as string)}`,
  );
});

it('refuses a switch that names no local function, or a sampling interval out of range', () => {
  expect(() =>
    profileOptionsFrom({ LAMBDA_PROFILE_DIR: dir, LAMBDA_PROFILE_FUNCTIONS: 'evenPump' }, ['eventPump']),
  ).toThrow('LAMBDA_PROFILE_FUNCTIONS names no local function: evenPump (known: eventPump)');
  expect(() => profileOptionsFrom({ LAMBDA_PROFILE_DIR: dir, LAMBDA_PROFILE_INTERVAL_US: '10' }, [])).toThrow(
    /LAMBDA_PROFILE_INTERVAL_US must be an integer from 50 to 100000/,
  );
  expect(profileOptionsFrom({ LAMBDA_PROFILE_FUNCTIONS: 'eventPump' }, ['eventPump'])).toBeUndefined();
  expect(profileOptionsFrom({ LAMBDA_PROFILE_DIR: dir }, ['eventPump'])).toEqual({ dir });
});
