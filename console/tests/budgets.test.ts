import { describe, expect, it } from "vitest";
import { budgetFigures, budgetName, heldBudgetLabel, remainingCents, type Budget } from "../src/lib/budgets";

function budget(overrides: Partial<Budget>): Budget {
  return {
    id: "b1",
    tenant_id: "t",
    budget_type: "tenant",
    entity_id: null,
    daily_limit_cents: null,
    weekly_limit_cents: null,
    monthly_limit_cents: null,
    warn_threshold_pct: 80,
    hard_limit_enabled: true,
    on_unavailable: "deny",
    alert_thresholds: [50, 80, 100],
    is_active: true,
    current_daily_spend_cents: "0",
    current_weekly_spend_cents: "0",
    current_monthly_spend_cents: "0",
    held_cents: "0",
    ...overrides,
  };
}

describe("budget figures", () => {
  it("leaves the limit minus spend minus holds, exactly", () => {
    expect(remainingCents("10000", "2500.5", "1000.25")).toBe("6499.25");
    expect(remainingCents("0.3", "0.1", "0.1")).toBe("0.1");
  });

  it("leaves nothing, not a negative amount, once spend and holds pass the limit", () => {
    expect(remainingCents("100", "90", "20")).toBe("0");
  });

  it("reads a budget by its longest period with a limit", () => {
    const figures = budgetFigures(
      budget({ daily_limit_cents: "500", weekly_limit_cents: "2000", current_weekly_spend_cents: "500", held_cents: "250" }),
    );
    expect(figures).toEqual({ period: "weekly", limit: "2000", spent: "500", held: "250", remaining: "1250", used: 25 });
  });

  it("has no figures without a limit", () => {
    expect(budgetFigures(budget({}))).toBeNull();
  });

  it("names a budget by type, entity and period", () => {
    expect(budgetName(budget({ budget_type: "user", entity_id: "bob", daily_limit_cents: "1250" }))).toBe("user bob (daily)");
  });
});

describe("the budgets a hold sits on", () => {
  const held = { budget_id: "cb_1", budget_type: "feature", entity_id: "support.chat", held_cents: "1234" };

  it("names the budget and what the hold puts on it", () => {
    expect(heldBudgetLabel(held, true)).toBe("feature support.chat: $12.34 held");
    expect(heldBudgetLabel({ ...held, budget_type: "tenant", entity_id: null }, true)).toBe("tenant: $12.34 held");
  });

  it("says a closed reservation's amount was held, and names a budget no longer stored by id", () => {
    expect(heldBudgetLabel(held, false)).toBe("feature support.chat: $12.34 was held");
    expect(heldBudgetLabel({ ...held, budget_type: null, entity_id: null }, true)).toBe("budget cb_1: $12.34 held");
  });
});
