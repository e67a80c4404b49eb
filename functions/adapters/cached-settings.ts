// The settings item read through Powertools Parameters' in-memory cache: a warm process re-reads
// `CONFIG/SETTINGS` at most once per `maxAgeSeconds`, so logins, logouts, `$disconnect`s, IM commands and pump
// refreshes no longer put a read each on the one CONFIG partition.
//
// Staleness bound: a change made with `config set` is seen by every warm process within `maxAgeSeconds`
// (default 5 s, Powertools' own default) plus DynamoDB's replication lag: these periodic reads are eventually
// consistent (half a read unit each on the one CONFIG partition; the lag is usually well under a second). The login does better: every settings write stamps its version on
// the slot items the login reads anyway, and a login whose cached version differs reads the item again
// (`current(version)`), so it sees a change as soon as its snapshot does — and, while the version matches,
// reads nothing at all, however old its copy. The session limit itself never comes from here: each slot item
// carries its share, compared in the admission transaction. The reaper reads the item consistently once a run.

import { BaseProvider } from '@aws-lambda-powertools/parameters/base';
import type { Settings, SettingsStore, VersionedSettings } from '../domain/settings';

/** Seconds a warm process may serve settings from memory. */
export const SETTINGS_MAX_AGE_SECONDS = 5;

/** A settings store that can say which write its settings came from (DynamoDbSettingsStore). */
export type VersionedSettingsStore = SettingsStore & {
  getVersioned?(options?: { readonly consistent?: boolean }): Promise<VersionedSettings>;
};

/**
 * A Powertools provider over our one settings item. (Powertools' own DynamoDBProvider wants a table whose
 * key is a single `id` attribute holding one value per parameter; ours is `pk`/`sk` with a whole item.)
 */
class SettingsItemProvider extends BaseProvider {
  constructor(private readonly read: (consistent: boolean) => Promise<VersionedSettings>) {
    super({});
  }

  /** Eventually consistent, unless the caller passes `sdkOptions: { consistent: true }`. */
  protected override _get(_name: string, options?: { sdkOptions?: { consistent?: boolean } }) {
    return this.read(options?.sdkOptions?.consistent === true);
  }

  protected override _getMultiple(): Promise<undefined> {
    return Promise.reject(new Error('the settings provider holds one item; use get'));
  }
}

/** `inner` (the item, read strongly consistent) behind a cache of `maxAgeSeconds`; `put` writes through. */
export class CachedSettingsStore implements SettingsStore {
  private readonly provider: SettingsItemProvider;
  /** The settings last read, for `current(version)`. */
  private latest: VersionedSettings | undefined;

  constructor(
    private readonly inner: VersionedSettingsStore,
    private readonly maxAgeSeconds = SETTINGS_MAX_AGE_SECONDS,
  ) {
    this.provider = new SettingsItemProvider(async (consistent) =>
      inner.getVersioned ? inner.getVersioned({ consistent }) : { settings: await inner.get() },
    );
  }

  async get(): Promise<Settings> {
    return (await this.current()).settings;
  }

  /**
   * The settings for a login whose slot items carry `version`: the ones last read when they are of that
   * version, however old (every settings write stamps a new version on the slot items in the same
   * transaction, so a matching version means nothing changed since); read again at once when they are not.
   * Without a version (slot items from before versions), the cache of `maxAgeSeconds`.
   */
  async current(version?: string, given?: VersionedSettings): Promise<VersionedSettings> {
    // A read the caller made itself (the cold login's snapshot carries the settings item): kept as the latest.
    if (given !== undefined && this.latest === undefined) this.latest = given;
    if (version !== undefined && this.latest?.version === version) return this.latest;
    const options = { maxAge: this.maxAgeSeconds };
    let read = (await this.provider.get('settings', options)) as VersionedSettings;
    if (version !== undefined && read.version !== version) {
      // The slot items name a newer write: read it strongly consistent, so this read cannot miss it.
      read = (await this.provider.get('settings', {
        ...options,
        forceFetch: true,
        sdkOptions: { consistent: true },
      })) as VersionedSettings;
    }
    this.latest = read;
    return read;
  }

  /** True until this process holds settings of a known write: a login then reads the item with its snapshot. */
  cold(): boolean {
    return this.latest === undefined;
  }

  async put(settings: Settings, at: number): Promise<void> {
    await this.inner.put(settings, at);
    this.provider.clearCache();
    this.latest = undefined;
  }
}
