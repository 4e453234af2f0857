-- every-type.sql: workload for Fixtures/mariadb-10.11/record.sh.
--
-- Exercises every MariaDB 10.11 column type with edge values, in row-based
-- binary logging: INSERT (single and multi-row), UPDATE (several columns, to and
-- from NULL, primary-key changes), DELETE, DDL, a multi-table transaction, a
-- table without primary key, composite and prefix primary keys, a 300-column
-- table, a statement split over several row events, a MyISAM table, XA, a
-- second GTID domain and a short statement-based section (INTVAR, RAND,
-- USER_VAR events).
--
-- Run on a fresh server (record.sh does) with
--   mariadb --no-defaults --default-character-set=utf8mb4 -h127.0.0.1 -P PORT -uroot < every-type.sql
-- Timestamps are pinned with SET TIMESTAMP so event times and NOW() are fixed.
-- All binary values are written as hex literals so this file is plain UTF-8.

SET NAMES utf8mb4;
SET SESSION time_zone = '+00:00';
SET SESSION binlog_format = 'ROW';
-- 2023-11-14 22:13:20 UTC
SET TIMESTAMP = 1700000000;

CREATE DATABASE every_type CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;
USE every_type;

-- ---------------------------------------------------------------------------
-- Integers
-- ---------------------------------------------------------------------------
SET TIMESTAMP = 1700000060;
CREATE TABLE ints (
    id   INT NOT NULL PRIMARY KEY,
    t_s  TINYINT NULL,
    t_u  TINYINT UNSIGNED NULL,
    s_s  SMALLINT NULL,
    s_u  SMALLINT UNSIGNED NULL,
    m_s  MEDIUMINT NULL,
    m_u  MEDIUMINT UNSIGNED NULL,
    i_s  INT NULL,
    i_u  INT UNSIGNED NULL,
    b_s  BIGINT NULL,
    b_u  BIGINT UNSIGNED NULL,
    flag BOOLEAN NULL,
    i_zf INT(8) UNSIGNED ZEROFILL NULL
) ENGINE=InnoDB;

