// The Configuration Database's validator (`config set`): each setting's bounds as its help text states them.

import { describe, expect, it } from 'vitest';
import { applySettingChanges, DEFAULT_SETTINGS, SettingsError } from '../../functions/domain/settings';

function problemsOf(changes: Record<string, string>): readonly string[] {
  try {
    applySettingChanges(DEFAULT_SETTINGS, changes);
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(SettingsError);
    return (error as SettingsError).problems;
  }
}

describe('config set bounds', () => {
  it('takes the per-device and per-user ceilings from 1, as their help says', () => {
    const next = applySettingChanges(DEFAULT_SETTINGS, {
      maxSessionsPerDevice: '1',
      maxSessionsPerUser: '2',
    });
    expect(next.maxSessionsPerDevice).toBe(1);
    expect(next.maxSessionsPerUser).toBe(2);
    expect(problemsOf({ maxSessionsPerUser: '0' })).toEqual([
      'maxSessionsPerUser must be a whole number of at least 1, got "0"',
    ]);
    expect(problemsOf({ maxSessionsPerDevice: '0' })).toEqual([
      'maxSessionsPerDevice must be a whole number of at least 1, got "0"',
    ]);
  });

  it('refuses an inactivity timeout under 1 s, and any count over connectionCapacity', () => {
    expect(problemsOf({ inactivityTimeoutMs: '999' })).toEqual([
      'inactivityTimeoutMs must be a whole number of at least 1000, got "999"',
    ]);
    expect(problemsOf({ connectionCapacity: '2' })).toEqual([
      'maxSessionsPerUser (10) cannot exceed connectionCapacity (2)',
    ]);
  });

  it('takes the README walkthrough that ends in Failed: no maximum, a capacity of 2', () => {
    const next = applySettingChanges(
      { ...DEFAULT_SETTINGS, maxSessions: 2 },
      { maxSessions: 'none', connectionCapacity: '2', maxSessionsPerUser: '2' },
    );
    expect(next.maxSessions).toBeUndefined();
    expect(next.connectionCapacity).toBe(2);
    expect(next.maxSessionsPerUser).toBe(2);
  });
});
