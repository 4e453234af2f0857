#!/usr/bin/env python3
"""Streams a MariaDB server's binlogs with python-mysql-replication and decodes every value of
every row, as the peer in Benchmarks/scripts/compare.sh.

Usage: python-stream.py PORT FIRST_LOG_FILE [--end-file NAME]

Connects to 127.0.0.1:PORT as root (no password), reads from FIRST_LOG_FILE position 4 up to
the end of the binlogs (non-blocking; with --end-file, stops at the first event of a later
file than NAME), touches every value of every row image, and prints one tab-separated line:
row_events rows values seconds. CRC32 is verified (verify_checksum=True), as the relay does.
"""
import sys
import time

from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import RotateEvent
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent


def main():
    args = sys.argv[1:]
    end_file = None
    if "--end-file" in args:
        i = args.index("--end-file")
        end_file = args[i + 1]
        del args[i : i + 2]
    port, first = int(args[0]), args[1]
    settings = {"host": "127.0.0.1", "port": port, "user": "root", "passwd": ""}
    start = time.perf_counter()
    stream = BinLogStreamReader(
        connection_settings=settings,
        server_id=4242,
        blocking=False,
        resume_stream=True,
        log_file=first,
        log_pos=4,
        # The library's MariaDB mode (is_mariadb=True) always starts at the first binlog, with
        # @slave_gtid_strict_mode=1, and the server reset that connection every time at the same
        # event of the recorded sysbench binlogs (sysbench-bin.000003:100100677). The plain
        # COM_BINLOG_DUMP from a named file streams them all; it skips MariaDB's GTID events,
        # which are not measured here.
        is_mariadb=False,
        verify_checksum=True,
        only_events=[WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent, RotateEvent],
        # Column names come from information_schema (MINIMAL row metadata); fetch them once per
        # table instead of once per TABLE_MAP event: the library's fastest setting.
        use_column_name_cache=True,
        # Without charset metadata it decodes every string as UTF-8; latin1 text would stop it.
        ignore_decode_errors=True,
    )
    row_events = rows = values = 0
    where = (first, 4)
    sink = None
    for event in stream:
        if isinstance(event, RotateEvent):
            if end_file is not None and event.next_binlog > end_file:
                break
            if row_events > 0 and event.next_binlog == first and event.position == 4:
                # The library reconnects after an error and starts over from the first file:
                # it would loop forever on an event it cannot read.
                sys.exit(
                    f"python-stream.py: python-mysql-replication lost the connection after {rows} rows"
                    f" (last row event read ends at {where[1]} in {where[0]}) and restarted from {first}"
                )
            continue
        row_events += 1
        where = (stream.log_file, stream.log_pos)
        for row in event.rows:
            rows += 1
            if "values" in row:
                images = (row["values"],)
            else:
                images = (row["before_values"], row["after_values"])
            for image in images:
                for value in image.values():
                    sink = value
                    values += 1
    stream.close()
    seconds = time.perf_counter() - start
    del sink
    print(f"{row_events}\t{rows}\t{values}\t{seconds:.3f}")


if __name__ == "__main__":
    main()
