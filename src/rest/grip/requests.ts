/**
 * GRIP publish requests (`{"items": [...]}`), parsed once from `unknown` into the core's publish
 * inputs. Only the shape is checked here: key names (GRIP's hyphenated `prev-id`, `http-response`,
 * `body-bin`…, or the SDK models' underscored `prev_id`, `http_response`, `body_bin`…) and that
 * each item is an object; the rules (channel names, formats, ids, sizes) are the core's.
 * See https://pushpin.org/docs/protocols/grip/ and Fastly's Fanout publishing API.
 */
import type { FormatsInput } from "../../core/formats.ts";
import type { PublishInput } from "../../core/types.ts";
import { isRecord } from "../../core/validation.ts";
import { ErrorCode, HeraldError } from "../../errors.ts";
import { parseJson } from "../parse-request.ts";

/** Item fields, by their GRIP names. */
const ITEM_FIELDS = { channel: "channel", id: "id", "prev-id": "prevId", formats: "formats", meta: "meta" } as const;
/** Format names, by their GRIP names. */
const FORMAT_NAMES = { "http-response": "httpResponse", "http-stream": "httpStream", "ws-message": "wsMessage" } as const;
/** Fields inside a format whose GRIP names differ from the core's. */
const FORMAT_FIELDS = { "body-bin": "bodyBin", "content-bin": "contentBin" } as const;

/** The items of a publish body, as publish inputs (one channel each), in order. */
export function parseGripPublishBody(rawBody: Buffer): PublishInput[] {
  const body = parseJson(rawBody);
  if (!isRecord(body) || !Array.isArray(body.items)) throw badRequest('body must be {"items": [...]}');
  if (body.items.length === 0) throw badRequest("items is empty: give at least one item");
  return body.items.map((item, index) => itemInput(item, index));
}

function itemInput(value: unknown, index: number): PublishInput {
  if (!isRecord(value)) throw badRequest(`Item ${index}: must be an object`);
  const item = renamed(value, ITEM_FIELDS, false, `Item ${index}`);
  if (item.channel === undefined) throw badRequest(`Item ${index}: channel is required`);
  if (item.id != null && typeof item.id !== "string") throw badRequest(`Item ${index}: id must be a string`);
  if (item.prevId != null && typeof item.prevId !== "string") throw badRequest(`Item ${index}: prev-id must be a string`);
  if (item.formats === undefined) throw badRequest(`Item ${index}: formats is required`);
  return {
    channels: [item.channel as string],
    id: item.id as string | undefined,
    prevId: item.prevId as string | undefined,
    formats: formatsInput(item.formats, index),
    headers: item.meta,
  };
}

/** The formats with the core's names; a value that is not an object goes on for the core to name. */
function formatsInput(formats: unknown, index: number): FormatsInput | typeof formats {
  if (!isRecord(formats)) return formats;
  const named = renamed(formats, FORMAT_NAMES, true, `Item ${index}: formats`);
  return Object.fromEntries(
    Object.entries(named).map(([name, format]) => [name, isRecord(format) ? renamed(format, FORMAT_FIELDS, true, `Item ${index}: ${name}`) : format]),
  );
}

/**
 * `value` with each field renamed by `names` (a GRIP name, or the same with `_` for `-`);
 * with `keepOthers` other fields pass as they are (the core names an unknown one), otherwise
 * they are refused. Both spellings of one field are refused too.
 */
function renamed(value: Record<string, unknown>, names: Readonly<Record<string, string>>, keepOthers: boolean, where: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, fieldValue] of Object.entries(value)) {
    const grip = field.replaceAll("_", "-");
    const name = Object.hasOwn(names, grip) ? names[grip]! : undefined;
    if (name === undefined && !keepOthers) throw badRequest(`${where}: unknown field ${JSON.stringify(field)}`);
    const key = name ?? field;
    if (Object.hasOwn(out, key)) throw badRequest(`${where}: ${grip} is given twice (hyphenated and underscored)`);
    out[key] = fieldValue;
  }
  return out;
}

const badRequest = (message: string) => new HeraldError(ErrorCode.BadRequest, message);
