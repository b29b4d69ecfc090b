// Two runs side by side, the fields the API found different highlighted.
import { useQuery } from "@tanstack/react-query";
import { api, ok } from "../../api/client";
import type { Comparison, TraceDocument } from "../../api/types";
import { ErrorState, Loading, Panel } from "../../components/States";
import { href } from "../../lib/router";

export function Compare({ a, b }: { a: string; b: string }) {
  const comparison = useQuery({
    queryKey: ["compare", a, b],
    queryFn: () =>
      ok(
        api.GET("/api/v1/traces/compare/{run_id1}/{run_id2}", { params: { path: { run_id1: a, run_id2: b } } }),
      ) as Promise<Comparison>,
  });
  const first = useQuery({
    queryKey: ["trace", a],
    queryFn: () => ok(api.GET("/api/v1/traces/{run_id}", { params: { path: { run_id: a } } })) as Promise<TraceDocument>,
  });
  const second = useQuery({
    queryKey: ["trace", b],
    queryFn: () => ok(api.GET("/api/v1/traces/{run_id}", { params: { path: { run_id: b } } })) as Promise<TraceDocument>,
  });
  if (comparison.isPending) return <Loading label="the comparison" />;
  if (comparison.isError) return <ErrorState error={comparison.error} retry={() => comparison.refetch()} />;
  const result = comparison.data;
  const differing = new Set(result.differences.map((d) => d.field));
  return (
    <>
      <div className="page-head">
        <h1>Compare runs</h1>
        <a href={href("traces")}>Back to traces</a>
      </div>
      <p className={`verdict ${result.match ? "ok" : "bad"}`} role="status">
        {result.summary}
      </p>
      <Panel title="Compared fields" className="wide">
        <div className="table-wrap" tabIndex={0} role="region" aria-label="Compared fields">
          <table className="compare" data-testid="compare-table">
            <thead>
              <tr>
                <th scope="col">Field</th>
                <th scope="col">{a}</th>
                <th scope="col">{b}</th>
              </tr>
            </thead>
            <tbody>
              {compareRows(first.data, second.data, result).map(([field, left, right]) => (
                <tr key={field} className={differing.has(field) ? "diff" : undefined}>
                  <th scope="row">
                    {field}
                    {differing.has(field) && <span className="sr-only"> (differs)</span>}
                  </th>
                  <td className="mono">{left}</td>
                  <td className="mono">{right}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Panel>
    </>
  );
}

function show(value: unknown): string {
  if (value === null || value === undefined) return "—";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** The API's compared fields, filled from both documents, differing ones from the API's answer. */
function compareRows(
  a: TraceDocument | undefined,
  b: TraceDocument | undefined,
  result: Comparison,
): [string, string, string][] {
  const rows = new Map<string, [string, string]>();
  const put = (field: string, x: unknown, y: unknown) => rows.set(field, [show(x), show(y)]);
  put("root_hash", result.trace1_root_hash, result.trace2_root_hash);
  if (a && b) {
    put("seed", a.seed, b.seed);
    put("frozen_timestamp", a.frozen_timestamp, b.frozen_timestamp);
    put("step_count", a.steps.length, b.steps.length);
    const count = Math.max(a.steps.length, b.steps.length);
    for (let i = 0; i < count; i++) {
      put(`step[${i}].skill_name`, a.steps[i]?.skill_name, b.steps[i]?.skill_name);
      put(`step[${i}].outcome_category`, a.steps[i]?.outcome_category, b.steps[i]?.outcome_category);
    }
  }
  for (const difference of result.differences) put(difference.field, difference.trace1, difference.trace2);
  return [...rows.entries()].map(([field, [x, y]]) => [field, x, y]);
}
