// The settings item read through Powertools Parameters' in-memory cache: a warm process re-reads
// `CONFIG/SETTINGS` at most once per `maxAgeSeconds`, so logouts, `$disconnect`s, IM commands and pump
// refreshes no longer put a strongly consistent read each on the one CONFIG partition.
//
// Staleness bound: a change made with `config set` is seen by every warm process within `maxAgeSeconds`
// (default 5 s, Powertools' own default). Only reads that tolerate that use this store: the CWA endpoints
// (a session in flight keeps its endpoints anyway) and the pump's inactivity test. Admission never does: the
// login reads the item itself in its snapshot (maxSessions and the per-user/device ceilings), and the reaper
// reads it consistently once a run.

import { BaseProvider } from '@aws-lambda-powertools/parameters/base';
import type { Settings, SettingsStore } from '../domain/settings';

/** Seconds a warm process may serve settings from memory. */
export const SETTINGS_MAX_AGE_SECONDS = 5;

/**
 * A Powertools provider over our one settings item. (Powertools' own DynamoDBProvider wants a table whose
 * key is a single `id` attribute holding one value per parameter; ours is `pk`/`sk` with a whole item.)
 */
class SettingsItemProvider extends BaseProvider {
  constructor(private readonly read: () => Promise<Settings>) {
    super({});
  }

  protected override _get(): Promise<Settings> {
    return this.read();
  }

  protected override _getMultiple(): Promise<undefined> {
    return Promise.reject(new Error('the settings provider holds one item; use get'));
  }
}

/** `inner` (the item, read strongly consistent) behind a cache of `maxAgeSeconds`; `put` writes through. */
export class CachedSettingsStore implements SettingsStore {
  private readonly provider: SettingsItemProvider;

  constructor(
    private readonly inner: SettingsStore,
    private readonly maxAgeSeconds = SETTINGS_MAX_AGE_SECONDS,
  ) {
    this.provider = new SettingsItemProvider(() => inner.get());
  }

  async get(): Promise<Settings> {
    return (await this.provider.get('settings', { maxAge: this.maxAgeSeconds })) as Settings;
  }

  async put(settings: Settings, at: number): Promise<void> {
    await this.inner.put(settings, at);
    this.provider.clearCache();
  }
}
