// insert-protocol-probe.c - what a MariaDB server spends on the same rows sent as multi-row text
// INSERTs (what binlog-relay's applier sends today) and as one prepared INSERT executed with
// arrays of parameters (MariaDB's bulk execution, COM_STMT_BULK_EXECUTE, through Connector/C's
// STMT_ATTR_ARRAY_SIZE): the design input for a binary-protocol applier (Benchmarks/RESULTS.md,
// "INSERT: text against bulk binary").
//
// Build and run (a throwaway server from scripts/mariadb-sandbox.sh; the probe creates and drops
// the schema `insert_probe`):
//   cc -O2 -o /tmp/insert-protocol-probe Benchmarks/scripts/insert-protocol-probe.c $(pkg-config --cflags --libs libmariadb)
//   scripts/mariadb-sandbox.sh start /tmp/probe 33390
//   /tmp/insert-protocol-probe 33390 PID_OF_THAT_MARIADBD [ROUNDS]
//
// Each mode inserts the same 30,000 rows (300 statements or executions of 100 rows: INT key,
// BIGINT, DATETIME(6) and DECIMAL(20,6) given as text, a VARCHAR with a non-ASCII character, a
// 1,000-byte BLOB of every byte value) in one transaction into a freshly created table, in a
// session like the applier's (character_set_client binary, string values as _binary literals
// with ' and \ escaped). The server's CPU is read from /proc/PID/stat (utime + stime) around each
// mode; the modes alternate for ROUNDS rounds (default 5) and the medians are printed. After each
// mode the table's CHECKSUM TABLE must equal the first text mode's, or the probe exits 1.
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { ROWS = 100, STATEMENTS = 300, BLOB_BYTES = 1000, MAX_ROUNDS = 50 };

typedef struct {
    int id;
    long long number;
    char datetime[32];
    unsigned long datetimeLength;
    char text[64];
    unsigned long textLength;
    unsigned char blob[BLOB_BYTES];
    unsigned long blobLength;
    char decimal[32];
    unsigned long decimalLength;
    char indicators[6];
} Row;

static Row rows[ROWS];
static long clockTicks;

static void die(MYSQL *connection, const char *what) {
    fprintf(stderr, "insert-protocol-probe: %s: %s\n", what, mysql_error(connection));
    exit(1);
}

static void fill(Row *row, int id) {
    row->id = id;
    row->number = (long long)id * 1000003LL - 77;
    row->datetimeLength = (unsigned long)sprintf(row->datetime, "2024-%02d-%02d 12:34:56.%06d", 1 + id % 12, 1 + id % 28, id % 1000000);
    row->textLength = (unsigned long)sprintf(row->text, "string value number %d with some text \xC3\xBC", id);
    for (int i = 0; i < BLOB_BYTES; i++) row->blob[i] = (unsigned char)((i * 31 + id) & 0xFF);
    row->blobLength = BLOB_BYTES;
    row->decimalLength = (unsigned long)sprintf(row->decimal, "%d.%06d", id * 7, id % 999999);
    memset(row->indicators, 0, sizeof row->indicators);  // STMT_INDICATOR_NONE
}

static char *escaped(char *out, const unsigned char *bytes, unsigned long count) {
    out += sprintf(out, "_binary'");
    for (unsigned long i = 0; i < count; i++) {
        if (bytes[i] == '\'' || bytes[i] == '\\') *out++ = '\\';
        *out++ = (char)bytes[i];
    }
    *out++ = '\'';
    return out;
}

static void query(MYSQL *connection, const char *sql) {
    if (mysql_query(connection, sql)) die(connection, sql);
}

static void createTable(MYSQL *connection) {
    query(connection, "DROP TABLE IF EXISTS insert_probe.t");
    query(connection, "CREATE TABLE insert_probe.t (id INT PRIMARY KEY, a BIGINT, d DATETIME(6), s VARCHAR(100), b BLOB, dc DECIMAL(20,6))");
}

static void insertText(MYSQL *connection) {
    char *sql = malloc(ROWS * (BLOB_BYTES * 2 + 300) + 1000);
    query(connection, "BEGIN");
    for (int statement = 0; statement < STATEMENTS; statement++) {
        char *p = sql + sprintf(sql, "INSERT INTO insert_probe.t (id,a,d,s,b,dc) VALUES ");
        for (int r = 0; r < ROWS; r++) {
            Row *row = &rows[r];
            fill(row, statement * ROWS + r);
            p += sprintf(p, "%s(%d,%lld,'%s',", r ? "," : "", row->id, row->number, row->datetime);
            p = escaped(p, (const unsigned char *)row->text, row->textLength);
            *p++ = ',';
            p = escaped(p, row->blob, row->blobLength);
            p += sprintf(p, ",%s)", row->decimal);
        }
        if (mysql_real_query(connection, sql, (unsigned long)(p - sql))) die(connection, "text INSERT");
        if (mysql_affected_rows(connection) != ROWS) die(connection, "text INSERT: rows");
    }
    query(connection, "COMMIT");
    free(sql);
}

