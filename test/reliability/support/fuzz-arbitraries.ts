import fc from "fast-check";

/** Keys that pollute prototypes when code merges objects carelessly. */
export const PROTO_KEYS = ["__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "valueOf"];

const scalar = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.constantFrom(
    "\u0000",
    "\u0000abc",
    "\uFFFF",
    "\uFEFF",
    "\u202E",
    "a\nb",
    "'; DROP TABLE stacks; --",
    "$(id)",
  ),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
);

/** Any JSON value, including objects keyed by prototype names. */
export const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  scalar,
  fc.jsonValue({ maxDepth: 3 }),
  fc.array(scalar, { maxLength: 5 }),
  fc.dictionary(fc.oneof(fc.constantFrom(...PROTO_KEYS), fc.string({ maxLength: 8 })), scalar, {
    maxKeys: 5,
  }),
);

/** Deeply nested arrays/objects as JSON text (built as text: no recursion needed to make them). */
export const deepJson = fc
  .tuple(fc.integer({ min: 50, max: 20_000 }), fc.boolean())
  .map(([depth, objects]) =>
    objects ? `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}` : `${"[".repeat(depth)}${"]".repeat(depth)}`,
  );

/** Huge strings (up to 1 MiB, four times what SQS would ever deliver). */
export const hugeString = fc
  .tuple(fc.constantFrom(20_000, 300_000, 1_048_576), fc.constantFrom("x", "é", "\u0000", "ab\n"))
  .map(([n, ch]) => ch.repeat(Math.ceil(n / ch.length)));

/** Raw JSON texts that smuggle prototype keys, with a random value spliced in. */
export function protoTemplates(stackId: string, event: string): fc.Arbitrary<string> {
  const templates = [
    (v: string) => `{"__proto__":{"polluted":${v}},"stackId":"${stackId}","event":"${event}"}`,
    (v: string) => `{"stackId":"${stackId}","event":"${event}","metadata":{"__proto__":{"polluted":${v}}}}`,
    (v: string) =>
      `{"stackId":"${stackId}","event":"${event}","metadata":{"constructor":{"prototype":{"polluted":${v}}}}}`,
    (v: string) =>
      `{"stackId":"${stackId}","constructor":{"prototype":{"polluted":${v}}},"event":"${event}"}`,
    (v: string) =>
      `{"stackId":"__proto__","event":"${event}","machine":"no-such-machine","metadata":{"x":${v}}}`,
    (v: string) =>
      `{"stackId":"${stackId}","event":"${event}","metadata":{"__proto__":${v},"polluted":true}}`,
  ];
  return fc.tuple(fc.constantFrom(...templates), anyValue).map(([t, v]) => t(JSON.stringify(v ?? null)));
}

/** Arbitrary text that is not JSON at all. */
export const notJson = fc.oneof(
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.string({ maxLength: 200 }),
  fc.constantFrom(
    "",
    " ",
    "{",
    "}",
    "[",
    "null",
    "undefined",
    "NaN",
    '{"stackId":',
    "\u0000",
    "{'stackId':'a'}",
  ),
);

/**
 * An object with the fields of a message (each possibly of the wrong type, missing, or huge),
 * plus strays; `fields` maps names to the realistic values to mix with arbitrary ones.
 */
export function messageLike(
  fields: Record<string, fc.Arbitrary<unknown>>,
): fc.Arbitrary<Record<string, unknown>> {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [name, realistic] of Object.entries(fields)) {
    model[name] = fc.oneof({ weight: 3, arbitrary: realistic }, { weight: 2, arbitrary: anyValue });
  }
  return fc
    .tuple(
      fc.record(model, { requiredKeys: [] }),
      fc.dictionary(
        fc.oneof(fc.constantFrom(...PROTO_KEYS, "extra", "Event"), fc.string({ maxLength: 6 })),
        anyValue,
        {
          maxKeys: 2,
        },
      ),
      fc.boolean(),
    )
    .map(([known, strays, addStrays]) => (addStrays ? { ...known, ...strays } : known));
}

/** Message bodies of every kind, as SQS would carry them (text). */
export function bodies(
  objects: fc.Arbitrary<Record<string, unknown>>,
  protos: fc.Arbitrary<string>,
): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: objects.map((o) => JSON.stringify(o)) },
    { weight: 2, arbitrary: fc.json() },
    { weight: 2, arbitrary: notJson },
    { weight: 2, arbitrary: protos },
    { weight: 1, arbitrary: deepJson },
    {
      weight: 1,
      arbitrary: deepJson.map((d) => `{"stackId":"fz-a","event":"DESTROY","metadata":{"a":${d}}}`),
    },
    { weight: 1, arbitrary: anyValue.map((v) => JSON.stringify(v) ?? "undefined") },
    { weight: 1, arbitrary: withHugeField(objects).map((o) => JSON.stringify(o)) },
  );
}

/** A message with one field (or one metadata value) replaced by a huge string. */
export function withHugeField(
  objects: fc.Arbitrary<Record<string, unknown>>,
): fc.Arbitrary<Record<string, unknown>> {
  const fields = [
    "stackId",
    "event",
    "machine",
    "eventId",
    "task",
    "token",
    "description",
    "executor",
    "metadata",
    "x",
  ];
  return fc
    .tuple(objects, fc.constantFrom(...fields), hugeString)
    .map(([o, field, huge]) =>
      field === "metadata" ? { ...o, metadata: { note: huge } } : { ...o, [field]: huge },
    );
}

/** A valid message with one to three fields replaced by arbitrary values, deleted, or joined by a stray key. */
export function mutatedValid(bases: Record<string, unknown>[]): fc.Arbitrary<Record<string, unknown>> {
  const edit = fc.record({
    field: fc.nat(),
    how: fc.constantFrom("replace", "delete", "stray", "proto"),
    value: fc.oneof({ weight: 12, arbitrary: anyValue }, { weight: 1, arbitrary: hugeString }),
  });
  return fc
    .tuple(fc.constantFrom(...bases), fc.array(edit, { minLength: 1, maxLength: 3 }))
    .map(([base, edits]) => {
      const out: Record<string, unknown> = structuredClone(base);
      const keys = Object.keys(base);
      for (const e of edits) {
        const key = keys[e.field % keys.length] as string;
        if (e.how === "replace") out[key] = e.value;
        else if (e.how === "delete") delete out[key];
        else if (e.how === "stray") out[`x${e.field % 7}`] = e.value;
        else
          Object.defineProperty(out, PROTO_KEYS[e.field % PROTO_KEYS.length] as string, {
            value: e.value,
            enumerable: true,
            configurable: true,
            writable: true,
          });
      }
      return out;
    });
}

/**
 * Yields `count` samples the predicate accepts, in chunks (huge bodies must not all sit in memory
 * at once), deterministically from `seed`; `setAside` counts those it rejected on the way.
 */
export function* sampleChunks<T>(
  arb: fc.Arbitrary<T>,
  count: number,
  seed: number,
  keep: (value: T) => boolean,
  stats: { setAside: number },
  chunk = 200,
): Generator<T[]> {
  let kept = 0;
  for (let round = 0; kept < count; round++) {
    const out: T[] = [];
    for (const value of fc.sample(arb, { numRuns: chunk, seed: seed + round * 7919 })) {
      if (kept + out.length === count) break;
      if (keep(value)) out.push(value);
      else stats.setAside += 1;
    }
    kept += out.length;
    yield out;
  }
}
