/**
 * A Schema encoding as a JSON value (keys holding `undefined` dropped, as JSON text has none):
 * the reference the hand-written channel encodings (`state-json.ts`) are equal to.
 */
import type { Schema } from "effect"

type Json = Schema.Json
type JsonObject = { [key: string]: Json }

/** A Schema encoding as a JSON value: keys holding `undefined` dropped (what JSON text keeps). */
export const toJsonValue = (u: unknown): Json => {
  if (u === null || typeof u === "string" || typeof u === "boolean") return u
  if (typeof u === "number") return u
  if (Array.isArray(u)) return u.map(toJsonValue)
  if (typeof u === "object") return toJsonObject(u)
  throw new TypeError(`not a JSON value: ${typeof u}`) // unreachable: the Schemas here encode to JSON
}

/** `toJsonValue` of an encoding that is an object (a Struct's). */
const toJsonObject = (u: unknown): JsonObject => {
  // unreachable: called with Structs' encodings
  if (typeof u !== "object" || u === null || Array.isArray(u)) throw new TypeError(`not a JSON object: ${typeof u}`)
  const o: JsonObject = {}
  for (const [k, v] of Object.entries(u)) if (v !== undefined) o[k] = toJsonValue(v)
  return o
}
