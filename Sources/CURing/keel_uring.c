#include <liburing.h>
#include <stdlib.h>
#include <errno.h>
#include "keel_uring.h"

struct keel_ring {
    struct io_uring ring;
};

keel_ring *keel_ring_create(unsigned entries, int *error) {
    keel_ring *ring = calloc(1, sizeof(keel_ring));
    if (ring == NULL) {
        *error = -ENOMEM;
        return NULL;
    }
    int rc = io_uring_queue_init(entries, &ring->ring, 0);
    if (rc < 0) {
        free(ring);
        *error = rc;
        return NULL;
    }
    *error = 0;
    return ring;
}

void keel_ring_destroy(keel_ring *ring) {
    io_uring_queue_exit(&ring->ring);
    free(ring);
}

static struct io_uring_sqe *keel_ring_next(keel_ring *ring) { return io_uring_get_sqe(&ring->ring); }

static void keel_ring_finish(struct io_uring_sqe *sqe, uint64_t user_data, int link) {
    io_uring_sqe_set_data64(sqe, user_data);
    if (link) sqe->flags |= IOSQE_IO_LINK;
}

int keel_ring_prep_write(keel_ring *ring, int fd, const void *buffer, unsigned length, uint64_t offset,
                         uint64_t user_data, int link) {
    struct io_uring_sqe *sqe = keel_ring_next(ring);
    if (sqe == NULL) return -EBUSY;
    io_uring_prep_write(sqe, fd, buffer, length, offset);
    keel_ring_finish(sqe, user_data, link);
    return 0;
}

int keel_ring_prep_writev(keel_ring *ring, int fd, const void *vectors, unsigned count, uint64_t offset,
                          uint64_t user_data, int link) {
    struct io_uring_sqe *sqe = keel_ring_next(ring);
    if (sqe == NULL) return -EBUSY;
    io_uring_prep_writev(sqe, fd, (const struct iovec *)vectors, count, offset);
    keel_ring_finish(sqe, user_data, link);
    return 0;
}

int keel_ring_prep_fdatasync(keel_ring *ring, int fd, uint64_t user_data, int link) {
    struct io_uring_sqe *sqe = keel_ring_next(ring);
    if (sqe == NULL) return -EBUSY;
    io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
    keel_ring_finish(sqe, user_data, link);
    return 0;
}

int keel_ring_prep_read(keel_ring *ring, int fd, void *buffer, unsigned length, uint64_t user_data) {
    struct io_uring_sqe *sqe = keel_ring_next(ring);
    if (sqe == NULL) return -EBUSY;
    io_uring_prep_read(sqe, fd, buffer, length, (uint64_t)-1);
    keel_ring_finish(sqe, user_data, 0);
    return 0;
}

int keel_ring_submit(keel_ring *ring) { return io_uring_submit(&ring->ring); }

int keel_ring_wait(keel_ring *ring, uint64_t *user_data, int32_t *result) {
    struct io_uring_cqe *cqe = NULL;
    int rc = io_uring_wait_cqe(&ring->ring, &cqe);
    if (rc < 0) return rc;
    *user_data = io_uring_cqe_get_data64(cqe);
    *result = cqe->res;
    io_uring_cqe_seen(&ring->ring, cqe);
    return 0;
}
