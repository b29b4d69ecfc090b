// What the signed-in principal may do, mirrored from aos_common.auth so the console hides what
// the API would refuse anyway (the API is the authority; this only keeps buttons honest).

export interface SessionInfo {
  tenant_id: string;
  subject: string;
  key_id: string | null;
  roles: string[];
  permissions: string[];
  expires_at: number;
}

const ROLE_PERMISSIONS: Record<string, string[]> = {
  admin: ["*"],
  operator: ["*"],
  developer: ["run:*", "read:*", "traces:read", "traces:write", "cost:write", "keys:read"],
  viewer: ["read:*", "traces:read"],
};

export function permissionMatches(granted: string, required: string): boolean {
  if (granted === "*" || granted === required) return true;
  return granted.endsWith(":*") && required.startsWith(granted.slice(0, -1));
}

export function granted(session: SessionInfo): string[] {
  return [...new Set([...session.permissions, ...session.roles.flatMap((role) => ROLE_PERMISSIONS[role] ?? [])])];
}

export function can(session: SessionInfo | null | undefined, required: string): boolean {
  if (!session) return false;
  return granted(session).some((permission) => permissionMatches(permission, required));
}

export function hasRole(session: SessionInfo | null | undefined, ...roles: string[]): boolean {
  return !!session && roles.some((role) => session.roles.includes(role));
}

/** The actions of each page and the permission each needs (as the services check them). */
export const ACTIONS = {
  readCost: "read:cost",
  writeBudgets: "budgets:write",
  releaseHolds: "cost:write",
  resolveAnomaly: "cost:write",
  readTraces: "traces:read",
  replayTraces: "traces:write",
  readLogs: "read:logs",
  readAudit: "read:audit",
  readKeys: "keys:read",
  createKeys: "keys:create",
  revokeKeys: "keys:revoke",
} as const;
