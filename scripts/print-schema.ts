import { writeFileSync } from "node:fs";
import { printSchema } from "graphql";
import { printHeraldSchema } from "../src/schema/index.ts";

/** Writes schema/schema.graphql from the Pothos schema (`npm run schema`). */
const target = new URL("../schema/schema.graphql", import.meta.url);
writeFileSync(target, printHeraldSchema(printSchema));
console.log(`wrote ${target.pathname}`);
