import type { ChannelEventOf } from "./herald.ts";

/** What one subscriber's events say: anything that is not the next offset must follow a `recovered: false`. */
export function auditStream(events: readonly ChannelEventOf[]) {
  const problems: string[] = [];
  const ids = new Set<string>();
  let announced = 0;
  let position: { offset: number; epoch: string } | undefined;
  for (const event of events) {
    if (event.kind === "SUBSCRIBED") {
      if (event.recovered !== false) problems.push(`a later SUBSCRIBED without recovered: false`);
      announced++;
      position = { offset: event.offset!, epoch: event.epoch! };
      continue;
    }
    if (ids.has(event.id!)) problems.push(`${event.id} twice`);
    ids.add(event.id!);
    if (position && (event.epoch !== position.epoch || event.offset !== position.offset + 1)) {
      problems.push(`${event.epoch}/${event.offset} after ${position.epoch}/${position.offset}, unannounced`);
    }
    position = { offset: event.offset!, epoch: event.epoch! };
  }
  return { problems, ids, announced };
}
