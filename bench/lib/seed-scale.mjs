// Seeds a database as a year of use would leave it: N stacks of qa-env (most in RUN, some in the
// other states, 1 % with a failed task), H history rows spread over 365 days and interleaved across
// stacks as real traffic is (ids ascending with time), and one timer per stack (most due in the
// coming days, a few already due). Set-based: generate_series in the server, the history and
// timers tables' indexes dropped for the load and rebuilt after (as pg_restore does), then VACUUM
// ANALYZE (statistics and the visibility map, as autovacuum would leave them).

const DAY_S = 86_400;

/** The index and primary-key definitions of a table, to drop them and build them again. */
async function indexesOf(client, table) {
  const { rows } = await client.query(
    `SELECT i.relname AS name, pg_get_indexdef(i.oid) AS def, c.conname AS constraint_name,
            pg_get_constraintdef(c.oid) AS constraint_def
     FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
     LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid
     WHERE x.indrelid = $1::regclass`,
    [table],
  );
  return rows;
}

async function dropIndexes(client, table, indexes) {
  for (const ix of indexes) {
    if (ix.constraint_name) await client.query(`ALTER TABLE ${table} DROP CONSTRAINT ${ix.constraint_name}`);
    else await client.query(`DROP INDEX ${ix.name}`);
  }
}

async function buildIndexes(client, table, indexes) {
  for (const ix of indexes) {
    if (ix.constraint_name)
      await client.query(`ALTER TABLE ${table} ADD CONSTRAINT ${ix.constraint_name} ${ix.constraint_def}`);
    else await client.query(ix.def);
  }
}

/**
 * Seeds `stacks` stacks, `history` history rows and one timer per stack, `due` of them due now.
 * `version` is qa-env's machine version (stored in machine_versions by the caller). Returns the
 * seconds each part took. Needs a superuser (the history trigger is skipped for the load).
 */