static void insertBulk(MYSQL *connection) {
    MYSQL_STMT *statement = mysql_stmt_init(connection);
    const char *sql = "INSERT INTO insert_probe.t (id,a,d,s,b,dc) VALUES (?,?,?,?,?,?)";
    if (!statement || mysql_stmt_prepare(statement, sql, strlen(sql))) die(connection, "prepare");
    unsigned int arraySize = ROWS;
    size_t rowSize = sizeof(Row);  // row-wise binding: each bind's pointers are the first row's
    mysql_stmt_attr_set(statement, STMT_ATTR_ARRAY_SIZE, &arraySize);
    mysql_stmt_attr_set(statement, STMT_ATTR_ROW_SIZE, &rowSize);
    MYSQL_BIND binds[6];
    memset(binds, 0, sizeof binds);
    Row *first = &rows[0];
    binds[0] = (MYSQL_BIND){.buffer_type = MYSQL_TYPE_LONG, .buffer = &first->id};
    binds[1] = (MYSQL_BIND){.buffer_type = MYSQL_TYPE_LONGLONG, .buffer = &first->number};
    binds[2] = (MYSQL_BIND){.buffer_type = MYSQL_TYPE_STRING, .buffer = first->datetime, .length = &first->datetimeLength};
    binds[3] = (MYSQL_BIND){.buffer_type = MYSQL_TYPE_STRING, .buffer = first->text, .length = &first->textLength};
    binds[4] = (MYSQL_BIND){.buffer_type = MYSQL_TYPE_BLOB, .buffer = first->blob, .length = &first->blobLength};
    binds[5] = (MYSQL_BIND){.buffer_type = MYSQL_TYPE_NEWDECIMAL, .buffer = first->decimal, .length = &first->decimalLength};
    for (int i = 0; i < 6; i++) binds[i].u.indicator = &first->indicators[i];
    if (mysql_stmt_bind_param(statement, binds)) die(connection, "bind");
    query(connection, "BEGIN");
    for (int execution = 0; execution < STATEMENTS; execution++) {
        for (int r = 0; r < ROWS; r++) fill(&rows[r], execution * ROWS + r);
        if (mysql_stmt_execute(statement)) {
            fprintf(stderr, "insert-protocol-probe: bulk execute: %s\n", mysql_stmt_error(statement));
            exit(1);
        }
        if (mysql_stmt_affected_rows(statement) != ROWS) die(connection, "bulk execute: rows");
    }
    query(connection, "COMMIT");
    mysql_stmt_close(statement);
}

static double serverSeconds(int pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *file = fopen(path, "r");
    if (!file) { perror(path); exit(1); }
    unsigned long user = 0, system = 0;
    // Fields 14 and 15 (utime, stime); the name in field 2 has no spaces for mariadbd.
    if (fscanf(file, "%*d %*s %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &user, &system) != 2) {
        fprintf(stderr, "insert-protocol-probe: cannot read %s\n", path);
        exit(1);
    }
    fclose(file);
    return (double)(user + system) / (double)clockTicks;
}

static double wallSeconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static unsigned long long checksum(MYSQL *connection) {
    query(connection, "CHECKSUM TABLE insert_probe.t");
    MYSQL_RES *result = mysql_store_result(connection);
    MYSQL_ROW row = result ? mysql_fetch_row(result) : NULL;
    if (!row || !row[1]) die(connection, "CHECKSUM TABLE");
    unsigned long long value = strtoull(row[1], NULL, 10);
    mysql_free_result(result);
    return value;
}

static int compareDoubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *values, int count) {
    qsort(values, (size_t)count, sizeof *values, compareDoubles);
    return count % 2 ? values[count / 2] : (values[count / 2 - 1] + values[count / 2]) / 2;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: insert-protocol-probe PORT SERVER_PID [ROUNDS]\n");
        return 2;
    }
    int port = atoi(argv[1]), pid = atoi(argv[2]), rounds = argc > 3 ? atoi(argv[3]) : 5;
    if (rounds < 1 || rounds > MAX_ROUNDS) rounds = 5;
    clockTicks = sysconf(_SC_CLK_TCK);
    MYSQL *connection = mysql_init(NULL);
    if (!mysql_real_connect(connection, "127.0.0.1", "root", "", NULL, (unsigned)port, NULL, 0)) die(connection, "connect");
    query(connection, "SET NAMES utf8mb4");
    query(connection, "SET character_set_client = binary");
    query(connection, "CREATE DATABASE IF NOT EXISTS insert_probe");
    double cpu[2][MAX_ROUNDS], wall[2][MAX_ROUNDS];
    const char *names[2] = {"text INSERT, 100 rows a statement", "bulk binary INSERT, arrays of 100 rows"};
    unsigned long long expected = 0;
    for (int round = 0; round < rounds; round++) {
        for (int mode = 0; mode < 2; mode++) {
            createTable(connection);
            double cpu0 = serverSeconds(pid), wall0 = wallSeconds();
            if (mode == 0) insertText(connection); else insertBulk(connection);
            wall[mode][round] = wallSeconds() - wall0;
            cpu[mode][round] = serverSeconds(pid) - cpu0;
            unsigned long long sum = checksum(connection);
            if (round == 0 && mode == 0) expected = sum;
            if (sum != expected) {
                fprintf(stderr, "insert-protocol-probe: %s left CHECKSUM %llu, text left %llu\n", names[mode], sum, expected);
                return 1;
            }
        }
    }
    printf("%d rows a mode, %d rounds, CHECKSUM TABLE equal in every mode (%llu)\n", ROWS * STATEMENTS, rounds, expected);
    double textCPU = median(cpu[0], rounds), bulkCPU = median(cpu[1], rounds);
    for (int mode = 0; mode < 2; mode++)
        printf("%-40s server CPU %.3f s, wall %.3f s (medians)\n", names[mode], median(cpu[mode], rounds), median(wall[mode], rounds));
    printf("bulk / text server CPU: %.2f\n", bulkCPU / textCPU);
    query(connection, "DROP DATABASE insert_probe");
    mysql_close(connection);
    return 0;
}
