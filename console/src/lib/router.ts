// Hash routes (#/cost, #/traces/run_1, ...): the gateway serves one index.html at "/", and a
// reload of any console page lands on the same document.
import { useEffect, useState } from "react";

export function currentRoute(): string[] {
  const path = window.location.hash.replace(/^#\/?/, "").split("?")[0];
  return path.split("/").filter(Boolean).map(decodeURIComponent);
}

export function useRoute(): string[] {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const update = () => setRoute(currentRoute());
    window.addEventListener("hashchange", update);
    return () => window.removeEventListener("hashchange", update);
  }, []);
  return route;
}

export function href(...parts: string[]): string {
  return "#/" + parts.map(encodeURIComponent).join("/");
}

export function navigate(...parts: string[]): void {
  window.location.hash = href(...parts).slice(1);
}

export function hashQuery(): URLSearchParams {
  return new URLSearchParams(window.location.hash.split("?")[1] ?? "");
}
