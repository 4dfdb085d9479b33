/*
 * The store's schema as the list of steps that build it: a new file runs
 * every step, a file at version k runs the steps after k, each in the one
 * transaction that also sets PRAGMA user_version. A file newer than the
 * last step is refused (store.c). docs/store.md describes each table.
 */
#include <stddef.h>

#include "schema.h"

static const char v1[] =
	/* One row per machine state that matters for comparing: env_hash covers every column. */
	"CREATE TABLE hosts ("
	" id INTEGER PRIMARY KEY,"
	" env_hash TEXT NOT NULL UNIQUE,"
	" hostname TEXT, kernel TEXT, cpu_model TEXT, cores INTEGER, smt TEXT, governor TEXT,"
	" mitigations TEXT, mem_kib INTEGER, cpuset TEXT, cgroup TEXT,"
	" liburing TEXT, glibc TEXT, uring_features TEXT);"
	/* One row per command that recorded: the files it wrote, exactly, and its table. */
	"CREATE TABLE runs ("
	" id INTEGER PRIMARY KEY,"
	" time TEXT NOT NULL,"
	" kind TEXT NOT NULL,"
	" tool TEXT NOT NULL DEFAULT 'iolens',"
	" label TEXT,"
	" command_line TEXT,"
	" version TEXT,"
	" host_id INTEGER REFERENCES hosts(id),"
	" boot_id TEXT,"
	" interrupted INTEGER NOT NULL DEFAULT 0,"
	" document TEXT,"
	" csv TEXT,"
	" table_text TEXT);"
	"CREATE INDEX runs_label ON runs(label);"
	/* One row per result: the figures history, diff and the plots read. */
	"CREATE TABLE results ("
	" id INTEGER PRIMARY KEY,"
	" run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
	" idx INTEGER NOT NULL,"
	" params TEXT NOT NULL,"
	" comparison_hash TEXT NOT NULL,"
	" pair_hash TEXT NOT NULL,"
	" workload TEXT, backend TEXT, variant TEXT, status TEXT, reason TEXT,"
	" ops INTEGER, seconds REAL, iops REAL, mib_s REAL,"
	" p50_ns REAL, p90_ns REAL, p99_ns REAL, p99_9_ns REAL, max_ns REAL, mean_ns REAL,"
	" cpu_per_op_ns REAL, syscalls_per_op REAL, vcsw INTEGER, ivcsw INTEGER,"
	" model_declared TEXT, model_measured TEXT, model_mismatch INTEGER,"
	" UNIQUE (run_id, idx));"
	"CREATE INDEX results_pair ON results(pair_hash);"
	/* The latency histogram, bucket by bucket: [lo_ns, hi_ns] holds count values. */
	"CREATE TABLE hist_buckets ("
	" result_id INTEGER NOT NULL REFERENCES results(id) ON DELETE CASCADE,"
	" lo_ns INTEGER NOT NULL, hi_ns INTEGER NOT NULL, count INTEGER NOT NULL,"
	" PRIMARY KEY (result_id, lo_ns)) WITHOUT ROWID;"
	/* The counting pass's syscalls by name (counted ones only, zeros included). */
	"CREATE TABLE syscalls ("
	" result_id INTEGER NOT NULL REFERENCES results(id) ON DELETE CASCADE,"
	" name TEXT NOT NULL, count INTEGER NOT NULL,"
	" PRIMARY KEY (result_id, name)) WITHOUT ROWID;";

/*
 * v2: the spec each result was run as ("posix-aio:threads=1"), which every
 * listing and diff prints, and an index for history's workload and backend
 * filters. Results of v1 get their spec from the backend and variant.
 */
static const char v2[] =
	"ALTER TABLE results ADD COLUMN spec TEXT;"
	"UPDATE results SET spec = backend || CASE WHEN variant <> '' THEN ':' || variant ELSE '' END;"
	"CREATE INDEX results_workload ON results(workload, backend);";

/*
 * v3: a fleet's rows (iolens-mpi): each rank's figures of each result, as
 * its per-rank table printed them; for serve, each generator rank's. The
 * result's own row holds the fleet's merged figures.
 */
static const char v3[] =
	"CREATE TABLE fleet_ranks ("
	" result_id INTEGER NOT NULL REFERENCES results(id) ON DELETE CASCADE,"
	" rank INTEGER NOT NULL, host TEXT, cpu INTEGER, ok INTEGER,"
	" ops INTEGER, iops REAL, p50_ns REAL, p99_ns REAL, seconds REAL, cpu_s REAL, model TEXT,"
	" conns INTEGER, busy REAL, skew_us REAL, straggler INTEGER,"
	" PRIMARY KEY (result_id, rank)) WITHOUT ROWID;";

const char *const iolens__schema_steps[] = { v1, v2, v3 };
const unsigned iolens__schema_nsteps = sizeof(iolens__schema_steps) / sizeof(iolens__schema_steps[0]);
