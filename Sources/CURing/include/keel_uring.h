// CURing: the slice of liburing KeelIO uses, behind plain functions.
//
// liburing's helpers are static inline, and liburing.h drags in <linux/io_uring.h> and defines
// _GNU_SOURCE/_XOPEN_SOURCE before the glibc headers. Imported into Swift beside Glibc and
// swift-system's CSystem, those definitions clash (fd_set, io_uring_sqe). This header
// therefore exposes no liburing or kernel type: the ring is an opaque handle, and the
// wrappers in keel_uring.c are the only code that sees liburing.
#ifndef KEEL_URING_H
#define KEEL_URING_H
#include <stddef.h>
#include <stdint.h>

typedef struct keel_ring keel_ring;

/// Sets up a ring with `entries` submission slots. Returns NULL and stores -errno in *error
/// when io_uring is unavailable (ENOSYS, EPERM in a sandbox, ENOMEM under a memlock limit).
keel_ring *keel_ring_create(unsigned entries, int *error);
void keel_ring_destroy(keel_ring *ring);

/// Queue operations; each returns 0, or -EBUSY when the submission queue is full.
/// `link` makes the next queued operation wait for this one to complete in full.
int keel_ring_prep_write(keel_ring *ring, int fd, const void *buffer, unsigned length, uint64_t offset,
                         uint64_t user_data, int link);
/// `vectors` points at `count` struct iovec; they must stay valid until the completion.
int keel_ring_prep_writev(keel_ring *ring, int fd, const void *vectors, unsigned count, uint64_t offset,
                          uint64_t user_data, int link);
int keel_ring_prep_fdatasync(keel_ring *ring, int fd, uint64_t user_data, int link);
/// Queues a read of `length` bytes at the file position (eventfds, pipes).
int keel_ring_prep_read(keel_ring *ring, int fd, void *buffer, unsigned length, uint64_t user_data);

/// Submits what is queued; returns the number submitted or -errno.
int keel_ring_submit(keel_ring *ring);
/// Waits for one completion and consumes it: stores its user_data and result (bytes or
/// -errno). Returns 0 or -errno from the wait itself (-EINTR: call again).
int keel_ring_wait(keel_ring *ring, uint64_t *user_data, int32_t *result);
#endif
