import type { HeraldCore } from "../core/herald.ts";
import type { Caller } from "../core/types.ts";

/** What every resolver receives: the core, and who is calling. Built by the transports. */
export interface HeraldContext {
  readonly herald: HeraldCore;
  readonly caller: Caller;
}
