// A budget's figures as the console shows them: which period it is read for, what is spent, what
// active reservations hold and what remains, all on decimal strings of cents (never floats).
import type { components } from "../api/schema";
import { formatCents, percentUsed, sumCents } from "./money";

export type Budget = components["schemas"]["BudgetRead"];
export type HeldBudget = components["schemas"]["HeldBudget"];
export type BudgetPeriod = "daily" | "weekly" | "monthly";

export interface BudgetFigures {
  period: BudgetPeriod;
  limit: string;
  spent: string;
  held: string;
  /** limit − spent − held, never below zero: what a new reservation could still take. */
  remaining: string;
  /** Spent as a percentage of the limit (holds not included), one decimal. */
  used: number | null;
}

function negate(cents: string): string {
  const value = cents.trim();
  return value.startsWith("-") ? value.slice(1) : `-${value}`;
}

/** limit − spent − held, exactly; zero when spend and holds already reach the limit. */
export function remainingCents(limit: string, spent: string, held: string): string {
  const left = sumCents([limit, negate(spent), negate(held)]);
  return left.startsWith("-") ? "0" : left;
}

/** The limit a budget is read by: its longest period with a limit (monthly, weekly, daily). */
export function budgetFigures(budget: Budget): BudgetFigures | null {
  const periods: [BudgetPeriod, string | null | undefined, string][] = [
    ["monthly", budget.monthly_limit_cents, budget.current_monthly_spend_cents],
    ["weekly", budget.weekly_limit_cents, budget.current_weekly_spend_cents],
    ["daily", budget.daily_limit_cents, budget.current_daily_spend_cents],
  ];
  const found = periods.find(([, limit]) => limit);
  if (!found) return null;
  const [period, limit, spent] = found as [BudgetPeriod, string, string];
  const held = budget.held_cents ?? "0";
  return { period, limit, spent, held, remaining: remainingCents(limit, spent, held), used: percentUsed(spent, limit) };
}

/** "feature support.chat (monthly)": how a budget is named in lists and meters. */
export function budgetName(budget: Budget): string {
  const figures = budgetFigures(budget);
  return `${budget.budget_type}${budget.entity_id ? ` ${budget.entity_id}` : ""} (${figures?.period ?? "no limit"})`;
}

/** A budget a reservation sits on, with what the reservation holds on it: "feature support.chat:
 * $12.34 held", or "… $12.34 was held" once the reservation is closed ("budget cb_1" when the
 * budget is no longer stored). */
export function heldBudgetLabel(held: HeldBudget, stillHeld: boolean): string {
  const name = held.budget_type
    ? `${held.budget_type}${held.entity_id ? ` ${held.entity_id}` : ""}`
    : `budget ${held.budget_id}`;
  return `${name}: ${formatCents(held.held_cents)} ${stillHeld ? "held" : "was held"}`;
}
