// `npm run admin -- <group> <command> [options]`: the administrator's CLI. Each group is a file in
// admin/commands/ registered below. Exit codes: 0 done, 1 the operation failed, 2 the command line is wrong
// (two lines on stderr: what is wrong, and the --help that explains the command; never the whole usage).

import { parseArgs } from 'node:util';
import { config } from './commands/config';
import { devices } from './commands/devices';
import { sessions } from './commands/sessions';
import { users } from './commands/users';
import { type Command, CommandError, type CommandGroup, type OptionValues, UsageError } from './output';
import { openTarget, type Target, targetHelp, targetOptions } from './target';

// Node 20 is supported here (the Lambda runtime is newer); the SDK's notice would only add noise.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/** Every command group; a new group is a file in admin/commands/ and one entry here. */
const groups: readonly CommandGroup[] = [devices, users, sessions, config];

const columns = (entries: readonly (readonly [string, string])[]) => {
  const width = Math.max(...entries.map(([name]) => name.length));
  return entries.map(([name, summary]) => `  ${name.padEnd(width)}  ${summary}`).join('\n');
};

const topUsage = `Collaboration Service administration

Usage: npm run admin -- <group> <command> [options]

Groups:
${columns(groups.map((group) => [group.name, group.summary]))}

${targetHelp}

npm run admin -- <group> --help lists a group's commands; <group> <command> --help explains one.`;

function groupUsage(group: CommandGroup): string {
  return `Usage: npm run admin -- ${group.name} <command> [options]

Commands:
${columns(Object.entries(group.commands).map(([name, command]) => [name, command.summary]))}

npm run admin -- ${group.name} <command> --help explains one.`;
}

/** The one-line pointer a usage error ends with: the help of the most specific group or command known. */
const helpHint = (...words: readonly string[]) => `see: npm run admin -- ${[...words, '--help'].join(' ')}`;

const isHelp = (arg: string | undefined) => arg === '--help' || arg === '-h' || arg === 'help';

interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

function parseCommandLine(command: Command, args: readonly string[]) {
  let parsed: { values: OptionValues; positionals: string[] };
  try {
    parsed = parseArgs({
      args: [...args],
      options: { ...command.options, ...targetOptions, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    // parseArgs's first sentence says what is wrong (unknown option, missing value); the rest is advice
    // about `--` that does not fit this CLI.
    throw new UsageError((error as Error).message.split(/\.\s/)[0] ?? 'invalid arguments');
  }
  const { min, max } = command.positionals ?? { min: 0, max: 0 };
  const count = parsed.positionals.length;
  if (!parsed.values.help && (count < min || count > max)) {
    throw new UsageError(
      count > max
        ? `unexpected argument "${parsed.positionals[max]}"`
        : `missing ${command.positionals?.label ?? 'argument'}`,
    );
  }
  return parsed;
}

/** Runs one command line and returns the exit code; never throws. */
async function runAdmin(argv: readonly string[], io: Io): Promise<number> {
  const [groupName, commandName, ...rest] = argv;
  let hint = helpHint();
  let target: Target | undefined;
  try {
    if (groupName === undefined) throw new UsageError('no command given');
    if (isHelp(groupName)) {
      io.out(topUsage);
      return 0;
    }
    const group = groups.find((candidate) => candidate.name === groupName);
    if (!group) throw new UsageError(`unknown group "${groupName}"`);
    hint = helpHint(group.name);
    if (commandName === undefined) throw new UsageError(`${group.name}: no command given`);
    if (isHelp(commandName)) {
      io.out(groupUsage(group));
      return 0;
    }
    const command = Object.hasOwn(group.commands, commandName) ? group.commands[commandName] : undefined;
    if (!command) throw new UsageError(`${group.name}: unknown command "${commandName}"`);
    hint = helpHint(group.name, commandName);
    const { values, positionals } = parseCommandLine(command, rest);
    if (values.help) {
      io.out(command.usage);
      return 0;
    }
    await command.run({
      values,
      positionals,
      print: io.out,
      warn: (text) => io.err(`admin: warning: ${text}`),
      target: async () => {
        target ??= await openTarget(values);
        return target;
      },
    });
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      // The reason and where to read more: the whole usage text buried the reason under a screenful of help.
      io.err(`admin: ${error.message}\n${hint}`);
      return 2;
    }
    // One line, no stack: messages here are written for people and carry no key material.
    const message = error instanceof CommandError ? error.message : describe(error);
    io.err(`admin: ${message}`);
    return 1;
  } finally {
    target?.close();
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const text = error.message.split('\n')[0] || error.name;
  // SDK errors name the failing service in their class name (ResourceNotFoundException, …).
  return error.name && error.name !== 'Error' && !text.includes(error.name) ? `${error.name}: ${text}` : text;
}

process.exitCode = await runAdmin(process.argv.slice(2), {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
});
