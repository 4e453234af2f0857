#!/usr/bin/env python3
"""every-type-workload.py - scale Fixtures/mariadb-10.11/every-type.sql up to thousands of
transactions with many rows of every column type (SQL on stdout).

Usage: Benchmarks/scripts/every-type-workload.py [--base every-type.sql [--as-is]] [--rounds N] [--copies C]

    every-type-workload.py --base Fixtures/mariadb-10.11/every-type.sql --rounds 40 --copies 4 |
        mariadb --no-defaults --default-character-set=utf8mb4 -h127.0.0.1 -P PORT -uroot

--base prints that file first (otherwise run it yourself first, in its own session), with two
parts replaced unless --as-is is given, because binlog-relay's applier stops on them by design
(docs/applier.md) and a benchmark needs a workload that both appliers complete:
  - the XA section (XA PREPARE/COMMIT/ROLLBACK, XA COMMIT ONE PHASE): XA transactions stop the
    applier. Replaced by the plain INSERTs of the two rows it leaves committed (ids 10 and 12).
  - the INSERT of invalid ENUM values (enums_sets id 7: index 0, the "error" value a non-strict
    source stores): the applier's strict session refuses it. Left out.

every-type.sql leaves schema every_type with a few rows of edge values in every table (every
integer width signed and unsigned, FLOAT/DOUBLE, DECIMAL up to 65 digits, YEAR/DATE/TIME/
DATETIME/TIMESTAMP with fractions, latin1/utf8mb4/binary strings, BINARY, ENUM/SET, BLOB/TEXT up
to 100 KB, BIT, JSON, spatial, INET6/INET4/UUID, a 300-column table, composite and prefix
primary keys, a MyISAM table). This script copies those rows over and over, so every value is
logged thousands of times, in ordinary row events:

  once     with sql_log_bin=0 (nothing logged): a temporary copy seed_T of each table T below,
           holding its rows C times (ids 100*c + id, c = 1..C), and sql_mode='' (zero dates are valid).
  round r  for each table T, three transactions, each one statement:
             INSERT INTO T SELECT * FROM seed_T            (ids shifted to round r's range)
             UPDATE T SET id = id + SPAN WHERE <round r-1's rows>   (a primary-key change: the
                                                                     whole row in both images)
             DELETE FROM T WHERE <half of round r-2's rows>
           (before each INSERT, the seed's ids are moved with sql_log_bin=0).

23 tables, 3 transactions per round (the first two rounds fewer): --rounds 40 gives
23 x (40 + 39 + 38) = 2,691 transactions. The tables without
a primary key (no_pk_renamed, ctas) are left out: each UPDATE or DELETE row there is a full
table scan for any applier, which would measure only that. stmt_log (written with
statement-based logging by every-type.sql) is copied in ROW format like the others.
"""

import argparse

# table -> its INT key column (every table below has one, unique within the table)
TABLES = [
    ("ints", "id"), ("floats", "id"), ("decimals", "id"), ("dates", "id"), ("times", "id"),
    ("datetimes", "id"), ("timestamps", "id"), ("strings", "id"), ("binaries", "id"),
    ("enums_sets", "id"), ("enum_big", "id"), ("blobs", "id"), ("big_blob", "id"), ("bits", "id"),
    ("json_docs", "id"), ("geo", "id"), ("inet_uuid", "id"), ("composite_pk", "a"),
    ("prefix_pk", "id"), ("wide", "id"), ("many_rows", "id"), ("nontx", "id"), ("stmt_log", "id"),
]
BASE = 1000000  # round ids start above every id every-type.sql wrote (all below 100)


XA_START = "XA START 'every-type-xa-1';"
XA_END = "XA COMMIT 'every-type-xa-3' ONE PHASE;"
XA_REPLACEMENT = "INSERT INTO ints (id, i_s) VALUES (10, 10);\nINSERT INTO ints (id, i_s) VALUES (12, 12);"
BAD_ENUM = "INSERT INTO enums_sets (id, e, e_utf8, e_latin1) VALUES (7, 'bogus', 'nope', 'zzz');"