INSERT INTO ints VALUES
    (1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0, 0, 0),
    (2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295,
        9223372036854775807, 18446744073709551615, 1, 4294967295),
    (3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    (4, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, 1, 1),
    (5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO ints VALUES
    (6, -127, 254, -32767, 65534, -8388607, 16777214, -2147483647, 4294967294,
        -9223372036854775807, 18446744073709551614, NULL, 42);
INSERT INTO ints VALUES
    (7, 100, 128, 256, 32768, 65536, 8388608, 16777216, 2147483648,
        4294967296, 9223372036854775808, 1, 7);

-- ---------------------------------------------------------------------------
-- Floating point
-- ---------------------------------------------------------------------------
SET TIMESTAMP = 1700000120;
CREATE TABLE floats (
    id   INT NOT NULL PRIMARY KEY,
    f    FLOAT NULL,
    d    DOUBLE NULL,
    f_md FLOAT(7,3) NULL,
    d_md DOUBLE(20,6) NULL
) ENGINE=InnoDB;

INSERT INTO floats VALUES
    (1, 0, 0, 0, 0),
    (2, -1.5, -1.5, -1.5, -1.5),
    (3, 3.402823466e38, 1.7976931348623157e308, 9999.999, 99999999999999.999999),
    (4, -3.402823466e38, -1.7976931348623157e308, -9999.999, -99999999999999.999999),
    (5, 1.175494351e-38, 2.2250738585072014e-308, 0.001, 0.000001),
    (6, 1.401298464e-45, 4.9e-324, -0.001, -0.000001),
    (7, 3.1415927, 3.141592653589793, 3.142, 3.141593),
    (8, -2.5e-10, -1.0e-300, 123.456, 123456.789012),
    (9, NULL, NULL, NULL, NULL);

-- ---------------------------------------------------------------------------
-- Fixed point
-- ---------------------------------------------------------------------------
SET TIMESTAMP = 1700000180;
CREATE TABLE decimals (
    id     INT NOT NULL PRIMARY KEY,
    d65_30 DECIMAL(65,30) NULL,
    d65_0  DECIMAL(65,0) NULL,
    d38_38 DECIMAL(38,38) NULL,
    d18_9  DECIMAL(18,9) NULL,
    d10_0  DECIMAL(10,0) NULL,
    d5_2   DECIMAL(5,2) NULL,
    d1_1   DECIMAL(1,1) NULL,
    du20   DECIMAL(20,10) UNSIGNED NULL
) ENGINE=InnoDB;

INSERT INTO decimals VALUES
    (1, 99999999999999999999999999999999999.999999999999999999999999999999,
        99999999999999999999999999999999999999999999999999999999999999999,
        0.99999999999999999999999999999999999999,
        999999999.999999999, 9999999999, 999.99, 0.9, 9999999999.9999999999),
    (2, -99999999999999999999999999999999999.999999999999999999999999999999,
        -99999999999999999999999999999999999999999999999999999999999999999,
        -0.99999999999999999999999999999999999999,
        -999999999.999999999, -9999999999, -999.99, -0.9, 0),
    (3, 0, 0, 0, 0, 0, 0, 0, 0),
    (4, -0.000000000000000000000000000001, -1, -0.00000000000000000000000000000000000001,
        -0.000000001, -1, -0.01, -0.1, 0.0000000001),
    (5, 12345678901234567890.123456789012345678901234567890, 123456789012345678901234567890,
        0.12345678901234567890123456789012345678,
        123456789.123456789, 1234567890, 123.45, 0.5, 1234567890.0123456789),
    (6, -1.5, 1000000000, 0.5, -0.5, 100, -1.5, 0.1, 1.5),
    (7, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- ---------------------------------------------------------------------------
-- YEAR and DATE
-- ---------------------------------------------------------------------------
SET TIMESTAMP = 1700000240;
CREATE TABLE dates (
    id INT NOT NULL PRIMARY KEY,
    y  YEAR NULL,
    d  DATE NULL
) ENGINE=InnoDB;

SET SESSION sql_mode = '';
INSERT INTO dates VALUES
    (1, 0, '0000-00-00'),
    (2, 1901, '1000-01-01'),
    (3, 2155, '9999-12-31'),
    (4, 2024, '2024-02-29'),
    (5, 1970, '2024-00-00'),
    (6, 2000, '1970-01-01'),
    (7, NULL, NULL);
SET SESSION sql_mode = DEFAULT;

-- ---------------------------------------------------------------------------
-- TIME(0..6)
-- ---------------------------------------------------------------------------
SET TIMESTAMP = 1700000300;
CREATE TABLE times (
    id INT NOT NULL PRIMARY KEY,
    t0 TIME NULL,
    t1 TIME(1) NULL,
    t2 TIME(2) NULL,
    t3 TIME(3) NULL,
    t4 TIME(4) NULL,
    t5 TIME(5) NULL,
    t6 TIME(6) NULL
) ENGINE=InnoDB;

INSERT INTO times VALUES
    (1, '-838:59:59', '-838:59:59.0', '-838:59:59.00', '-838:59:59.000',
        '-838:59:59.0000', '-838:59:59.00000', '-838:59:59.000000'),
    (2, '838:59:59', '838:59:59.9', '838:59:59.99', '838:59:59.999',
        '838:59:59.9999', '838:59:59.99999', '838:59:59.999999'),
    (3, '-838:59:59', '-838:59:59.9', '-838:59:59.99', '-838:59:59.999',
        '-838:59:59.9999', '-838:59:59.99999', '-838:59:59.999999'),
    (4, '00:00:00', '00:00:00', '00:00:00', '00:00:00', '00:00:00', '00:00:00', '00:00:00'),
    (5, '-00:00:01', '-00:00:00.5', '-00:00:00.5', '-00:00:00.5',
        '-00:00:00.5', '-00:00:00.5', '-00:00:00.5'),
    (6, '-00:00:01', '-00:00:00.1', '-00:00:00.01', '-00:00:00.001',
        '-00:00:00.0001', '-00:00:00.00001', '-00:00:00.000001'),
    (7, '12:34:56', '12:34:56.7', '12:34:56.78', '12:34:56.789',
        '12:34:56.7890', '12:34:56.78901', '12:34:56.789012'),
    (8, '-01:02:03', '-01:02:03.4', '-01:02:03.45', '-01:02:03.456',
        '-01:02:03.4567', '-01:02:03.45678', '-01:02:03.456789'),
    (9, '100:00:00', '23:59:59.9', '-23:59:59.99', '24:00:00.001',
        '-100:00:00.0001', '00:00:00.00001', '00:00:00.000001'),
    (10, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- ---------------------------------------------------------------------------
-- DATETIME(0..6)
-- ---------------------------------------------------------------------------
SET TIMESTAMP = 1700000360;
CREATE TABLE datetimes (
    id  INT NOT NULL PRIMARY KEY,
    dt0 DATETIME NULL,
    dt1 DATETIME(1) NULL,
    dt2 DATETIME(2) NULL,
    dt3 DATETIME(3) NULL,
    dt4 DATETIME(4) NULL,
    dt5 DATETIME(5) NULL,
    dt6 DATETIME(6) NULL
) ENGINE=InnoDB;

SET SESSION sql_mode = '';
INSERT INTO datetimes VALUES
    (1, '0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00',
        '0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00.000000'),
    (2, '1000-01-01 00:00:00', '1000-01-01 00:00:00.0', '1000-01-01 00:00:00.00',
        '1000-01-01 00:00:00.000', '1000-01-01 00:00:00.0000', '1000-01-01 00:00:00.00000',
        '1000-01-01 00:00:00.000000'),
    (3, '9999-12-31 23:59:59', '9999-12-31 23:59:59.9', '9999-12-31 23:59:59.99',
        '9999-12-31 23:59:59.999', '9999-12-31 23:59:59.9999', '9999-12-31 23:59:59.99999',
        '9999-12-31 23:59:59.999999'),
    (4, '2024-02-29 12:34:56', '2024-02-29 12:34:56.7', '2024-02-29 12:34:56.78',
        '2024-02-29 12:34:56.789', '2024-02-29 12:34:56.7890', '2024-02-29 12:34:56.78901',
        '2024-02-29 12:34:56.789012'),
    (5, '1970-01-01 00:00:00', '1970-01-01 00:00:00.1', '1970-01-01 00:00:00.01',
        '1970-01-01 00:00:00.001', '1970-01-01 00:00:00.0001', '1970-01-01 00:00:00.00001',
        '1970-01-01 00:00:00.000001'),
    (6, '2024-00-00 00:00:00', '2024-01-00 10:00:00.5', '0000-01-01 00:00:00.25',
        '2038-01-19 03:14:08.000', '1969-12-31 23:59:59.9999', '2100-06-15 06:30:00.12345',
        '0001-01-01 00:00:00.000001'),
    (7, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
SET SESSION sql_mode = DEFAULT;

-- ---------------------------------------------------------------------------
-- TIMESTAMP(0..6), session time zone UTC
-- ---------------------------------------------------------------------------
SET TIMESTAMP = 1700000420;
CREATE TABLE timestamps (
    id  INT NOT NULL PRIMARY KEY,
    ts0 TIMESTAMP NULL DEFAULT NULL,
    ts1 TIMESTAMP(1) NULL DEFAULT NULL,
    ts2 TIMESTAMP(2) NULL DEFAULT NULL,
    ts3 TIMESTAMP(3) NULL DEFAULT NULL,
    ts4 TIMESTAMP(4) NULL DEFAULT NULL,
    ts5 TIMESTAMP(5) NULL DEFAULT NULL,
    ts6 TIMESTAMP(6) NULL DEFAULT NULL
) ENGINE=InnoDB;

SET SESSION sql_mode = '';
INSERT INTO timestamps VALUES
    (1, '1970-01-01 00:00:01', '1970-01-01 00:00:01.0', '1970-01-01 00:00:01.00',
        '1970-01-01 00:00:01.000', '1970-01-01 00:00:01.0000', '1970-01-01 00:00:01.00000',
        '1970-01-01 00:00:01.000000'),
    (2, '2038-01-19 03:14:07', '2038-01-19 03:14:07.9', '2038-01-19 03:14:07.99',
        '2038-01-19 03:14:07.999', '2038-01-19 03:14:07.9999', '2038-01-19 03:14:07.99999',
        '2038-01-19 03:14:07.999999'),
    (3, '0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00',
        '0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00'),
    (4, '2023-11-14 22:13:20', '2023-11-14 22:13:20.1', '2023-11-14 22:13:20.12',
        '2023-11-14 22:13:20.123', '2023-11-14 22:13:20.1234', '2023-11-14 22:13:20.12345',
        '2023-11-14 22:13:20.123456'),
    (5, '1970-01-01 00:00:01', '1970-01-01 00:00:00.1', '1970-01-01 00:00:00.01',
        '1970-01-01 00:00:00.001', '1970-01-01 00:00:00.0001', '1970-01-01 00:00:00.00001',
        '1970-01-01 00:00:00.000001'),
    (6, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
SET SESSION sql_mode = DEFAULT;
-- NOW() follows SET TIMESTAMP, so this row is deterministic too.
INSERT INTO timestamps VALUES (7, NOW(), NOW(1), NOW(2), NOW(3), NOW(4), NOW(5), NOW(6));

-- ---------------------------------------------------------------------------
-- CHAR / VARCHAR in latin1, utf8mb4, utf8mb3 and binary
-- ---------------------------------------------------------------------------
SET TIMESTAMP = 1700000480;
CREATE TABLE strings (
    id          INT NOT NULL PRIMARY KEY,
    c_latin1    CHAR(10) CHARACTER SET latin1 NULL,
    v_latin1    VARCHAR(300) CHARACTER SET latin1 NULL,
    c_utf8      CHAR(10) CHARACTER SET utf8mb4 NULL,
    c_utf8_255  CHAR(255) CHARACTER SET utf8mb4 NULL,
    v_utf8      VARCHAR(50) CHARACTER SET utf8mb4 NULL,
    v_utf8_long VARCHAR(1000) CHARACTER SET utf8mb4 NULL,
    v_utf8mb3   VARCHAR(20) CHARACTER SET utf8mb3 NULL,
    c_bin_cs    CHAR(8) CHARACTER SET binary NULL,
    v_bin_cs    VARCHAR(20) CHARACTER SET binary NULL,
    v_latin1_bin VARCHAR(20) CHARACTER SET latin1 COLLATE latin1_bin NULL
) ENGINE=InnoDB;

INSERT INTO strings VALUES
    (1, '', '', '', '', '', '', '', '', '', ''),
    (2, 'abc', 'hello latin1', 'abc', 'fixed', 'hello', 'long', 'mb3', 'bin', 'varbin', 'Case'),
    (3, 'café ßÿ', 'Ärger über Öl: ½ €?', 'café', '漢字テスト한국어',
        '😀🎉 emoji', 'CJK 中文字符 日本語 한국어', 'ünïcödé', X'0001FF', X'00FF00FF00', 'àéîõü'),
    (4, 'pad  ', 'trailing   ', 'pad  ', 'pad  ', 'trailing   ', '  leading', ' x ',
        X'4100', X'41000000', 'tab\there'),
    (5, REPEAT('x', 10), REPEAT('L', 300), REPEAT('😀', 10), REPEAT('😀', 255),
        REPEAT('é', 50), REPEAT('漢', 1000), REPEAT('€', 20), X'FFFFFFFFFFFFFFFF',
        REPEAT(X'00', 20), REPEAT('z', 20)),
    (6, 'quote''s', 'back\\slash', 'nl\nline', 'cr\rret', 'nul\0byte', '"dq"', '%_', X'22', X'5C', '\\'),
    (7, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- ---------------------------------------------------------------------------
-- BINARY / VARBINARY with zero bytes
-- ---------------------------------------------------------------------------
SET TIMESTAMP = 1700000540;
CREATE TABLE binaries (
    id   INT NOT NULL PRIMARY KEY,
    b1   BINARY(1) NULL,
    b16  BINARY(16) NULL,
    vb10 VARBINARY(10) NULL,
    vb300 VARBINARY(300) NULL
) ENGINE=InnoDB;

INSERT INTO binaries VALUES
    (1, X'00', X'00112233445566778899AABBCCDDEEFF', X'', X''),
    (2, X'FF', X'00000000000000000000000000000000', X'00', X'00'),
    (3, X'41', X'AB', X'0000000000', X'000102FF00'),
    (4, '', X'AB000000000000000000000000000000', X'FFFFFFFFFFFFFFFFFFFF', REPEAT(X'00FF', 150)),
    (5, X'20', X'20202020', X'2020', X'61626320'),
    (6, NULL, NULL, NULL, NULL);

-- ---------------------------------------------------------------------------
-- ENUM and SET: 1/2-byte ENUMs (one with 300 members), SETs of 1,2,3,4,8 bytes
-- (one with 64 members), an ENUM in latin1 beside utf8mb4 ones.
-- ---------------------------------------------------------------------------
SET TIMESTAMP = 1700000600;
CREATE TABLE enums_sets (
    id       INT NOT NULL PRIMARY KEY,
    e        ENUM('a', 'b', 'c') NULL,
    e_utf8   ENUM('ä', '😀', '漢字', 'x y') CHARACTER SET utf8mb4 NULL,
    e_latin1 ENUM('é', 'ß', 'plain') CHARACTER SET latin1 NULL,
    s        SET('x', 'y', 'z') NULL,
    s9       SET('a1','a2','a3','a4','a5','a6','a7','a8','a9') NULL,
    s17      SET('b01','b02','b03','b04','b05','b06','b07','b08','b09','b10','b11','b12','b13',
                 'b14','b15','b16','b17') NULL,
    s25      SET('c01','c02','c03','c04','c05','c06','c07','c08','c09','c10','c11','c12','c13',
                 'c14','c15','c16','c17','c18','c19','c20','c21','c22','c23','c24','c25') NULL,
    s64      SET('m01','m02','m03','m04','m05','m06','m07','m08','m09','m10','m11','m12','m13',
                 'm14','m15','m16','m17','m18','m19','m20','m21','m22','m23','m24','m25','m26',
                 'm27','m28','m29','m30','m31','m32','m33','m34','m35','m36','m37','m38','m39',
                 'm40','m41','m42','m43','m44','m45','m46','m47','m48','m49','m50','m51','m52',
                 'm53','m54','m55','m56','m57','m58','m59','m60','m61','m62','m63','m64') NULL
) ENGINE=InnoDB;

INSERT INTO enums_sets VALUES
    (1, 'a', 'ä', 'é', '', '', '', '', ''),
    (2, 'c', '😀', 'plain', 'x,y,z', 'a1,a9', 'b01,b17', 'c01,c25', 'm01,m64'),
    (3, 'b', '漢字', 'ß', 'z', 'a9', 'b17', 'c25', 'm64'),
    (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (5, 'a', 'x y', 'é', 'x', 511, 131071, 33554431, 18446744073709551615),
    (6, 'b', 'ä', 'ß', 'y', 'a5', 'b08,b09', 'c16,c17', 'm32,m33');
-- Invalid ENUM values become the empty string (index 0) in non-strict mode.
SET SESSION sql_mode = '';
INSERT INTO enums_sets (id, e, e_utf8, e_latin1) VALUES (7, 'bogus', 'nope', 'zzz');
SET SESSION sql_mode = DEFAULT;

-- ENUM with 300 members (stored in 2 bytes), built with the SEQUENCE engine.
SELECT CONCAT('CREATE TABLE enum_big (id INT NOT NULL PRIMARY KEY, e ENUM(',
              GROUP_CONCAT(CONCAT('''e', LPAD(seq, 3, '0'), '''') ORDER BY seq SEPARATOR ','),
              ') NULL) ENGINE=InnoDB')
    INTO @ddl FROM seq_1_to_300;
PREPARE stmt FROM @ddl;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;
INSERT INTO enum_big VALUES (1, 'e001'), (2, 'e255'), (3, 'e256'), (4, 'e300'), (5, NULL);

-- ---------------------------------------------------------------------------
-- BLOB and TEXT
-- ---------------------------------------------------------------------------
SET TIMESTAMP = 1700000660;
CREATE TABLE blobs (
    id  INT NOT NULL PRIMARY KEY,
    tb  TINYBLOB NULL,
    b   BLOB NULL,
    mb  MEDIUMBLOB NULL,
    lb  LONGBLOB NULL,
    tt  TINYTEXT NULL,
    t   TEXT NULL,
    mt  MEDIUMTEXT NULL,
    lt  LONGTEXT NULL,
    t_latin1 TEXT CHARACTER SET latin1 NULL
) ENGINE=InnoDB;

INSERT INTO blobs VALUES
    (1, '', '', '', '', '', '', '', '', ''),
    (2, X'00', X'0001020300', X'FF00FF', X'00000000', 'tiny', 'text', 'medium', 'long', 'latin1 é'),
    (3, REPEAT(X'AB', 255), REPEAT(X'00', 1000), REPEAT('m', 66000), REPEAT(X'01', 300),
        REPEAT('😀', 63), REPEAT('漢字', 500), 'ünï 😀 中文', REPEAT('long text ', 100), REPEAT('ÿ', 255)),
    (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- One ~100 KB binary value (16-byte pattern with 0x00 and 0xFF bytes, 6400 times).
CREATE TABLE big_blob (
    id      INT NOT NULL PRIMARY KEY,
    payload LONGBLOB NOT NULL
) ENGINE=InnoDB;
INSERT INTO big_blob VALUES (1, REPEAT(CONCAT(X'00', 'binlog-relay', X'FF0A01'), 6400));

-- ---------------------------------------------------------------------------
-- BIT
-- ---------------------------------------------------------------------------
SET TIMESTAMP = 1700000720;
CREATE TABLE bits (
    id  INT NOT NULL PRIMARY KEY,
    b1  BIT(1) NULL,
    b8  BIT(8) NULL,
    b17 BIT(17) NULL,
    b64 BIT(64) NULL
) ENGINE=InnoDB;

INSERT INTO bits VALUES
    (1, b'0', b'0', b'0', b'0'),
    (2, b'1', b'11111111', b'11111111111111111',
        b'1111111111111111111111111111111111111111111111111111111111111111'),
    (3, b'1', b'10000001', b'10000000000000001',
        b'1000000000000000000000000000000000000000000000000000000000000001'),
    (4, b'0', b'1010', b'1', 0x0123456789ABCDEF),
    (5, NULL, NULL, NULL, NULL);

-- ---------------------------------------------------------------------------
-- JSON (an alias of LONGTEXT utf8mb4_bin with a JSON_VALID check in MariaDB)
-- ---------------------------------------------------------------------------
SET TIMESTAMP = 1700000780;
CREATE TABLE json_docs (
    id  INT NOT NULL PRIMARY KEY,
    doc JSON NULL
) ENGINE=InnoDB;

INSERT INTO json_docs VALUES
    (1, '{}'),
    (2, '[]'),
    (3, 'null'),
    (4, 'true'),
    (5, 'false'),
    (6, '0'),
    (7, '-1.5e10'),
    (8, '"just a string"'),
    (9, '{"a": 1, "b": [1, 2.5, -3, 1e300, 18446744073709551615, -9223372036854775808], "c": {"d": {"e": [[], {}, [null]]}}}'),
    (10, '{"unicode": "漢字 😀 é", "escaped": "q\\"uote \\\\ back \\n nl \\u00e9 \\ud83d\\ude00", "empty": ""}'),
    (11, '[true, false, null, 0, -0, 0.1, "x", {"k": "v"}, [1, [2, [3, [4]]]]]'),
    (12, '{"k1": true, "k2": false, "k3": null, "nested": {"arr": [{"x": 1}, {"y": [2, 3]}]}}'),
    (13, '  { "spaces" :  [ 1 ,2 ] }  '),
    (14, NULL);

-- ---------------------------------------------------------------------------
-- Spatial
-- ---------------------------------------------------------------------------
SET TIMESTAMP = 1700000840;
CREATE TABLE geo (
    id    INT NOT NULL PRIMARY KEY,
    g     GEOMETRY NULL,
    p     POINT NULL,
    ls    LINESTRING NULL,
    poly  POLYGON NULL,
    mp    MULTIPOINT NULL,
    mls   MULTILINESTRING NULL,
    mpoly MULTIPOLYGON NULL,
    gc    GEOMETRYCOLLECTION NULL
) ENGINE=InnoDB;

INSERT INTO geo VALUES
    (1, ST_GeomFromText('POINT(1 2)'), ST_GeomFromText('POINT(1.5 -2.25)'),
        ST_GeomFromText('LINESTRING(0 0, 1 1, 2 0)'),
        ST_GeomFromText('POLYGON((0 0, 10 0, 10 10, 0 10, 0 0), (2 2, 4 2, 4 4, 2 4, 2 2))'),
        ST_GeomFromText('MULTIPOINT(1 1, 2 2)'),
        ST_GeomFromText('MULTILINESTRING((0 0, 1 1), (2 2, 3 3))'),
        ST_GeomFromText('MULTIPOLYGON(((0 0, 1 0, 1 1, 0 0)), ((5 5, 6 5, 6 6, 5 5)))'),
        ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1), LINESTRING(0 0, 1 1))')),
    (2, ST_GeomFromText('POLYGON((0 0, 1 0, 1 1, 0 0))', 4326), ST_GeomFromText('POINT(13.4 52.5)', 4326),
        NULL, NULL, NULL, NULL, NULL, ST_GeomFromText('GEOMETRYCOLLECTION EMPTY')),
    (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- ---------------------------------------------------------------------------
-- INET6, INET4 and UUID (MariaDB data-type plugins, 10.5 / 10.10 / 10.7)
-- ---------------------------------------------------------------------------
SET TIMESTAMP = 1700000900;
CREATE TABLE inet_uuid (
    id INT NOT NULL PRIMARY KEY,
    i6 INET6 NULL,
    i4 INET4 NULL,
    u  UUID NULL
) ENGINE=InnoDB;

INSERT INTO inet_uuid VALUES
    (1, '::', '0.0.0.0', '00000000-0000-0000-0000-000000000000'),
    (2, '::1', '127.0.0.1', '123e4567-e89b-12d3-a456-426655440000'),
    (3, '2001:db8::ff00:42:8329', '192.0.2.1', 'f47ac10b-58cc-4372-a567-0e02b2c3d479'),
    (4, '::ffff:192.0.2.128', '255.255.255.255', 'ffffffff-ffff-ffff-ffff-ffffffffffff'),
    (5, 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '10.0.0.1', '6ccd780c-baba-1026-9564-5b8c656024db'),
    (6, 'fe80::1:2:3:4', '192.168.1.254', '01890a5d-ac96-774b-bcce-b302099a8057'),
    (7, NULL, NULL, NULL);

-- ---------------------------------------------------------------------------
-- Keys: no primary key, composite primary key, primary key with a prefix
-- ---------------------------------------------------------------------------
SET TIMESTAMP = 1700000960;
CREATE TABLE no_pk (
    a INT NULL,
    b VARCHAR(20) NULL,
    c DOUBLE NULL
) ENGINE=InnoDB;
INSERT INTO no_pk VALUES (1, 'one', 1.0), (1, 'one', 1.0), (2, 'two', NULL), (NULL, NULL, NULL), (3, 'three', 3.5);

CREATE TABLE composite_pk (
    a INT NOT NULL,
    b VARCHAR(10) NOT NULL,
    c DATETIME(3) NOT NULL,
    v VARCHAR(20) NULL,
    PRIMARY KEY (a, b, c)
) ENGINE=InnoDB;
INSERT INTO composite_pk VALUES
    (1, 'x', '2024-01-01 00:00:00.001', 'first'),
    (1, 'y', '2024-01-01 00:00:00.002', 'second'),
    (2, 'x', '2024-01-01 00:00:00.003', NULL);

CREATE TABLE prefix_pk (
    name VARCHAR(100) NOT NULL,
    id   INT NOT NULL,
    note TEXT NULL,
    PRIMARY KEY (name(4), id)
) ENGINE=InnoDB;
INSERT INTO prefix_pk VALUES ('alpha', 1, 'a'), ('alphabet', 2, 'b'), ('beta', 1, NULL);

-- ---------------------------------------------------------------------------
-- 300 columns (column count and NULL bitmaps longer than 250 / 8 bytes)
-- ---------------------------------------------------------------------------
SET TIMESTAMP = 1700001020;
SELECT CONCAT('CREATE TABLE wide (id INT NOT NULL PRIMARY KEY, ',
              GROUP_CONCAT(CONCAT('c', LPAD(seq, 3, '0'), ' TINYINT NULL') ORDER BY seq SEPARATOR ', '),
              ') ENGINE=InnoDB')
    INTO @ddl FROM seq_1_to_299;
PREPARE stmt FROM @ddl;
EXECUTE stmt;
SELECT CONCAT('INSERT INTO wide VALUES (1, ',
              GROUP_CONCAT(IF(seq % 3 = 0, 'NULL', CAST(seq % 128 AS CHAR)) ORDER BY seq SEPARATOR ', '),
              ')')
    INTO @dml FROM seq_1_to_299;
PREPARE stmt FROM @dml;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;
UPDATE wide SET c001 = NULL, c003 = 3, c299 = -1 WHERE id = 1;

-- ---------------------------------------------------------------------------
-- One statement split over several row events (binlog_row_event_max_size=8 KB)
-- ---------------------------------------------------------------------------
SET TIMESTAMP = 1700001080;
CREATE TABLE many_rows (
    id  INT NOT NULL PRIMARY KEY,
    pad VARCHAR(200) CHARACTER SET latin1 NOT NULL
) ENGINE=InnoDB;
-- 120 rows of ~205 bytes: about 25 KB, so at least 3 WRITE_ROWS events of which
-- only the last carries STMT_END_F.
INSERT INTO many_rows SELECT seq, REPEAT(CHAR(64 + seq % 26), 200) FROM seq_1_to_120;
DELETE FROM many_rows WHERE id > 40;

-- ---------------------------------------------------------------------------
-- UPDATEs: several columns, to NULL, from NULL, primary-key changes, multi-row
-- ---------------------------------------------------------------------------
SET TIMESTAMP = 1700001140;
UPDATE ints SET t_s = 1, s_u = NULL, i_s = 42, b_u = NULL, flag = NULL WHERE id = 3;
UPDATE ints SET t_s = -5, t_u = 5, s_s = -500, s_u = 500, m_s = -70000, m_u = 70000,
    i_s = -100000, i_u = 100000, b_s = -10000000000, b_u = 10000000000, flag = 1, i_zf = 5 WHERE id = 5;
UPDATE ints SET i_u = i_u + 1, b_s = b_s + 1 WHERE id IN (1, 4);
UPDATE floats SET f = -f, d = d * 2 WHERE id IN (2, 7);
UPDATE floats SET f = 1.25, d = NULL WHERE id = 9;
UPDATE decimals SET d65_30 = -d65_30, d5_2 = NULL, d1_1 = -0.5 WHERE id IN (5, 6);
UPDATE decimals SET d65_30 = 1, d10_0 = -42 WHERE id = 7;
SET SESSION sql_mode = '';
UPDATE dates SET y = 1999, d = '0000-00-00' WHERE id = 4;
UPDATE datetimes SET dt3 = NULL, dt6 = '2001-02-03 04:05:06.070809' WHERE id IN (4, 5);
UPDATE timestamps SET ts0 = '2000-01-01 00:00:00', ts6 = NULL WHERE id = 4;
SET SESSION sql_mode = DEFAULT;
UPDATE times SET t0 = '-12:00:00', t6 = '00:00:00.000001' WHERE id = 10;
UPDATE times SET t3 = NULL WHERE id = 7;
UPDATE strings SET v_utf8 = '更新 😀', c_latin1 = NULL, v_bin_cs = X'00' WHERE id = 2;
UPDATE strings SET c_utf8 = 'from null', v_latin1 = 'was null' WHERE id = 7;
UPDATE binaries SET b16 = X'FF', vb10 = NULL WHERE id = 1;
UPDATE enums_sets SET e = 'c', s = 'x,z', s64 = 'm02,m63', e_utf8 = NULL WHERE id IN (1, 3);
UPDATE enum_big SET e = 'e299' WHERE id = 5;
UPDATE blobs SET tt = 'changed tiny text' WHERE id = 2;
UPDATE blobs SET b = X'DEADBEEF00', lt = NULL WHERE id = 2;
UPDATE bits SET b64 = b64 >> 1, b1 = NULL WHERE id = 2;
UPDATE json_docs SET doc = JSON_SET(doc, '$.added', JSON_ARRAY(1, 'two', NULL)) WHERE id = 9;
UPDATE json_docs SET doc = '{"was": null}' WHERE id = 14;
UPDATE json_docs SET doc = NULL WHERE id = 1;
UPDATE geo SET p = ST_GeomFromText('POINT(0 0)'), poly = NULL WHERE id = 1;
UPDATE inet_uuid SET i6 = '::2', u = NULL WHERE id = 2;
UPDATE inet_uuid SET i4 = '1.2.3.4', u = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' WHERE id = 7;
UPDATE no_pk SET c = 9.75, b = NULL WHERE a = 1;
UPDATE no_pk SET a = 4 WHERE a IS NULL;
UPDATE composite_pk SET b = 'z', v = 'pk changed' WHERE a = 1 AND b = 'y';
UPDATE prefix_pk SET note = 'updated' WHERE id = 1;

-- ---------------------------------------------------------------------------
-- DELETEs
-- ---------------------------------------------------------------------------
SET TIMESTAMP = 1700001200;
DELETE FROM ints WHERE id IN (6, 7);
DELETE FROM floats WHERE id = 8;
DELETE FROM times WHERE id BETWEEN 8 AND 9;
DELETE FROM strings WHERE id = 6;
DELETE FROM blobs WHERE id = 1;
DELETE FROM no_pk WHERE a = 1 LIMIT 1;
DELETE FROM composite_pk WHERE a = 2;
DELETE FROM json_docs WHERE id IN (3, 4, 5);
DELETE FROM geo WHERE id = 3;
DELETE FROM inet_uuid WHERE id = 6;

-- ---------------------------------------------------------------------------
-- A transaction over several tables
-- ---------------------------------------------------------------------------
SET TIMESTAMP = 1700001260;
START TRANSACTION;
INSERT INTO ints (id, t_s, i_s, b_u) VALUES (8, 8, 8, 8);
UPDATE strings SET v_utf8 = 'in a transaction' WHERE id = 3;
DELETE FROM bits WHERE id = 4;
INSERT INTO json_docs VALUES (15, '{"tx": [1, 2, 3]}');
INSERT INTO composite_pk VALUES (3, 'tx', '2024-06-01 12:00:00.500', 'tx row');
UPDATE decimals SET d5_2 = 1.23 WHERE id = 3;
COMMIT;

-- ---------------------------------------------------------------------------
-- DDL
-- ---------------------------------------------------------------------------
SET TIMESTAMP = 1700001320;
ALTER TABLE ints ADD COLUMN note VARCHAR(20) CHARACTER SET latin1 NULL DEFAULT 'added';
INSERT INTO ints (id, i_s, note) VALUES (9, 9, 'after alter');
UPDATE ints SET note = NULL WHERE id = 1;
CREATE INDEX no_pk_a ON no_pk (a);
RENAME TABLE no_pk TO no_pk_renamed;
DELETE FROM no_pk_renamed WHERE a = 2;
CREATE TABLE scratch (id INT NOT NULL PRIMARY KEY, v VARCHAR(10)) ENGINE=InnoDB;
INSERT INTO scratch VALUES (1, 'gone soon');
TRUNCATE TABLE scratch;
DROP TABLE scratch;
CREATE TABLE ctas ENGINE=InnoDB AS SELECT id, i_s, b_u FROM ints WHERE id <= 3;

-- ---------------------------------------------------------------------------
-- Non-transactional engine (no XID; the GTID group ends with a COMMIT query)
-- ---------------------------------------------------------------------------
SET TIMESTAMP = 1700001380;
CREATE TABLE nontx (id INT NOT NULL PRIMARY KEY, v VARCHAR(10) NULL) ENGINE=MyISAM;
INSERT INTO nontx VALUES (1, 'myisam'), (2, NULL);
UPDATE nontx SET v = 'changed' WHERE id = 2;

-- ---------------------------------------------------------------------------
-- XA: prepared then committed, prepared then rolled back, one-phase commit
-- ---------------------------------------------------------------------------
SET TIMESTAMP = 1700001440;
XA START 'every-type-xa-1';
INSERT INTO ints (id, i_s) VALUES (10, 10);
XA END 'every-type-xa-1';
XA PREPARE 'every-type-xa-1';
XA COMMIT 'every-type-xa-1';
XA START 'every-type-xa-2', 'branch', 77;
INSERT INTO ints (id, i_s) VALUES (11, 11);
XA END 'every-type-xa-2', 'branch', 77;
XA PREPARE 'every-type-xa-2', 'branch', 77;
XA ROLLBACK 'every-type-xa-2', 'branch', 77;
XA START 'every-type-xa-3';
INSERT INTO ints (id, i_s) VALUES (12, 12);
XA END 'every-type-xa-3';
XA COMMIT 'every-type-xa-3' ONE PHASE;

-- ---------------------------------------------------------------------------
-- A second GTID domain
-- ---------------------------------------------------------------------------
SET TIMESTAMP = 1700001500;
SET SESSION gtid_domain_id = 7;
INSERT INTO ints (id, i_s) VALUES (13, 13);
SET SESSION gtid_domain_id = 0;

-- ---------------------------------------------------------------------------
-- Statement-based section: QUERY DML with INTVAR, RAND and USER_VAR events
-- ---------------------------------------------------------------------------
SET TIMESTAMP = 1700001560;
SET SESSION binlog_format = 'STATEMENT';
CREATE TABLE stmt_log (
    id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    r  DOUBLE NULL,
    u  VARCHAR(30) NULL,
    n  BIGINT NULL
) ENGINE=InnoDB;
SET @who = 'fixture 😀', @n = 12345678901;
INSERT INTO stmt_log (r, u, n) VALUES (RAND(), @who, @n);
INSERT INTO stmt_log (r, u, n) VALUES (0.5, 'second', LAST_INSERT_ID());
UPDATE stmt_log SET n = n + 1 WHERE id = 1;
SET SESSION binlog_format = 'ROW';

-- Last statement of the workload: record.sh then runs FLUSH BINARY LOGS.
SET TIMESTAMP = 1700001620;
DELETE FROM many_rows WHERE id <= 5;
