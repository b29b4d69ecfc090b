// Budgets as used-% meters (the overview and the budgets page); with `holds`, each line also says
// what active reservations hold and what is left for new ones.
import { budgetFigures, budgetName, type Budget } from "../lib/budgets";
import { formatCents, percentUsed } from "../lib/money";
import { Empty } from "./States";

export function BudgetBars({ budgets, holds = false }: { budgets: Budget[]; holds?: boolean }) {
  if (budgets.length === 0) return <Empty title="No budgets">Create one on the Budgets page.</Empty>;
  return (
    <ul className="budgets">
      {budgets.map((budget) => {
        const figures = budgetFigures(budget);
        const used = figures?.used ?? null;
        const level = used === null ? "" : used >= 100 ? "over" : used >= budget.warn_threshold_pct ? "near" : "";
        const name = budgetName(budget);
        const heldPct = figures ? (percentUsed(figures.held, figures.limit) ?? 0) : 0;
        const heldShare = Math.max(0, Math.min(heldPct, 100 - Math.min(used ?? 0, 100)));
        return (
          <li key={budget.id} data-budget-id={budget.id}>
            <div className="budget-line">
              <span>{name}</span>
              <span>
                {formatCents(figures?.spent)} of {formatCents(figures?.limit)}
                {budget.hard_limit_enabled && <span className="badge hard">hard limit</span>}
              </span>
            </div>
            <div
              className={`bar ${level}`}
              role="meter"
              aria-label={`${name} used`}
              aria-valuemin={0}
              aria-valuemax={100}
              aria-valuenow={Math.min(used ?? 0, 100)}
              aria-valuetext={used === null ? "no limit" : `${used}%${holds && heldPct ? `, ${heldPct}% held` : ""}`}
            >
              <span style={{ width: `${Math.min(used ?? 0, 100)}%` }} />
              {holds && heldShare > 0 && <span className="held" style={{ width: `${heldShare}%` }} />}
            </div>
            <span className="bar-label">
              {used === null ? "no limit" : `${used}% used`}
              {holds && figures && (
                <span data-testid="budget-holds">
                  {" "}· {formatCents(figures.held)} held · {formatCents(figures.remaining)} left
                </span>
              )}
            </span>
          </li>
        );
      })}
    </ul>
  );
}
