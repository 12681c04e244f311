/**
 * Incremental Schema encoding for values that change a little at a time (the channel record the
 * `ChannelManager` persists after every step): the encoding of each sub-object is remembered by
 * the sub-object's identity, so a state that shares most of its objects with the previous one
 * (the reducer's states are immutable and copy only what changes) costs only what changed.
 *
 * `makeMemoEncoder(schema)` gives the same value as `Schema.encodeSync(schema)` (the test compares
 * them on whole channel lives), built from the schema's AST:
 * - a struct without its own transformation: each property with the property's encoder (an
 *   absent or `undefined` optional property is left out, as JSON would);
 * - an array of one item schema: each item with the item's encoder;
 * - a union: the member whose `_tag` literal matches the value's `_tag`, or the only member that
 *   is not `null`/`undefined` for a value that is neither; else the union as a whole;
 * - anything else (a transformation such as bytes to hex, a declaration, a class): the Schema's
 *   own encoder on that node.
 * Objects and arrays are remembered in a `WeakMap` per schema node (nothing is kept alive).
 * Assumption: values are immutable (no `Uint8Array` or object is changed in place after it was
 * encoded), which is the rule for states and messages in `src/protocol`. Checks (refinements) of
 * a struct or array are not run again on the way out: the values come from our own reducer.
 */
import { Schema, SchemaAST } from "effect"

type Encoder = (value: unknown) => unknown

const identity: Encoder = (v) => v

const isRecord = (v: unknown): v is { readonly [key: string]: unknown } => typeof v === "object" && v !== null

/** Remembers `encode`'s result per object (primitives are encoded each time: they are cheap). */
const remembered = (encode: Encoder): Encoder => {
  const memo = new WeakMap<object, unknown>()
  return (v) => {
    if (typeof v !== "object" || v === null) return encode(v)
    if (memo.has(v)) return memo.get(v)
    const out = encode(v)
    memo.set(v, out)
    return out
  }
}

/** The `_tag` literal of a struct node, if it has one. */
const tagOf = (ast: SchemaAST.AST): string | undefined => {
  if (!SchemaAST.isObjects(ast)) return undefined
  for (const ps of ast.propertySignatures) {
    if (ps.name === "_tag" && SchemaAST.isLiteral(ps.type) && typeof ps.type.literal === "string") return ps.type.literal
  }
  return undefined
}

export const makeMemoEncoder = <S extends Schema.Top>(schema: S): ((value: S["Type"]) => unknown) => {
  const built = new Map<SchemaAST.AST, Encoder>()

  const leaf = (ast: SchemaAST.AST): Encoder => {
    const encode = Schema.encodeUnknownSync(Schema.make<Schema.Codec<unknown, unknown>>(ast))
    return remembered((v) => encode(v))
  }

  const build = (ast: SchemaAST.AST): Encoder => {
    const known = built.get(ast)
    if (known !== undefined) return known
    // Placeholder against cycles (a suspended schema refers back): resolved on first call.
    let resolved: Encoder | undefined
    built.set(ast, (v) => (resolved ?? build(ast))(v))
    resolved = make(ast)
    built.set(ast, resolved)
    return resolved
  }

  const make = (ast: SchemaAST.AST): Encoder => {
    if (ast.encoding !== undefined) return leaf(ast)
    if (SchemaAST.isString(ast) || SchemaAST.isNumber(ast) || SchemaAST.isBoolean(ast) || SchemaAST.isLiteral(ast)) {
      return ast.checks === undefined ? identity : leaf(ast)
    }
    if (SchemaAST.isNull(ast) || SchemaAST.isUndefined(ast)) return identity
    if (SchemaAST.isObjects(ast)) {
      if (ast.indexSignatures.length > 0) return leaf(ast)
      const props = ast.propertySignatures.map((ps) => ({ name: ps.name, type: ps.type }))
      if (props.some((p) => typeof p.name !== "string")) return leaf(ast)
      const fallback = leaf(ast)
      const encoders = props.map((p) => ({ name: String(p.name), encode: build(p.type) }))
      return remembered((v) => {
        if (!isRecord(v)) return fallback(v)
        const out: { [key: string]: unknown } = {}
        for (const p of encoders) {
          const x = v[p.name]
          if (x !== undefined) out[p.name] = p.encode(x)
        }
        return out
      })
    }
    if (SchemaAST.isArrays(ast)) {
      const item = ast.rest[0]
      if (ast.elements.length > 0 || ast.rest.length !== 1 || item === undefined) return leaf(ast)
      const fallback = leaf(ast)
      const encode = build(item)
      return remembered((v) => (Array.isArray(v) ? v.map((x: unknown) => encode(x)) : fallback(v)))
    }
    if (SchemaAST.isUnion(ast)) {
      const whole = leaf(ast)
      const byTag = new Map<string, SchemaAST.AST>()
      for (const member of ast.types) {
        const tag = tagOf(member)
        if (tag !== undefined && !byTag.has(tag)) byTag.set(tag, member)
      }
      const solid = ast.types.filter((m) => !SchemaAST.isNull(m) && !SchemaAST.isUndefined(m))
      const only = solid.length === 1 && solid[0] !== undefined && solid.length < ast.types.length ? solid[0] : undefined
      return (v) => {
        if (v === null || v === undefined) return v
        if (isRecord(v) && typeof v["_tag"] === "string") {
          const member = byTag.get(v["_tag"])
          if (member !== undefined) return build(member)(v)
        }
        return only !== undefined ? build(only)(v) : whole(v)
      }
    }
    return leaf(ast)
  }

  const root = build(schema.ast)
  return (value) => root(value)
}
