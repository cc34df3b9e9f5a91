import type { Notification, Stack, Timer } from "@stackseam/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createStackStatement,
  type EventWrite,
  guardedWriteStatement,
  type RowGuard,
  type Statement,
  type Texts,
} from "../src/decision-writes.js";

// The event path builds each statement shape's text once (decision-writes.ts, texts) and then
// only collects a statement's values: that is right only if the shape alone decides the text, and
// if collecting the values alone gives the values building the text gives. Checked over every
// branch the builders take, with values that vary freely within a shape.

const word = fc.string({ minLength: 1, maxLength: 12 });
const iso = fc
  .integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2100, 0, 1) })
  .map((ms) => new Date(ms).toISOString());

const stack: fc.Arbitrary<Stack> = fc.record({
  id: word,
  machine: word,
  version: word,
  state: word,
  metadata: fc.dictionary(word, word, { maxKeys: 3 }),
  tasks: fc.constant([]),
  entry: fc.nat(9),
  createdAt: iso,
  updatedAt: iso,
});

const timers: fc.Arbitrary<Timer[]> = fc.uniqueArray(fc.record({ name: word, dueAt: iso }), {
  maxLength: 4,
  selector: (t) => t.name,
});

const history = (stackId: string) =>
  fc.record({
    stackId: fc.constant(stackId),
    machine: fc.option(word, { nil: null }),
    event: fc.option(word, { nil: null }),
    eventKey: word,
    outcome: fc.constantFrom("applied", "ignored", "refused" as const),
    reason: fc.option(word, { nil: null }),
    path: fc.option(fc.array(word, { maxLength: 2 }), { nil: null }),
  });

const messages = fc.array(fc.record({ task: word, token: word, body: word }), { maxLength: 2 });

const notifications: fc.Arbitrary<Notification[]> = fc.array(
  fc.record({
    target: word,
    kind: fc.constant("state-entered"),
    destination: fc.record({ webhook: fc.record({ url: fc.webUrl() }) }),
    body: fc.constant({}),
  }) as unknown as fc.Arbitrary<Notification>,
  { maxLength: 2 },
);

const eventWrite: fc.Arbitrary<EventWrite> = fc
  .tuple(stack, fc.constantFrom("update", "delete", "none"), fc.option(timers, { nil: undefined }), fc.nat(2))
  .chain(([s, kind, ts, also]) =>
    fc.record({
      stackId: fc.constant(s.id),
      write: fc.constant(kind === "update" ? { kind, stack: s } : { kind }) as fc.Arbitrary<
        EventWrite["write"]
      >,
      messages,
      history: history(s.id),
      also: fc.array(history(s.id), { minLength: also, maxLength: also }),
      timers: fc.constant(ts),
      timersKept: ts === undefined ? fc.constant(undefined) : fc.subarray(ts.map((t) => t.name)),
      notifications,
    }),
  );

const guard: fc.Arbitrary<RowGuard> = fc.oneof(
  fc.record({ version: fc.nat().map(String) }),
  fc.constant({ absent: true as const }),
);

/** Two statements have one text exactly when they have one shape; every value has its placeholder. */
function consistent(a: Statement, b: Statement) {
  expect(a.text === b.text).toBe(a.shape === b.shape);
  for (const s of [a, b]) {
    const placeholders = new Set([...s.text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
    expect(Math.max(0, ...placeholders)).toBe(s.values.length);
  }
}

describe("statement shapes", () => {
  it("an unlocked event write's text is decided by its shape", () => {
    fc.assert(
      fc.property(eventWrite, guard, eventWrite, guard, (w1, g1, w2, g2) => {
        consistent(guardedWriteStatement(w1, g1, null), guardedWriteStatement(w2, g2, null));
      }),
      { numRuns: 500 },
    );
  });

  it("a first event's text is decided by its shape", () => {
    const first = fc
      .tuple(stack, messages, timers, notifications)
      .chain(([s, m, t, n]) => history(s.id).map((h) => createStackStatement(s, m, h, t, n)));
    fc.assert(fc.property(first, first, consistent), { numRuns: 300 });
  });

  it("writes of one shape with other values share the text; each branch has a shape of its own", () => {
    const shapes = new Set<string>();
    fc.assert(
      fc.property(eventWrite, guard, (w, g) => {
        shapes.add(guardedWriteStatement(w, g, null).shape);
      }),
      { numRuns: 500 },
    );
    // write kind (3) × guard (2) × history rows (3) × timers (absent, or which of moved/kept) × notifications × outbox
    expect(shapes.size).toBeGreaterThan(100);
  });

  it("a statement of a known shape gets that text, and the values building it would give", () => {
    const cache: Texts = new Map();
    fc.assert(
      fc.property(eventWrite, guard, (w, g) => {
        const built = guardedWriteStatement(w, g, null);
        guardedWriteStatement(w, g, cache);
        const known = guardedWriteStatement(w, g, cache);
        expect(known.text).toBe(built.text);
        expect(known.values).toEqual(built.values);
      }),
      { numRuns: 300 },
    );
    const first = fc
      .tuple(stack, messages, timers, notifications)
      .chain(([s, m, t, n]) => history(s.id).map((h) => [s, m, h, t, n] as const));
    fc.assert(
      fc.property(first, ([s, m, h, t, n]) => {
        const built = createStackStatement(s, m, h, t, n, null);
        createStackStatement(s, m, h, t, n, cache);
        const known = createStackStatement(s, m, h, t, n, cache);
        expect(known.text).toBe(built.text);
        expect(known.values).toEqual(built.values);
      }),
      { numRuns: 200 },
    );
  });
});
