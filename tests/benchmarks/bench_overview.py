"""The admin overview on 1,000,000 Message rows (a year of mail, about 82,000 in its 30 days)
and 30,000 bounces, on PostgreSQL: how long its queries take, and that the per-day counts are
read through an index (created_at, or (message_stream, created_at) with a stream filter) rather
than a scan of the whole table.

    python tests/benchmarks/bench_overview.py

Target: every variant (all, one stream, one tag) under 1 second, each plan index-backed.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROWS = 1_000_000
BOUNCES = 30_000
RUNS = 5
TARGET_SECONDS = 1.0

FILL_MESSAGES = """
INSERT INTO postmark_message (message_id, status, message_stream, from_email, "to", cc, bcc,
    subject, tag, metadata, error, text_body, html_body, created_at, updated_at,
    delivered_at, opened_at, clicked_at, bounced_at, complained_at)
SELECT md5(i::text)::uuid, 'sent', CASE WHEN i %% 5 = 0 THEN 'broadcast' ELSE 'outbound' END,
    'shop@example.com', 'user' || i || '@example' || (i %% 50) || '.com', '', '', 'Receipt',
    't' || (i %% 20), '{}', '', '', '', stamp, stamp,
    CASE WHEN i %% 33 <> 0 THEN stamp END, CASE WHEN i %% 3 = 0 THEN stamp END,
    CASE WHEN i %% 9 = 0 THEN stamp END, CASE WHEN i %% 33 = 0 THEN stamp END,
    CASE WHEN i %% 2000 = 0 THEN stamp END
FROM (SELECT i, now() - (i %% 365) * interval '1 day' - (i %% 86400) * interval '1 second' AS stamp
      FROM generate_series(1, %s) AS i) AS rows
"""
FILL_BOUNCES = """
INSERT INTO postmark_bounce (postmark_id, record_type, type, name, message_id, message_stream,
    email, from_email, subject, tag, description, details, bounced_at, inactive, can_activate,
    dump_available, content, metadata, created_at, updated_at)
SELECT i, 'Bounce', (ARRAY['HardBounce', 'SoftBounce', 'Transient', 'DnsError'])[i %% 4 + 1], '',
    NULL, 'outbound', 'user' || i || '@example' || (i %% 50) || '.com', '', '',
    't' || (i %% 20), '', '', now() - (i %% 365) * interval '1 day', i %% 4 = 0, true, false,
    '', '{}', now(), now()
FROM generate_series(1, %s) AS i
"""


def main() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["POSTMARK_TEST_DATABASE"] = "postgres"
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from postmark.admin import stats

    name = os.environ.get("POSTMARK_BENCH_DB_NAME", "bench_overview")
    connection.settings_dict["TEST"]["NAME"] = name
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        start = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(FILL_MESSAGES, [ROWS])
            cursor.execute(FILL_BOUNCES, [BOUNCES])
            cursor.execute("ANALYZE postmark_message")
            cursor.execute("ANALYZE postmark_bounce")
        print(
            f"filled {ROWS:,} messages, {BOUNCES:,} bounces in {time.perf_counter() - start:.0f} s"
        )
        failures = []
        for label, args in (
            ("all", {}),
            ("stream", {"stream": "broadcast"}),
            ("tag", {"tag": "t3"}),
        ):
            times = []
            for _ in range(RUNS):
                began = time.perf_counter()
                with CaptureQueriesContext(connection) as queries:
                    numbers = stats.overview(**args)
                times.append(time.perf_counter() - began)
            per_day = next(
                q["sql"]
                for q in queries
                if "GROUP BY" in q["sql"] and "postmark_message" in q["sql"]
            )
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN " + per_day)
                plan = "\n".join(row[0] for row in cursor.fetchall())
            indexed = "Index" in plan and "Seq Scan on postmark_message" not in plan
            median = statistics.median(times)
            ok = indexed and median < TARGET_SECONDS
            if not ok:
                failures.append(label)
            scan = next((line.strip() for line in plan.splitlines() if "Index" in line), "no index")
            print(
                f"{label:>7}: {median * 1000:6.0f} ms median of {RUNS} ({len(queries)} queries, "
                f"{numbers.totals['sent']:,} sent in 30 days); per-day plan: {scan}; "
                f"{'meets' if ok else 'MISSES'} the target"
            )
        if failures:
            sys.exit(f"overview benchmark missed the target for: {', '.join(failures)}")
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)


if __name__ == "__main__":
    main()
