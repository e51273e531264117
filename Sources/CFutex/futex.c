#define _GNU_SOURCE
#include <limits.h>
#include <linux/futex.h>
#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
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

int keel_eventfd_create(void) {
    int fd = eventfd(0, EFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int keel_eventfd_signal(int fd) {
    uint64_t one = 1;
    ssize_t rc;
    do { rc = write(fd, &one, sizeof(one)); } while (rc < 0 && errno == EINTR);
    // EAGAIN means the counter is saturated: the reader is woken anyway.
    return rc < 0 && errno != EAGAIN ? -errno : 0;
}
