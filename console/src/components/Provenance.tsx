// Where a figure comes from, on hover or keyboard focus: window, sources, computed at.
import { useId } from "react";
import { formatTime } from "../lib/format";

export interface ProvenanceInfo {
  window?: string;
  sources?: string[];
  aggregation?: string;
  computedAt?: string;
}

export function Provenance({ info, children }: { info: ProvenanceInfo; children: React.ReactNode }) {
  const id = useId();
  return (
    <span className="prov">
      <span className="prov-target" tabIndex={0} aria-describedby={id}>
        {children}
      </span>
      <span role="tooltip" id={id} className="prov-tip">
        {info.window && <span>Window: {info.window}</span>}
        {info.sources && <span>Sources: {info.sources.join(", ")}</span>}
        {info.aggregation && <span>Aggregation: {info.aggregation}</span>}
        {info.computedAt && <span>Computed at: {formatTime(info.computedAt)}</span>}
      </span>
    </span>
  );
}
