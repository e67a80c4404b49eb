// `npm run admin -- users …`: who may use the collaboration client. Nobody may until allowed; user ids
// compare case-insensitively, as Windows accounts do.

import { validateUserId } from '../../functions/domain/devices';
import type { UserPermission } from '../../functions/domain/permissions';
import {
  type Command,
  type CommandGroup,
  flag,
  formatTable,
  formatTime,
  pluralize,
  UsageError,
} from '../output';
import { targetHelp } from '../target';

/** Checked and de-duplicated (case-insensitively), in the order given. */
function userIds(positionals: readonly string[]): string[] {
  const seen = new Set<string>();
  const ids: string[] = [];
  for (const userId of positionals) {
    try {
      validateUserId(userId);
    } catch (error) {
      throw new UsageError(`<userId> "${userId}": ${(error as Error).message}`);
    }
    const key = userId.toLowerCase();
    if (!seen.has(key)) {
      seen.add(key);
      ids.push(userId);
    }
  }
  return ids;
}

function permissionCommand(allowed: boolean): Command {
  const verb = allowed ? 'allow' : 'deny';
  return {
    summary: allowed
      ? 'allow users to use the collaboration client'
      : 'deny users the collaboration client (their next sign-in is refused)',
    usage: `Usage: npm run admin -- users ${verb} <userId> [<userId> …]

${
  allowed
    ? 'Allows each user to sign in to IM through the collaboration client.'
    : 'Denies each user the collaboration client: sign-ins are refused from now on (sessions already open\nrun until they end; end one with sessions kick).'
} User ids compare case-insensitively.

${targetHelp}`,
    options: {},
    positionals: { min: 1, max: Number.POSITIVE_INFINITY, label: '<userId>' },
    async run({ positionals, target, print }) {
      const ids = userIds(positionals);
      const service = await target();
      const at = Date.now();
      for (const userId of ids) await service.permissions.set(userId, allowed, at);
      print(
        `${allowed ? 'Allowed' : 'Denied'} ${pluralize(ids.length, 'user')} (${service.description}): ${ids.join(', ')}`,
      );
    },
  };
}

const list: Command = {
  summary: 'list the users allowed or denied',
  usage: `Usage: npm run admin -- users list [--json]

Users not listed have never been allowed and may not use the collaboration client.

  --json   one JSON array instead of a table

${targetHelp}`,
  options: { json: { type: 'boolean' } },
  async run({ values, target, print }) {
    const service = await target();
    const users = await service.permissions.list();
    if (flag(values, 'json')) {
      print(JSON.stringify(users.map(publicFields), null, 2));
      return;
    }
    if (users.length === 0) {
      print('No users allowed or denied; nobody may use the collaboration client until allowed.');
      return;
    }
    print(
      formatTable(
        ['USER', 'ALLOWED', 'UPDATED'],
        users.map((user) => [user.userId, user.allowed ? 'yes' : 'no', formatTime(user.updatedAt)]),
      ),
    );
  },
};

function publicFields({ userId, allowed, updatedAt }: UserPermission): UserPermission {
  return { userId, allowed, updatedAt };
}

export const users: CommandGroup = {
  name: 'users',
  summary: 'allow, deny and list the users of the collaboration client',
  commands: { allow: permissionCommand(true), deny: permissionCommand(false), list },
};