def base_sql(path, as_is):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if as_is:
        return text
    start, end = text.find(XA_START), text.find(XA_END)
    if start < 0 or end < start or BAD_ENUM not in text:
        raise SystemExit("every-type-workload.py: %s has changed: cannot find the XA section or the invalid "
                         "ENUM insert to replace (use --as-is, or update this script)" % path)
    text = text[:start] + XA_REPLACEMENT + text[end + len(XA_END):]
    return text.replace(BAD_ENUM, "-- (every-type-workload.py: the INSERT of invalid ENUM values left out)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", help="every-type.sql, printed first (XA and invalid ENUMs replaced)")
    parser.add_argument("--as-is", action="store_true", help="print --base unchanged")
    parser.add_argument("--rounds", type=int, default=40, help="rounds (3 transactions per table each)")
    parser.add_argument("--copies", type=int, default=4, help="copies of each table's rows per INSERT")
    args = parser.parse_args()
    if args.rounds < 1 or args.copies < 1:
        parser.error("--rounds and --copies must be at least 1")
    span = 100 * args.copies  # a round's ids: [start, start + span); moved by the UPDATE to [start + span, start + 2 span)
    assert BASE + (args.rounds + 1) * 2 * span < 2**31, "ids would overflow INT"

    def start(r):
        return BASE + r * 2 * span

    out = []
    w = out.append
    if args.base:
        w(base_sql(args.base, args.as_is))
    w("-- generated by Benchmarks/scripts/every-type-workload.py --rounds %d --copies %d" % (args.rounds, args.copies))
    w("SET NAMES utf8mb4;")
    w("SET SESSION time_zone = '+00:00';")
    w("SET SESSION binlog_format = 'ROW';")
    w("SET SESSION sql_mode = '';")
    w("SET TIMESTAMP = 1700002000;")
    w("USE every_type;")
    w("SET SESSION sql_log_bin = 0;")
    for table, key in TABLES:
        w("CREATE TEMPORARY TABLE seed_%s AS SELECT * FROM %s WHERE 0;" % (table, table))
        for c in range(args.copies):
            w("INSERT INTO seed_%s SELECT * FROM %s;" % (table, table))
            w("UPDATE seed_%s SET %s = %s + %d WHERE %s < 100;" % (table, key, key, 100 * (c + 1), key))
    # The seeds now hold ids 100 * (c + 1) + id for c < copies, all in [100, 100 * (copies + 1)):
    # shifted by start(r) - 100 they fill [start(r), start(r) + span).
    w("SET SESSION sql_log_bin = 1;")
    shifted = 100  # the seeds' current id offset
    for r in range(1, args.rounds + 1):
        w("SET TIMESTAMP = %d;" % (1700002000 + r))
        for table, key in TABLES:
            w("SET SESSION sql_log_bin = 0;")
            w("UPDATE seed_%s SET %s = %s + %d;" % (table, key, key, start(r) - shifted))
            w("SET SESSION sql_log_bin = 1;")
            w("INSERT INTO %s SELECT * FROM seed_%s;" % (table, table))
            if r >= 2:
                w("UPDATE %s SET %s = %s + %d WHERE %s >= %d AND %s < %d;"
                  % (table, key, key, span, key, start(r - 1), key, start(r - 1) + span))
            if r >= 3:
                w("DELETE FROM %s WHERE %s >= %d AND %s < %d AND %s %% 2 = 0;"
                  % (table, key, start(r - 2) + span, key, start(r - 1), key))
        shifted = start(r)
    w("SET SESSION sql_log_bin = 0;")
    for table, _ in TABLES:
        w("DROP TEMPORARY TABLE seed_%s;" % table)
    w("SET SESSION sql_log_bin = 1;")
    print("\n".join(out))


if __name__ == "__main__":
    main()
