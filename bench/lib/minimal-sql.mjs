// The minimal-SQL ceiling: the bench workload's semantics (qa-env's LAUNCH, TASK_COMPLETED and
// TOUCH) written by hand against the same tables with `pg`, with the fewest round trips the design
// allows. It keeps every guarantee the engine gives for these events — one writer per stack (a
// stack row is written only at the version it was read, under its row lock), exactly-once effect
// (the history row's unique (stack, event key) index, in the same statement as the stack write),
// no lost task message (outbox row in that statement, sent after commit, claimed while sending),
// timers written with the stack (bench/specs/qa-env.yml: provision-env's 15 min timeout, the 3-day
// idle TTL and its warning a day before) — and nothing else: no validation, no spec, no logging, a
// decision hard-coded for three events of that machine.
//
// Per event: LAUNCH is one statement (insert the stack ON CONFLICT DO NOTHING, its outbox row and
// its history row, all gated on the insert); TASK_COMPLETED and TOUCH are one (lock the row at the
// version read, insert the history row, update the row — gated in that order), after one read per
// batch of the rows and versions of the stacks its first records do not create (as the engine
// does; a stack's later records in the batch read it again). Per batch, after every event
// committed: one transaction claims the batch's unsent rows (FOR UPDATE SKIP LOCKED),
// SendMessageBatch, marks them sent with their SQS message ids. Every
// statement is a named prepared statement (parsed and planned once per connection).
import { randomUUID } from "node:crypto";
import { SendMessageBatchCommand } from "@aws-sdk/client-sqs";

const TASK = "provision-env";
const TASK_CONFIG = { name: "provision-env", args: { size: "small" } };
const MINUTE = 60_000;
const DAY = 86_400_000;
const TIMEOUT = 15 * MINUTE;
const TTL_IDLE = 3 * DAY;
const TTL_WARN = DAY;
const plus = (iso, ms) => new Date(Date.parse(iso) + ms).toISOString();

/** A write lost a race or met a known key: the record is returned to the queue (never in this workload). */
class Conflict extends Error {}

// A rolled-back statement: the CASE keeps the cast from being folded at plan time, so it fails
// only when reached.
const abortIf = (cond, why) => `(CASE WHEN ${cond} THEN '${why}' END)::int`;

const CREATE = `
  WITH s AS (
    INSERT INTO stacks (id, machine, version, state, metadata, tasks, entry, created_at, updated_at, entered_at, active_at)
    VALUES ($1, $2, $3, 'PROVISION', $4::jsonb, $5::jsonb, 1, $6, $6, $6, $6)
    ON CONFLICT (id) DO NOTHING RETURNING 1),
  t AS (
    INSERT INTO timers (stack_id, name, due_at)
    SELECT $1, x.name, x.due_at FROM unnest('{timeout:${TASK},ttl,ttl-warning}'::text[], $11::timestamptz[]) AS x(name, due_at)
    WHERE EXISTS (SELECT FROM s)),
  o AS (
    INSERT INTO outbox (stack_id, task, token, body) SELECT $1, '${TASK}', $7, $8 WHERE EXISTS (SELECT FROM s) RETURNING id),
  h AS (
    INSERT INTO history (stack_id, machine, event, event_key, outcome, from_state, to_state, path, detail)
    SELECT $1, $2, 'LAUNCH', $9, 'applied', NULL, 'PROVISION', '{PROVISION}', $10::jsonb WHERE EXISTS (SELECT FROM s)
    ON CONFLICT (stack_id, event_key) WHERE duplicate = false DO NOTHING RETURNING 1)
  SELECT EXISTS (SELECT FROM s) AS created,
         ${abortIf("EXISTS (SELECT FROM s) AND NOT EXISTS (SELECT FROM h)", "minimal: event key known")} AS known`;

const READ = `
  SELECT state, metadata, tasks, entry, xmin::text AS row_version,
         EXISTS (SELECT 1 FROM outbox WHERE stack_id = $1 AND sent_at IS NULL) AS unsent
  FROM stacks WHERE id = $1`;

// The batch's read: each id through the primary key (see READ_STACKS in the engine's stack-rows.ts).
const READ_MANY = `
  SELECT r.* FROM unnest($1::text[]) AS x(id) CROSS JOIN LATERAL (
    SELECT s.id, s.state, s.metadata, s.tasks, s.entry, s.xmin::text AS row_version,
           EXISTS (SELECT 1 FROM outbox o WHERE o.stack_id = s.id AND o.sent_at IS NULL) AS unsent
    FROM stacks s WHERE s.id = x.id ORDER BY s.id LIMIT 1) r`;

