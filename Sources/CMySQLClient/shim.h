#ifndef BINLOG_RELAY_CMYSQLCLIENT_SHIM_H
#define BINLOG_RELAY_CMYSQLCLIENT_SHIM_H
// Debian's MariaDB Connector/C (pkg-config libmariadb).
#include <mysql.h>
#include <mariadb_rpl.h>
#endif
