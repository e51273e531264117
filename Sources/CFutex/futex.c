#define _GNU_SOURCE
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "keel_futex.h"

uint32_t keel_event_read(uint32_t *word) { return __atomic_load_n(word, __ATOMIC_SEQ_CST); }

void keel_event_wait(uint32_t *word, uint32_t seen) {
    // EAGAIN (the word moved), EINTR and spurious returns all mean: check again.
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
}

void keel_event_notify_all(uint32_t *word) {
    __atomic_add_fetch(word, 1, __ATOMIC_SEQ_CST);
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}
