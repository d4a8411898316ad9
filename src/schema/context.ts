import type { HeraldCore } from "../core/herald.ts";
import type { ResponseBudget } from "../core/response-budget.ts";
import type { Caller } from "../core/types.ts";

/** What every resolver receives: the core, and who is calling. Built by the transports. */
export interface HeraldContext {
  readonly herald: HeraldCore;
  readonly caller: Caller;
  /** What this request's answer may still take (queries and mutations; none for subscription events). */
  readonly budget?: ResponseBudget;
}
