// Usage: node read_log.js LOG JSON. Reads an iolens (or iolens-mpi) --hdr-log with
// hdr-histogram-js (a reader no one here wrote) and holds every interval to
// the result of the same run in iolens's JSON. Exits 1 naming each
// disagreement, or when there is nothing to compare.
'use strict';

const fs = require('fs');
const { HistogramLogReader } = require('hdr-histogram-js');

// HdrHistogram's stated precision at 2 significant digits: a value it
// reports is within 1% of the value recorded. Both sides pick the same
// bucket for a percentile (the same rank, ceil(p/100 * count)); iolens
// reports its midpoint (clamped to the exact min and max), hdr-histogram-js
// its upper end, so they differ by at most half a bucket, 1/256 of the
// value; the max differs by at most a bucket, 1/128, as iolens's is exact.
// The assertion is the documented bound, not these.
const REL_ERROR = 0.01;
const PERCENTILES = [50, 90, 99];

const [logPath, jsonPath] = process.argv.slice(2);
const log = fs.readFileSync(logPath, 'utf8');
const doc = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
const failures = [];
let worst = 0;

function fail(what) {
  failures.push(what);
}

function tagOf(r) {
  return `${r.backend}${r.variant ? ':' + r.variant : ''}/${r.workload.name}`;
}

function near(where, got, want) {
  const rel = Math.abs(got - want) / want;

  worst = Math.max(worst, rel);
  if (!(rel <= REL_ERROR))
    fail(`${where}: hdr-histogram-js ${got}, iolens ${want} (${(rel * 100).toFixed(3)}% apart)`);
  return rel;
}

// The Interval_Max field, which the reader skips: it must be the decoded max.
const maxFields = log.split('\n').filter((l) => l.startsWith('Tag=')).map((l) => Number(l.split(',')[3]));

function check(h, r, i) {
  const where = `interval ${i} (${h.tag})`;
  const buckets = r.histogram.buckets;
  let total = 0;
  const rels = [];

  if (h.tag !== tagOf(r))
    fail(`${where}: tag, expected ${tagOf(r)}`);
  // The counts, bucket by bucket: each iolens bucket is one HdrHistogram bucket.
  for (const [lo, hi, count] of buckets) {
    const got = h.getCountAtIndex(h.countsArrayIndex(lo));

    total += count;
    if (h.lowestEquivalentValue(lo) !== lo || h.highestEquivalentValue(lo) !== hi)
      fail(`${where}: bucket [${lo}, ${hi}] is [${h.lowestEquivalentValue(lo)}, ${h.highestEquivalentValue(lo)}] there`);
    if (got !== count)
      fail(`${where}: bucket [${lo}, ${hi}]: ${got} counts, iolens ${count}`);
  }
  if (h.totalCount !== total || total !== r.ops)
    fail(`${where}: total count ${h.totalCount}, iolens buckets ${total}, ops ${r.ops}`);
  for (const p of PERCENTILES)
    rels.push(`p${p} ${(near(`${where} p${p}`, h.getValueAtPercentile(p), r.latency_ns['p' + p]) * 100).toFixed(3)}%`);
  rels.push(`max ${(near(`${where} max`, h.maxValue, r.latency_ns.max) * 100).toFixed(3)}%`);
  if (maxFields[i] !== h.maxValue)
    fail(`${where}: Interval_Max ${maxFields[i]}, decoded max ${h.maxValue}`);
  // Times: the log keeps milliseconds, as the JSON does.
  if (Math.abs(h.startTimeStampMsec / 1000 - r.window_start) > 0.002)
    fail(`${where}: starts at ${h.startTimeStampMsec / 1000}, window_start ${r.window_start}`);
  if (Math.abs(h.endTimeStampMsec - h.startTimeStampMsec - r.seconds * 1000) > 1)
    fail(`${where}: ${h.endTimeStampMsec - h.startTimeStampMsec} ms long, window ${r.seconds} s`);
  console.log(`${where}: ${total} values; hdr-histogram-js vs iolens: ${rels.join(', ')}`);
}

// An iolens-mpi log holds the fleet's merged histogram of each result (serve's
// result is the server's, which holds the generators' samples already).
function fleetMerged(r, k) {
  const f = doc.fleet;

  if (!f || f.role === 'serve')
    return r;
  const m = f.results[k].merged;
  return Object.assign({}, r, { ops: m.ops, histogram: m.histogram, latency_ns: m.latency_ns });
}

const measured = doc.results.map(fleetMerged)
  .filter((r) => r.status === 'ok' && r.ops > 0 && r.histogram);
const reader = new HistogramLogReader(log, 64);
let n = 0;

for (let h; (h = reader.nextIntervalHistogram()) !== null; n++) {
  if (n < measured.length)
    check(h, measured[n], n);
}
if (n !== measured.length)
  fail(`${n} intervals in the log, ${measured.length} measured results in the JSON`);
if (n === 0)
  fail('nothing decoded: no interval to compare');
for (const f of failures)
  console.log(`FAIL ${f}`);
console.log(`${n} intervals; largest percentile/max difference ${(worst * 100).toFixed(3)}% (bound ${REL_ERROR * 100}%)`);
process.exit(failures.length ? 1 : 0);
