// CLMDB: Debian's liblmdb, the reference B+tree `keel-bench storage` measures Keel's against.
// Only keel-bench links it; no Keel module depends on it.
// No feature macros here: this header must see glibc exactly as Swift's Glibc module does.
#ifndef KEEL_CLMDB_SHIM_H
#define KEEL_CLMDB_SHIM_H
#include <lmdb.h>
#endif
