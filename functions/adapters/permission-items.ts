// The permission item kind (`USER#<userId lowercased>` / `PERMISSION`): the record read back from an item.

import type { UserPermission } from '../domain/permissions';

export function permissionOf(item: Record<string, unknown> | undefined): UserPermission | undefined {
  if (!item || typeof item.userId !== 'string') return undefined;
  return { userId: item.userId, allowed: item.allowed === true, updatedAt: Number(item.updatedAt ?? 0) };
}
