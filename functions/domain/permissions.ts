// Per-user permission to use the collaboration client (SPEC §2 step 2). Nobody is allowed until an
// administrator allows them: a service that signs people into corporate IM is closed by default.

export interface UserPermission {
  readonly userId: string;
  readonly allowed: boolean;
  readonly updatedAt: number;
}

export interface PermissionStore {
  set(userId: string, allowed: boolean, at: number): Promise<void>;
  get(userId: string): Promise<UserPermission | undefined>;
  /** Index query, never a scan. */
  list(): Promise<UserPermission[]>;
}
