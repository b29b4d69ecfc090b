import { createContext, useContext } from "react";
import type { SessionInfo } from "./permissions";

export const SessionContext = createContext<SessionInfo | null>(null);

export function useSession(): SessionInfo | null {
  return useContext(SessionContext);
}
