#ifndef BINLOG_RELAY_CZSTD_SHIM_H
#define BINLOG_RELAY_CZSTD_SHIM_H
#include <zstd.h>
#endif
