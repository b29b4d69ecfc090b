// Replay mismatches: per trace and tenant-wide, with the resolve workflow (admin or operator).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, ok } from "../../api/client";
import type { Mismatch } from "../../api/types";
import { Empty, ErrorState, Loading, Panel } from "../../components/States";
import { shortHash } from "../../lib/format";
import { hasRole } from "../../lib/permissions";
import { mismatchSource } from "../../lib/replay";
import { href } from "../../lib/router";
import { useSession } from "../../lib/session";
import { Tabs } from "./Tabs";

function ResolveButton({
  traceId,
  mismatchId,
  stepIndex,
}: {
  traceId: string;
  mismatchId: string;
  stepIndex: number | null;
}) {
  const session = useSession();
  const queryClient = useQueryClient();
  const resolve = useMutation({
    mutationFn: () =>
      ok(
        api.POST("/api/v1/traces/{trace_id}/mismatches/{mismatch_id}/resolve", {
          params: { path: { trace_id: traceId, mismatch_id: mismatchId }, query: { resolution_note: "Resolved in the console" } },
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["mismatches"] }),
  });
  if (!hasRole(session, "admin", "operator")) return null;
  return (
    <>
      <button type="button" className="secondary" disabled={resolve.isPending} onClick={() => resolve.mutate()}>
        {resolve.isError ? "Retry resolve" : "Resolve"}
        <span className="sr-only"> the mismatch of step {stepIndex ?? "—"}</span>
      </button>
      {resolve.isError && <ErrorState error={resolve.error} />}
    </>
  );
}

function MismatchList({ items }: { items: Mismatch[] }) {
  if (items.length === 0) return <Empty title="No mismatches" />;
  return (
    <ul className="mismatches">
      {items.map((m) => (
        <li key={m.mismatch_id}>
          <span className={`badge ${m.resolved ? "ok" : "sev-high"}`}>{m.resolved ? "resolved" : "open"}</span>
          <span>
            {m.trace_id && <a href={href("traces", m.trace_id)}>{m.trace_id}</a>} step {m.step_index ?? "—"}: {m.reason}
            <span className="muted"> ({mismatchSource(m)})</span>
            <span className="muted mono"> expected {shortHash(m.expected_hash)} got {shortHash(m.actual_hash)}</span>
            {m.resolved && m.resolved_by && <span className="muted"> · resolved by {m.resolved_by}</span>}
          </span>
          {!m.resolved && m.trace_id && (
            <ResolveButton traceId={m.trace_id} mismatchId={m.mismatch_id} stepIndex={m.step_index} />
          )}
        </li>
      ))}
    </ul>
  );
}

/** One trace's mismatches (shared by the mismatch panel and the replay panel: one request). */
export function useTraceMismatches(traceId: string) {
  return useQuery({
    queryKey: ["mismatches", traceId],
    queryFn: () =>
      ok(api.GET("/api/v1/traces/{trace_id}/mismatches", { params: { path: { trace_id: traceId } } })) as Promise<{
        mismatches: Mismatch[];
      }>,
  });
}

export function TraceMismatches({ traceId }: { traceId: string }) {
  const query = useTraceMismatches(traceId);
  return (
    <Panel title="Mismatches">
      {query.isPending ? (
        <Loading label="mismatches" />
      ) : query.isError ? (
        <ErrorState error={query.error} />
      ) : (
        <MismatchList items={query.data.mismatches.map((m) => ({ ...m, trace_id: traceId }))} />
      )}
    </Panel>
  );
}

export function Mismatches() {
  const [status, setStatus] = useState<"open" | "resolved">("open");
  const query = useQuery({
    queryKey: ["mismatches", "all", status],
    queryFn: () =>
      ok(api.GET("/api/v1/traces/mismatches", { params: { query: { window: "30d", status } } })) as Promise<{
        mismatches: Mismatch[];
        summary: { open: number; resolved: number };
      }>,
  });
  return (
    <>
      <div className="page-head">
        <h1>Traces</h1>
      </div>
      <Tabs current="mismatches" />
      <div className="segmented" role="group" aria-label="Mismatch status">
        {(["open", "resolved"] as const).map((value) => (
          <button key={value} type="button" aria-pressed={status === value} onClick={() => setStatus(value)}>
            {value}
            {query.data && ` (${query.data.summary[value]})`}
          </button>
        ))}
      </div>
      {query.isPending ? (
        <Loading label="mismatches" />
      ) : query.isError ? (
        <ErrorState error={query.error} retry={() => query.refetch()} />
      ) : (
        <MismatchList items={query.data.mismatches} />
      )}
    </>
  );
}