export async function seedScale(client, { stacks, history, due, version, now = new Date(), log = () => {} }) {
  const took = {};
  const step = async (name, fn) => {
    const t0 = performance.now();
    await fn();
    took[name] = (performance.now() - t0) / 1000;
    log(`seed: ${name} in ${took[name].toFixed(1)} s`);
  };
  const at = now.toISOString();
  // Seeded rows wake nobody: the notify trigger is skipped for this session (superuser only).
  await client.query("SET session_replication_role = replica");
  // Index builds may use more memory and the server's parallel workers.
  await client.query("SET maintenance_work_mem = '512MB'");
  await step("stacks", () =>
    client.query(
      `INSERT INTO stacks (id, machine, version, state, metadata, tasks, entry, created_at, updated_at, entered_at, active_at)
       SELECT 'seed-' || lpad(i::text, 6, '0'), 'qa-env', $2,
              CASE WHEN i % 20 = 1 THEN 'PROVISION' WHEN i % 20 = 2 THEN 'FROZEN' WHEN i % 50 = 3 THEN 'FREEZING' ELSE 'RUN' END,
              jsonb_build_object('owner', 'team-' || (i % 17), 'branch', 'feature/' || i, 'apiImageTag', left(md5(i::text), 7)),
              CASE
                WHEN i % 100 = 1 THEN jsonb_build_array(jsonb_build_object('name', 'provision-env', 'status', 'ERROR',
                  'token', md5('tok' || i), 'attempt', 2, 'description', 'terraform apply failed (exit code 1)'))
                WHEN i % 20 = 1 THEN jsonb_build_array(jsonb_build_object('name', 'provision-env', 'status', 'PENDING',
                  'token', md5('tok' || i), 'attempt', 1, 'dispatchedAt', $1::timestamptz - make_interval(secs => i % 3600)))
                WHEN i % 50 = 3 THEN jsonb_build_array(jsonb_build_object('name', 'freeze-env', 'status', 'PENDING',
                  'token', md5('tok' || i), 'attempt', 1))
                ELSE '[]'::jsonb
              END,
              1 + i % 7,
              $1::timestamptz - make_interval(secs => ${365 * DAY_S}::float8 * i / $3::int),
              $1::timestamptz - make_interval(secs => (i * 7919) % ${90 * DAY_S}),
              $1::timestamptz - make_interval(secs => (i * 7919) % ${90 * DAY_S}),
              $1::timestamptz - make_interval(secs => (i * 7919) % ${90 * DAY_S})
       FROM generate_series(1, $3::int) AS i`,
      [at, version, stacks],
    ),
  );
  const timerIndexes = await indexesOf(client, "timers");
  await dropIndexes(client, "timers", timerIndexes);
  await step("timers", async () => {
    // One per stack: `due` are past due (spread over the last hour), the rest due within 30 days.
    await client.query(
      `INSERT INTO timers (stack_id, name, due_at)
       SELECT 'seed-' || lpad(i::text, 6, '0'),
              CASE WHEN i % 20 = 1 THEN 'timeout:provision-env' WHEN i % 3 = 0 THEN 'ttl-warning' ELSE 'ttl' END,
              CASE WHEN i <= $3::int THEN $1::timestamptz - make_interval(secs => i % 3600)
                   ELSE $1::timestamptz + make_interval(secs => 60 + (i::bigint * 104729) % ${30 * DAY_S}) END
       FROM generate_series(1, $2::int) AS i`,
      [at, stacks, due],
    );
    await buildIndexes(client, "timers", timerIndexes);
  });
  const historyIndexes = await indexesOf(client, "history");
  await dropIndexes(client, "history", historyIndexes);
  await step("history rows", () =>
    // Row n is for stack n % stacks (interleaved, as traffic is), at a time rising with n over the
    // year; each stack's first row is its LAUNCH, then TOUCHes, task reports and a refusal or two.
    client.query(
      `INSERT INTO history (stack_id, machine, event, event_key, outcome, reason, from_state, to_state, path, task, token, detail, created_at)
       SELECT 'seed-' || lpad((1 + n % $2::int)::text, 6, '0'), 'qa-env',
              CASE WHEN n < $2 THEN 'LAUNCH' WHEN n % 10 = 1 THEN 'TASK_COMPLETED' WHEN n % 13 = 0 THEN 'THAW' ELSE 'TOUCH' END,
              'seed-' || n,
              CASE WHEN n >= $2 AND n % 10 <> 1 AND n % 13 = 0 THEN 'refused' ELSE 'applied' END,
              CASE WHEN n >= $2 AND n % 10 <> 1 AND n % 13 = 0 THEN 'state RUN does not handle THAW (it handles: DESTROY, TOUCH, FREEZE)' END,
              CASE WHEN n < $2 THEN NULL WHEN n % 10 = 1 THEN 'PROVISION' ELSE 'RUN' END,
              CASE WHEN n < $2 THEN 'PROVISION' ELSE 'RUN' END,
              CASE WHEN n < $2 THEN ARRAY['PROVISION'] WHEN n % 10 = 1 THEN ARRAY['RUN'] END,
              CASE WHEN n >= $2 AND n % 10 = 1 THEN 'provision-env' END,
              CASE WHEN n >= $2 AND n % 10 = 1 THEN md5(n::text) END,
              CASE WHEN n < $2 THEN jsonb_build_object('dispatched', jsonb_build_array(jsonb_build_object('task', 'provision-env', 'token', md5(n::text), 'attempt', 1)))
                   WHEN n % 10 = 1 THEN '{"note": "NEXT fired: all 1 task of PROVISION satisfied"}'::jsonb
                   WHEN n % 13 = 0 THEN NULL
                   ELSE '{"metadataKeys": ["touchedBy"]}'::jsonb END,
              $1::timestamptz - make_interval(secs => ${365 * DAY_S}::float8 * ($3::bigint - n) / $3::bigint)
       FROM generate_series(0, $3::bigint - 1) AS n`,
      [at, stacks, history],
    ),
  );
  await step("history indexes", () => buildIndexes(client, "history", historyIndexes));
  await client.query("SET session_replication_role = DEFAULT");
  await step("vacuum analyze", async () => {
    for (const table of ["stacks", "timers", "history", "machine_versions"])
      await client.query(`VACUUM ANALYZE ${table}`);
  });
  return took;
}
