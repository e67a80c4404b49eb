// The admin CLI's shared vocabulary: what a command group and a command are, the two kinds of failure
// (usage: exit 2, operational: exit 1), and how results are printed (aligned tables, times).

import type { ParseArgsConfig } from 'node:util';
import type { Target } from './target';

export type OptionValues = Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;

export interface CommandInput {
  readonly positionals: readonly string[];
  readonly values: OptionValues;
  /** The service to act on; resolved only when asked for, so `--help` works without a stack. */
  readonly target: () => Promise<Target>;
  readonly print: (text: string) => void;
  /** Something the operator should know although the command did its job (stderr, `admin: warning:`). */
  readonly warn: (text: string) => void;
}

export interface Command {
  /** One line for the group's help. */
  readonly summary: string;
  /** The command's help text, from `Usage:` on. */
  readonly usage: string;
  readonly options: NonNullable<ParseArgsConfig['options']>;
  /** How many positional arguments the command takes, and what to call them in errors. @default none */
  readonly positionals?: { readonly min: number; readonly max: number; readonly label: string };
  run(input: CommandInput): Promise<void>;
}

/** A file in admin/commands/: `npm run admin -- <group> <command>`. */
export interface CommandGroup {
  readonly name: string;
  /** One line for the top-level help. */
  readonly summary: string;
  readonly commands: Readonly<Record<string, Command>>;
}

/** The command line is wrong: its one-line message and a pointer to the command's --help, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The command could not do its job: one line, exit code 1. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
}

export function stringOption(values: OptionValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

export function flag(values: OptionValues, name: string): boolean {
  return values[name] === true;
}

/** `2025-03-01 14:05:09Z`: sortable, unambiguous, short enough for a table. */
export function formatTime(epochMs: number | undefined): string {
  if (epochMs === undefined) return '-';
  return new Date(epochMs)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, 'Z');
}

/** `12 s ago`, `5 min ago`, `3 h ago`, `2 d ago`: how long since, at a glance. */
export function formatAge(epochMs: number, now: number): string {
  const seconds = Math.max(0, Math.floor((now - epochMs) / 1000));
  if (seconds < 120) return `${seconds} s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 120) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} d ago`;
}

/** Columns padded to their widest cell; the last column is not padded. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ');
  return [line(headers), ...rows.map(line)].join('\n');
}

export function pluralize(count: number, singular: string, plural = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : plural}`;
}
