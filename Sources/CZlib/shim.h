#ifndef BINLOG_RELAY_CZLIB_SHIM_H
#define BINLOG_RELAY_CZLIB_SHIM_H
#include <zlib.h>
#include "crc32_pclmul.h"

// inflateInit is a macro; Swift cannot call it.
static inline int binlog_relay_inflate_init(z_streamp strm) {
    return inflateInit(strm);
}
#endif