// The row lock taken at the version read; the history row (the idempotency record) before the
// stack and timer writes, which run only if the row was current and the key new.
const write = (timers) => `
  WITH l AS (SELECT 1 FROM stacks WHERE id = $1 AND xmin = $2::xid FOR UPDATE),
  h AS (
    INSERT INTO history (stack_id, machine, event, event_key, outcome, reason, from_state, to_state, path, task, token, detail)
    SELECT $1, $3, $4, $5, $6, $7, $8, $9, $10::text[], $11, $12, $13::jsonb WHERE EXISTS (SELECT FROM l)
    ON CONFLICT (stack_id, event_key) WHERE duplicate = false DO NOTHING RETURNING 1),
  s AS (
    UPDATE stacks SET state = $9, metadata = $14::jsonb, tasks = $15::jsonb, entry = $16, updated_at = $17,
      entered_at = coalesce($18, entered_at), active_at = coalesce($19, active_at)
    WHERE id = $1 AND $20 AND EXISTS (SELECT FROM h) RETURNING 1)${timers}
  SELECT EXISTS (SELECT FROM l) AS current, EXISTS (SELECT FROM h) AS recorded`;

const WRITE = {
  none: write(""),
  // The task finished: its timeout goes.
  done: write(`,
  t AS (DELETE FROM timers WHERE stack_id = $1 AND name = 'timeout:${TASK}' AND EXISTS (SELECT FROM h))`),
  // An event from outside: the idle TTL and its warning move.
  active: write(`,
  t AS (
    INSERT INTO timers (stack_id, name, due_at)
    SELECT $1, x.name, x.due_at FROM unnest('{ttl,ttl-warning}'::text[], $21::timestamptz[]) AS x(name, due_at)
    WHERE EXISTS (SELECT FROM h)
    ON CONFLICT (stack_id, name) DO UPDATE SET due_at = EXCLUDED.due_at, claimed_until = NULL)`),
};

/** A named prepared statement: parsed and planned once per connection. */
const prepared = (client, name, text, values) => client.query({ name, text, values });

