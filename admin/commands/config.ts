// `npm run admin -- config …`: the Configuration Database's settings — shown with what the session limit in
// force means, and changed only through the one validator the service reads them with.

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { DEFAULT_TLS_MIN_VERSION, legacyTlsWarning } from '../../functions/cwa/tls-policy';
import {
  applySettingChanges,
  type SettingName,
  type Settings,
  SettingsError,
  sessionLimit,
  settingNames,
} from '../../functions/domain/settings';
import {
  type Command,
  CommandError,
  type CommandGroup,
  flag,
  formatTable,
  pluralize,
  stringOption,
  UsageError,
} from '../output';
import { targetHelp } from '../target';

const names = Object.keys(settingNames) as SettingName[];

/** A CA bundle is shown by what it holds, never as its text. */
function describeCaBundle(pem: string): string {
  const certificates = pem.split('-----BEGIN CERTIFICATE-----').length - 1;
  return `<PEM, ${pluralize(certificates, 'certificate')}>`;
}

/** Each setting by the name `config set` takes; undefined when an optional one is not set. */
function settingValues(settings: Settings): Record<SettingName, string | number | undefined> {
  const { cwa } = settings;
  return {
    maxSessions: settings.maxSessions,
    idleTimeoutMs: settings.idleTimeoutMs,
    inactivityTimeoutMs: settings.inactivityTimeoutMs,
    connectionCapacity: settings.connectionCapacity,
    maxSessionsPerDevice: settings.maxSessionsPerDevice,
    maxSessionsPerUser: settings.maxSessionsPerUser,
    'cwa.baseUrl': cwa?.baseUrl,
    'cwa.iwaLogonUrl': cwa?.iwaLogonUrl,
    'cwa.formsLogonUrl': cwa?.formsLogonUrl,
    'cwa.methods': cwa?.methods?.join(','),
    'cwa.caBundle': cwa?.caBundle === undefined ? undefined : describeCaBundle(cwa.caBundle),
    'cwa.tlsMinVersion': cwa?.tlsMinVersion,
    'cwa.ciphers': cwa?.ciphers,
  };
}

/** The cold-start warning of a TLS floor below 1.2, as the connector will log it. */
function legacyWarning(settings: Settings): string | undefined {
  const { cwa } = settings;
  return legacyTlsWarning(cwa?.tlsMinVersion ?? DEFAULT_TLS_MIN_VERSION, cwa?.ciphers);
}

function duration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${ms / 1000} s`;
}

function limitInForce(settings: Settings): string {
  const { limit, whenFull } = sessionLimit(settings);
  const source =
    settings.maxSessions === undefined ? 'persistent-connection capacity, no maximum set' : 'maximum';
  return `limit ${pluralize(limit, 'session')} (${source}); when full: ${whenFull}`;
}

function showSettings(settings: Settings, json: boolean): string {
  const values = settingValues(settings);
  if (json) {
    const { limit, whenFull } = sessionLimit(settings);
    return JSON.stringify(
      {
        settings: Object.fromEntries(names.map((name) => [name, values[name] ?? null])),
        warnings: [legacyWarning(settings)].filter(Boolean),
        limit: {
          sessions: limit,
          whenFull,
          from: settings.maxSessions === undefined ? 'connectionCapacity' : 'maxSessions',
        },
      },
      null,
      2,
    );
  }
  const shown = (name: SettingName) => {
    const value = values[name];
    if (value === undefined) return 'not set';
    return typeof value === 'number' && name.endsWith('Ms') ? `${value} (${duration(value)})` : String(value);
  };
  const lines = [
    formatTable(
      ['SETTING', 'VALUE'],
      names.map((name) => [name, shown(name)]),
    ),
    '',
    `In force: ${limitInForce(settings)}.`,
  ];
  if (settings.idleTimeoutMs === undefined) {
    lines.push('Idle sessions are never reclaimed (no idleTimeoutMs).');
  } else if (settings.maxSessions === undefined) {
    lines.push('idleTimeoutMs applies only when the maximum is reached, and no maximum is set.');
  }
  if (settings.cwa === undefined) lines.push("CWA: not set here; the deployment's CWA_* variables apply.");
  const legacy = legacyWarning(settings);
  if (legacy) lines.push(`Warning: ${legacy}.`);
  return lines.join('\n');
}

const show: Command = {
  summary: 'show every setting and the session limit in force',
  usage: `Usage: npm run admin -- config show [--json]

Shows every setting of the Configuration Database ("not set" for optional ones that are unset; a CA bundle
by its certificate count, never its text) and what the session limit in force means.

  --json   one JSON object instead of a table

${targetHelp}`,
  options: { json: { type: 'boolean' } },
  async run({ values, target, print }) {
    const service = await target();
    print(showSettings(await service.settings.get(), flag(values, 'json')));
  },
};

const settingHelp = (() => {
  const width = Math.max(...names.map((name) => name.length));
  return names.map((name) => `  ${name.padEnd(width)}  ${settingNames[name]}`).join('\n');
})();

/**
 * `name=value` arguments; the value may itself hold `=` (URLs). A prototype-less object: `__proto__=1` is
 * then a key like any other (and refused as an unknown setting), not a silent change of the prototype.
 */
function parseAssignments(args: readonly string[]): Record<string, string> {
  const changes: Record<string, string> = Object.create(null);
  for (const arg of args) {
    const at = arg.indexOf('=');
    if (at <= 0) throw new UsageError(`"${arg}" is not name=value`);
    const name = arg.slice(0, at);
    if (Object.hasOwn(changes, name)) throw new UsageError(`${name} is given twice`);
    changes[name] = arg.slice(at + 1);
  }
  return changes;
}

async function readCaFile(file: string): Promise<string> {
  const path = resolve(file);
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CommandError(
      code === 'ENOENT' ? `No such file: ${path}` : `Cannot read ${path}: ${(error as Error).message}`,
    );
  }
}

const set: Command = {
  summary: 'change settings (name=value …); all are checked before anything is written',
  usage: `Usage: npm run admin -- config set name=value [name=value …] [--ca-file FILE]

Applies the changes to the current settings and writes them, or writes nothing and lists every problem.
"none" unsets an optional setting. Settings:

${settingHelp}

  --ca-file FILE   read cwa.caBundle from a PEM file

Example: npm run admin -- config set maxSessions=200 idleTimeoutMs=600000

${targetHelp}`,
  options: { 'ca-file': { type: 'string' } },
  positionals: { min: 0, max: Number.POSITIVE_INFINITY, label: 'name=value' },
  async run({ positionals, values, target, print }) {
    const caFile = stringOption(values, 'ca-file');
    if (positionals.length === 0 && caFile === undefined) {
      throw new UsageError('config set needs name=value (or --ca-file FILE)');
    }
    const changes = parseAssignments(positionals);
    if (caFile !== undefined) {
      if (Object.hasOwn(changes, 'cwa.caBundle')) {
        throw new UsageError('give cwa.caBundle=… or --ca-file, not both');
      }
      changes['cwa.caBundle'] = await readCaFile(caFile);
    }
    const service = await target();
    let next: Settings;
    try {
      next = applySettingChanges(await service.settings.get(), changes);
    } catch (error) {
      if (error instanceof SettingsError) {
        throw new UsageError(`nothing was written: ${error.problems.join('; ')}`);
      }
      throw error;
    }
    await service.settings.put(next, Date.now());
    print(`Settings written (${service.description}).\n\n${showSettings(next, false)}`);
  },
};

export const config: CommandGroup = {
  name: 'config',
  summary: 'show and change the settings (session limits, timeouts, CWA)',
  commands: { show, set },
};
