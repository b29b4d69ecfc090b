import { href } from "../../lib/router";

/** The two views of the traces page: the runs and the tenant-wide mismatches. */
export function Tabs({ current }: { current: "list" | "mismatches" }) {
  return (
    <nav className="tabs" aria-label="Traces views">
      <a href={href("traces")} aria-current={current === "list" ? "page" : undefined}>Runs</a>
      <a href={href("traces", "mismatches")} aria-current={current === "mismatches" ? "page" : undefined}>
        Mismatches
      </a>
    </nav>
  );
}