/** The minimal State Manager over a pg pool and an SQS client (see the file comment). */
export function minimalStateManager({ pool, sqs, taskQueueUrl, concurrency, version }) {
  /** The hard-coded decision for an existing stack. */
  function decide(row, msg, now) {
    const base = { machine: "qa-env", event: msg.event, from: row.state };
    if (msg.event === "TASK_COMPLETED") {
      const task = row.tasks.find((t) => t.name === msg.task);
      if (row.state !== "PROVISION" || !task || task.token !== msg.token || task.status !== "PENDING") {
        return { ...base, outcome: "ignored", reason: "stale report", to: row.state, write: false };
      }
      // provision-env was PROVISION's only task: NEXT fires, RUN has none.
      return {
        ...base,
        outcome: "applied",
        to: "RUN",
        path: ["RUN"],
        task: msg.task,
        token: msg.token,
        detail: { note: "NEXT fired: all 1 task of PROVISION satisfied" },
        write: true,
        timers: "done",
        state: "RUN",
        metadata: row.metadata,
        tasks: [],
        entry: row.entry + 1,
        enteredAt: now,
        activeAt: null,
      };
    }
    if (msg.event === "TOUCH" && (row.state === "RUN" || row.state === "FROZEN")) {
      return {
        ...base,
        outcome: "applied",
        to: row.state,
        path: [],
        detail: { metadataKeys: Object.keys(msg.metadata ?? {}) },
        write: true,
        timers: "active",
        state: row.state,
        metadata: { ...row.metadata, ...msg.metadata },
        tasks: row.tasks,
        entry: row.entry,
        enteredAt: null,
        activeAt: now,
      };
    }
    return {
      ...base,
      outcome: "refused",
      reason: `state ${row.state} does not handle ${msg.event}`,
      to: row.state,
      write: false,
    };
  }

  /** LAUNCH: one statement; false when the stack exists (the caller reads and decides). */
  async function create(client, msg, key, unsent) {
    const now = new Date().toISOString();
    const token = randomUUID();
    const metadata = msg.metadata ?? {};
    const body = JSON.stringify({
      stackId: msg.stackId,
      machine: msg.machine,
      state: "PROVISION",
      task: TASK,
      executor: "lambda",
      config: TASK_CONFIG,
      metadata,
      token,
      attempt: 1,
      dispatchedAt: now,
      deadline: plus(now, TIMEOUT),
    });
    const tasks = [
      { name: TASK, status: "PENDING", token, attempt: 1, dispatchedAt: now, deadline: plus(now, TIMEOUT) },
    ];
    const { rows } = await prepared(client, "minimal_create", CREATE, [
      msg.stackId,
      msg.machine,
      version,
      JSON.stringify(metadata),
      JSON.stringify(tasks),
      now,
      token,
      body,
      key,
      JSON.stringify({ dispatched: [{ task: TASK, token, attempt: 1 }] }),
      [plus(now, TIMEOUT), plus(now, TTL_IDLE), plus(now, TTL_IDLE - TTL_WARN)],
    ]);
    if (!rows[0].created) return false;
    unsent.add(msg.stackId);
    return true;
  }

  /** Any other event: read (unless the batch did), decide, write at the version read. */
  async function update(client, msg, key, unsent, early) {
    const row = early ?? (await prepared(client, "minimal_read", READ, [msg.stackId])).rows[0];
    if (!row) throw new Conflict("no such stack (not part of the workload)");
    if (row.unsent) unsent.add(msg.stackId);
    const now = new Date().toISOString();
    const d = decide(row, msg, now);
    const ttl = d.timers === "active" ? [[plus(now, TTL_IDLE), plus(now, TTL_IDLE - TTL_WARN)]] : [];
    const kind = d.timers ?? "none";
    const { rows } = await prepared(client, `minimal_write_${kind}`, WRITE[kind], [
      msg.stackId,
      row.row_version,
      d.machine,
      d.event,
      key,
      d.outcome,
      d.reason ?? null,
      d.from,
      d.to,
      d.path ?? null,
      d.task ?? null,
      d.token ?? null,
      d.detail ? JSON.stringify(d.detail) : null,
      JSON.stringify(d.metadata ?? null),
      JSON.stringify(d.tasks ?? null),
      d.entry ?? 0,
      now,
      d.enteredAt ?? null,
      d.activeAt ?? null,
      d.write,
      ...ttl,
    ]);
    if (!rows[0].current || !rows[0].recorded) throw new Conflict("the stack moved on, or the key is known");
  }

  async function handleOne(msg, key, unsent, early) {
    const client = await pool.connect();
    try {
      if (msg.machine !== undefined && (await create(client, msg, key, unsent))) return;
      await update(client, msg, key, unsent, early);
    } finally {
      client.release();
    }
  }

  /** After every event of the batch committed: claim, send and mark the stacks' unsent rows. */
  async function flush(stackIds) {
    if (stackIds.size === 0) return 0;
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      const { rows } = await prepared(
        client,
        "minimal_claim",
        "SELECT id, body FROM outbox WHERE stack_id = ANY($1::text[]) AND sent_at IS NULL ORDER BY id LIMIT 10 FOR UPDATE SKIP LOCKED",
        [[...stackIds]],
      );
      if (rows.length > 0) {
        const res = await sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: taskQueueUrl,
            Entries: rows.map((r) => ({ Id: `m${r.id}`, MessageBody: r.body })),
          }),
        );
        const ok = res.Successful ?? [];
        await prepared(
          client,
          "minimal_sent",
          "UPDATE outbox SET sent_at = now(), message_id = v.m FROM unnest($1::bigint[], $2::text[]) AS v(id, m) WHERE outbox.id = v.id",
          [ok.map((s) => s.Id.slice(1)), ok.map((s) => s.MessageId)],
        );
      }
      await client.query("COMMIT");
      return rows.length;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  return {
    /** One SQS batch: stacks in parallel (at most `concurrency`), a stack's records in order, then one flush. */
    async handle(records) {
      const groups = new Map();
      for (const record of records) {
        const msg = JSON.parse(record.body);
        const group = groups.get(msg.stackId);
        if (group) group.push({ record, msg });
        else groups.set(msg.stackId, [{ record, msg }]);
      }
      const queue = [...groups.values()];
      const unsent = new Set();
      const read = new Map();
      const ids = queue.filter((g) => g[0].msg.machine === undefined).map((g) => g[0].msg.stackId);
      if (ids.length > 1) {
        const { rows } = await pool.query({ name: "minimal_read_many", text: READ_MANY, values: [ids] });
        for (const row of rows) read.set(row.id, row);
      }
      const failures = [];
      const worker = async () => {
        for (let group = queue.shift(); group; group = queue.shift()) {
          for (const [i, { record, msg }] of group.entries()) {
            try {
              const early = i === 0 ? read.get(msg.stackId) : undefined;
              await handleOne(msg, msg.eventId ?? record.messageId, unsent, early);
            } catch {
              // Later records of the stack must not overtake it.
              for (const r of group.slice(i)) failures.push({ itemIdentifier: r.record.messageId });
              break;
            }
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
      await flush(unsent);
      return { batchItemFailures: failures };
    },
  };
}
