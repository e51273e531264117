// CFutex: the ways Keel's threads wake each other. First, an event count over Linux futexes, so that threads can wait for a counter to move
// without taking a mutex (the WAL's appenders waiting for their batch to be durable).
//
// Protocol: a waiter reads the word with keel_event_read, checks its own condition, and only
// if it does not hold calls keel_event_wait with the value it read; a notifier makes the
// condition true first, then calls keel_event_notify_all. A notification between the read
// and the wait makes the wait return at once, so none is lost.
#ifndef KEEL_FUTEX_H
#define KEEL_FUTEX_H
#include <stdint.h>

/// Reads the event word (acquire).
uint32_t keel_event_read(uint32_t *word);
/// Sleeps while the word still equals `seen`; returns on a notification, a signal or a
/// spurious wake-up (callers re-check their condition).
void keel_event_wait(uint32_t *word, uint32_t seen);
/// Advances the word (release) and wakes every thread waiting on it.
void keel_event_notify_all(uint32_t *word);

/// Creates a close-on-exec eventfd (a counter another thread, or io_uring, can wait on);
/// returns the descriptor or -errno.
int keel_eventfd_create(void);
/// Adds 1 to the eventfd's counter, waking its reader; returns 0 or -errno.
int keel_eventfd_signal(int fd);
#endif
