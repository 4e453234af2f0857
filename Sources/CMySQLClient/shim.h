#ifndef BINLOG_RELAY_CMYSQLCLIENT_SHIM_H
#define BINLOG_RELAY_CMYSQLCLIENT_SHIM_H
// Debian's MariaDB Connector/C (pkg-config libmariadb).
#include <stddef.h>
#include <mysql.h>
#include <mariadb_rpl.h>
#include <ma_pvio.h>
#include <poll.h>

// Sends a command through the connection's protocol layer, as the library does for its own
// commands. Used for COM_REGISTER_SLAVE, COM_BINLOG_DUMP(_GTID), the semi-sync ACK and the
// applier's prepared bulk INSERTs, whose replies (an event stream, answers read in order, or
// none) the relay reads itself.
static inline int binlog_relay_send_command(MYSQL *mysql, unsigned int command, const unsigned char *arg,
                                            size_t length, my_bool skip_check) {
    return mysql->methods->db_command(mysql, (enum enum_server_command)command, (const char *)arg, length,
                                      skip_check, NULL);
}

// The bytes of the packet mysql_net_read_packet() just read.
static inline const unsigned char *binlog_relay_packet_bytes(MYSQL *mysql) {
    return mysql->net.read_pos;
}

// Whether more of the stream can be read at once, without waiting for the network: bytes left
// in the library's buffers (the rest of a decompressed block with compression, the read-ahead
// cache otherwise) or readable on the socket. A TLS record already decrypted inside OpenSSL is
// not seen; that only makes the caller treat the stream as idle a little early.
static inline int binlog_relay_has_pending_input(MYSQL *mysql) {
    NET *net = &mysql->net;
    if (net->compress && net->remain_in_buf > 0) return 1;
    MARIADB_PVIO *pvio = net->pvio;
    if (pvio == NULL) return 0;
    if (pvio->cache != NULL && pvio->cache_pos < pvio->cache + pvio->cache_size) return 1;
    struct pollfd descriptor = {.fd = mysql_get_socket(mysql), .events = POLLIN, .revents = 0};
    return poll(&descriptor, 1, 0) > 0 && (descriptor.revents & POLLIN) != 0;
}

// Options that take an integer or boolean by pointer.
static inline int binlog_relay_set_uint_option(MYSQL *mysql, enum mysql_option option, unsigned int value) {
    return mysql_options(mysql, option, &value);
}
static inline int binlog_relay_set_bool_option(MYSQL *mysql, enum mysql_option option, my_bool value) {
    return mysql_options(mysql, option, &value);
}

// Whether the server runs COM_STMT_BULK_EXECUTE (MariaDB 10.2 and later): the test of
// MARIADB_STMT_BULK_SUPPORTED in mariadb_stmt.h, through the public mariadb_get_infov().
static inline int binlog_relay_supports_bulk(MYSQL *mysql) {
    unsigned long capabilities = 0, extended = 0;
    if (mariadb_get_infov(mysql, MARIADB_CONNECTION_SERVER_CAPABILITIES, &capabilities)) return 0;
    if (capabilities & CLIENT_MYSQL) return 0;
    if (mariadb_get_infov(mysql, MARIADB_CONNECTION_EXTENDED_SERVER_CAPABILITIES, &extended)) return 0;
    return (extended & (MARIADB_CLIENT_STMT_BULK_OPERATIONS >> 32)) != 0;
}
#endif
