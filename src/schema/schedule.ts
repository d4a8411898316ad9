import { builder } from "./builder.ts";
import { MessageStatusRef } from "./message-status.ts";
import { messageFields } from "./publish.ts";

export const ScheduleInputRef = builder.inputType("ScheduleInput", {
  description:
    "One event to publish later and/or repeatedly: the publish fields, then when. Runs fire on the cadence " +
    "`publishAt + k * repeatEvery` until `repeatExpiresAt`; runs missed while no Herald instance was up " +
    "collapse into one catch-up publish, then the cadence resumes.",
  fields: (t) => ({
    ...messageFields(t, "Message id; generated when absent. Scheduling an id the app already has returns that schedule."),
    publishAt: t.field({ type: "DateTime", required: true, description: "First run; not in the past." }),
    repeatEvery: t.int({ description: "Seconds between runs (at least `HERALD_SCHEDULE_MIN_REPEAT_SECONDS`, default 1)." }),
    repeatExpiresAt: t.field({ type: "DateTime", description: "No run after this time; needs `repeatEvery`, not before `publishAt`." }),
  }),
});

builder.mutationFields((t) => ({
  schedule: t.field({
    type: MessageStatusRef,
    description: "Publish at `publishAt`, and every `repeatEvery` seconds after if given (needs the app secret).",
    args: { input: t.arg({ type: ScheduleInputRef, required: true }) },
    resolve: (_root, { input }, { herald, caller }) => herald.schedule(caller, input),
  }),
  cancelScheduled: t.field({
    type: MessageStatusRef,
    description: "Cancel a schedule's remaining runs; NOT_FOUND when it has none (needs the app secret).",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, { herald, caller }) => herald.cancelScheduled(caller, id),
  }),
}));
