// Seeds a database with stacks and history for the dashboard's tests, benchmark and screenshots.
// Everything follows from the stack's number i (1..stacks), so a test can compute what a filter
// or a page must contain without asking the code under test.

/** The seeded stacks' states, by i % 5. */
export const SEED_STATES = ["RUN", "RUN", "FROZEN", "PROVISION", "FREEZING"];

/** The seeded stack's fields, as a test expects them. */
export function seededStack(i, base) {
  const state = SEED_STATES[i % 5];
  const hoursAgo = i % 100;
  return {
    id: `seed-${String(i).padStart(6, "0")}`,
    machine: i % 10 === 0 ? "qa-env-terraform" : "qa-env",
    state,
    failed: state === "PROVISION" && i % 3 === 0,
    owner: `team-${i % 17}`,
    /** Also its last activity (active_at). */
    updatedAt: new Date(base.getTime() - hoursAgo * 3_600_000),
  };
}

/**
 * Inserts `stacks` stacks (see seededStack) and `historyPerStack` history rows each, in a few
 * set-based statements. `base` is the newest update time; `versions` maps machine → version.
 * Activity times fall on 100 whole hours (many ties, which keyset paging must break by id);
 * `spread` moves each back by up to an hour more, as real traffic spreads them (seededStack then
 * no longer gives the exact time).
 */
export async function seedDashboard(client, { stacks, historyPerStack = 2, base, versions, spread = false }) {
  const b = base.toISOString();
  await client.query(
    `INSERT INTO stacks (id, machine, version, state, metadata, tasks, entry, created_at, updated_at, active_at)
     SELECT 'seed-' || lpad(i::text, 6, '0'),
            CASE WHEN i % 10 = 0 THEN 'qa-env-terraform' ELSE 'qa-env' END,
            CASE WHEN i % 10 = 0 THEN $2 ELSE $3 END,
            (ARRAY['RUN','RUN','FROZEN','PROVISION','FREEZING'])[i % 5 + 1],
            jsonb_build_object('owner', 'team-' || (i % 17), 'branch', 'feature/' || i, 'apiImageTag', md5(i::text)),
            CASE
              WHEN i % 5 = 3 AND i % 3 = 0 THEN jsonb_build_array(jsonb_build_object(
                'name', 'provision-env', 'status', 'ERROR', 'token', 'tok-' || i, 'attempt', 1 + i % 3,
                'description', E'terraform apply failed (exit code 1)\\n│ Error: Invalid value for variable "image_tag"\\n│   on main.tf line 3'))
              WHEN i % 5 = 3 THEN jsonb_build_array(jsonb_build_object('name', 'provision-env', 'status', 'PENDING', 'token', 'tok-' || i, 'attempt', 1))
              WHEN i % 5 = 4 THEN jsonb_build_array(jsonb_build_object('name', 'freeze-env', 'status', 'PENDING', 'token', 'tok-' || i, 'attempt', 1))
              ELSE '[]'::jsonb
            END,
            1 + i % 4,
            $1::timestamptz - make_interval(hours => i % 100) - interval '1 day',
            $1::timestamptz - make_interval(hours => i % 100) - make_interval(secs => $5::int * (i % 3600)),
            $1::timestamptz - make_interval(hours => i % 100) - make_interval(secs => $5::int * (i % 3600))
     FROM generate_series(1, $4::int) AS i`,
    [b, versions["qa-env-terraform"] ?? null, versions["qa-env"] ?? null, stacks, spread ? 1 : 0],
  );
  if (historyPerStack > 0) {
    // Seeded rows wake nobody: the notify trigger (per-stack LISTEN channels) is skipped for this
    // session, which needs a superuser (tests and benchmarks run as one).
    await client.query("SET session_replication_role = replica");
    // Rows interleave stacks as a busy system does: row n belongs to stack n % stacks.
    await client.query(
      `INSERT INTO history (stack_id, machine, event, event_key, outcome, reason, from_state, to_state, path, created_at)
       SELECT 'seed-' || lpad((1 + n % $2)::text, 6, '0'), 'qa-env',
              CASE WHEN n < $2 THEN 'LAUNCH' WHEN n % 7 = 0 THEN 'THAW' ELSE 'TOUCH' END,
              'seed-key-' || n,
              CASE WHEN n >= $2 AND n % 7 = 0 THEN 'refused' ELSE 'applied' END,
              CASE WHEN n >= $2 AND n % 7 = 0 THEN 'state RUN does not handle THAW (it handles: DESTROY, TOUCH, FREEZE)' END,
              CASE WHEN n < $2 THEN NULL ELSE 'RUN' END,
              CASE WHEN n < $2 THEN 'PROVISION' ELSE 'RUN' END,
              CASE WHEN n < $2 THEN ARRAY['PROVISION'] ELSE NULL END,
              $1::timestamptz - make_interval(secs => ($3::bigint - n))
       FROM generate_series(0, $3::bigint - 1) AS n`,
      [b, stacks, stacks * historyPerStack],
    );
    await client.query("SET session_replication_role = DEFAULT");
  }
  // As autovacuum would leave them: statistics, and a visibility map for index-only scans.
  await client.query("VACUUM ANALYZE stacks");
  await client.query("VACUUM ANALYZE history");
}
