import { describe, expect, it } from "vitest";
import { ACTIONS, can, permissionMatches, type SessionInfo } from "../src/lib/permissions";

function session(roles: string[], permissions: string[] = []): SessionInfo {
  return { tenant_id: "t", subject: "k", key_id: "k", roles, permissions, expires_at: 0 };
}

describe("permission gating", () => {
  it("matches exact, wildcard and prefix grants", () => {
    expect(permissionMatches("*", "keys:create")).toBe(true);
    expect(permissionMatches("read:*", "read:cost")).toBe(true);
    expect(permissionMatches("read:*", "keys:read")).toBe(false);
    expect(permissionMatches("keys:read", "keys:revoke")).toBe(false);
  });

  it("lets an admin do everything", () => {
    expect(can(session(["admin"]), "keys:create")).toBe(true);
  });

  it("shows a read-only key no create or revoke", () => {
    const readOnly = session([], ["read:*"]);
    expect(can(readOnly, "read:cost")).toBe(true);
    expect(can(readOnly, "keys:create")).toBe(false);
    expect(can(readOnly, "keys:revoke")).toBe(false);
    expect(can(readOnly, "budgets:write")).toBe(false);
  });

  it("shows a read-only key no replay, a developer key the replay form", () => {
    expect(can(session([], ["read:*", "traces:read"]), ACTIONS.replayTraces)).toBe(false);
    expect(can(session(["developer"]), ACTIONS.replayTraces)).toBe(true);
  });

  it("derives a viewer's grants from its role", () => {
    expect(can(session(["viewer"]), "traces:read")).toBe(true);
    expect(can(session(["viewer"]), "cost:write")).toBe(false);
  });

  it("grants nothing without a session", () => {
    expect(can(null, "read:cost")).toBe(false);
  });
});
