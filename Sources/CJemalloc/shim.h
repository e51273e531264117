// CJemalloc: Debian's jemalloc is unprefixed, so linking it replaces malloc for the Swift
// runtime and libc alike; mallctl lets a running binary prove which allocator it has.
// No feature macros here: this header must see glibc exactly as Swift's Glibc module does.
#ifndef KEEL_CJEMALLOC_SHIM_H
#define KEEL_CJEMALLOC_SHIM_H
#include <jemalloc/jemalloc.h>
#include <stddef.h>

/// Copies jemalloc's version string ("5.3.0-0-g...") into `buffer`; returns 0 or an errno.
static inline int keel_jemalloc_version(char *buffer, size_t capacity) {
    const char *version = NULL;
    size_t length = sizeof(version);
    int rc = mallctl("version", &version, &length, NULL, 0);
    if (rc != 0 || version == NULL) return rc == 0 ? -1 : rc;
    size_t i = 0;
    for (; i + 1 < capacity && version[i] != 0; i++) buffer[i] = version[i];
    if (capacity > 0) buffer[i] = 0;
    return 0;
}
#endif
