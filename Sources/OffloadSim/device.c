/*
 * The simulated accelerator: one submission ring shared by every thread, a few execution
 * units, and completion queues that their pollers drain. One mutex guards the device's
 * shared state (ring occupancy, units, the fault generator); each queue has its own mutex,
 * uncontended when the thread that submits is the one that polls (the service's engine
 * threads). Nothing here pauses a job: the provider does that, never holding a lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "device_internal.h"

struct offloadsim_op {
    offloadsim_queue *queue;
    offloadsim_notify_fn notify;
    void *argument;
    uint64_t due_ns;
    uint64_t sequence;
    uint64_t submitted_ns;
    uint64_t device_ns;
    uint32_t unit;
    int state;        /* enum offloadsim_op_state; under the queue's lock */
    int fails;        /* the device will fail it */
    int is_retry;     /* a retry wake-up, not an operation in the ring */
    int abandoned;    /* the job gave up: no notification */
    int references;   /* the job's, and the queue's while scheduled; under the queue's lock */
};

struct offloadsim_queue {
    offloadsim_device *device;
    pthread_mutex_t lock;
    pthread_cond_t changed;       /* the poller thread waits on it */
    offloadsim_op **heap;         /* ordered by (due_ns, sequence) */
    size_t count;
    size_t capacity;
    uint64_t next_sequence;
    int has_poller;
    int stopping;
};

struct offloadsim_device {
    offloadsim_config config;
    pthread_mutex_t lock;
    uint32_t occupancy;
    uint64_t *unit_free_at;
    uint64_t *unit_busy_ns;
    uint32_t next_unit;
    uint64_t fault_state;         /* SplitMix64 */
    offloadsim_queue *own_queue;  /* for threads bound to no queue of this device */
    pthread_t poller;
    int poller_started;
};

static __thread offloadsim_queue *bound_queue;

uint64_t offloadsim_monotonic_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

/* SplitMix64: small, fast and repeatable for a given seed. */
static double next_unit_interval(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) / (double)(1ull << 53);
}

/* ---- queue heap ---- */

static int before(const offloadsim_op *a, const offloadsim_op *b)
{
    return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->sequence < b->sequence);
}

static int heap_push(offloadsim_queue *queue, offloadsim_op *op)
{
    if (queue->count == queue->capacity) {
        size_t capacity = queue->capacity ? queue->capacity * 2 : 64;
        offloadsim_op **grown = realloc(queue->heap, capacity * sizeof(*grown));
        if (grown == NULL)
            return 0;
        queue->heap = grown;
        queue->capacity = capacity;
    }
    size_t child = queue->count++;
    queue->heap[child] = op;
    while (child > 0) {
        size_t parent = (child - 1) / 2;
        if (!before(queue->heap[child], queue->heap[parent]))
            break;
        offloadsim_op *swap = queue->heap[parent];
        queue->heap[parent] = queue->heap[child];
        queue->heap[child] = swap;
        child = parent;
    }
    return 1;
}

static offloadsim_op *heap_pop(offloadsim_queue *queue)
{
    offloadsim_op *top = queue->heap[0];
    queue->heap[0] = queue->heap[--queue->count];
    size_t parent = 0;
    for (;;) {
        size_t left = 2 * parent + 1, right = left + 1, smallest = parent;
        if (left < queue->count && before(queue->heap[left], queue->heap[smallest]))
            smallest = left;
        if (right < queue->count && before(queue->heap[right], queue->heap[smallest]))
            smallest = right;
        if (smallest == parent)
            break;
        offloadsim_op *swap = queue->heap[parent];
        queue->heap[parent] = queue->heap[smallest];
        queue->heap[smallest] = swap;
        parent = smallest;
    }
    return top;
}

/* ---- configuration ---- */

void offloadsim_config_defaults(offloadsim_config *config)
{
    memset(config, 0, sizeof(*config));
    config->latency_ns = 2000000;
    config->units = 4;
    config->queue_depth = 4096;
    config->ring_retry_limit = 100;
    config->ring_retry_delay_ns = 1000000;
}

const char *offloadsim_config_check(const offloadsim_config *config)
{
    if (config->units < 1)
        return "The device needs at least one unit.";
    if (config->queue_depth < 1)
        return "The device queue needs at least one entry.";
    if (!(config->throughput_bytes_per_second >= 0) || config->throughput_bytes_per_second > 1e18)
        return "The device throughput must be a positive number of bytes per second.";
    if (!(config->error_rate >= 0 && config->error_rate <= 1 && config->stall_rate >= 0
          && config->stall_rate <= 1 && config->error_rate + config->stall_rate <= 1))
        return "The error and stall rates are fractions from 0 to 1, together at most 1.";
    return NULL;
}

/* ---- the device ---- */

offloadsim_device *offloadsim_device_new(const offloadsim_config *config)
{
    if (offloadsim_config_check(config) != NULL)
        return NULL;
    offloadsim_device *device = calloc(1, sizeof(*device));
    if (device == NULL)
        return NULL;
    device->config = *config;
    device->fault_state = config->seed;
    device->unit_free_at = calloc(config->units, sizeof(uint64_t));
    device->unit_busy_ns = calloc(config->units, sizeof(uint64_t));
    pthread_mutex_init(&device->lock, NULL);
    device->own_queue = offloadsim_queue_new(device);
    if (device->unit_free_at == NULL || device->unit_busy_ns == NULL || device->own_queue == NULL) {
        offloadsim_device_free(device);
        return NULL;
    }
    return device;
}

void offloadsim_device_free(offloadsim_device *device)
{
    if (device == NULL)
        return;
    if (device->poller_started) {
        pthread_mutex_lock(&device->own_queue->lock);
        device->own_queue->stopping = 1;
        pthread_cond_signal(&device->own_queue->changed);
        pthread_mutex_unlock(&device->own_queue->lock);
        pthread_join(device->poller, NULL);
    }
    offloadsim_queue_free(device->own_queue);
    pthread_mutex_destroy(&device->lock);
    free(device->unit_free_at);
    free(device->unit_busy_ns);
    free(device);
}

const offloadsim_config *offloadsim_device_config(const offloadsim_device *device)
{
    return &device->config;
}

uint32_t offloadsim_device_occupancy(offloadsim_device *device)
{
    pthread_mutex_lock(&device->lock);
    uint32_t occupancy = device->occupancy;
    pthread_mutex_unlock(&device->lock);
    return occupancy;
}

uint64_t offloadsim_device_unit_busy_ns(offloadsim_device *device, uint32_t unit)
{
    if (unit >= device->config.units)
        return 0;
    pthread_mutex_lock(&device->lock);
    uint64_t busy = device->unit_busy_ns[unit];
    pthread_mutex_unlock(&device->lock);
    return busy;
}

/* Takes a ring entry and schedules the operation on a unit. Returns OFFLOADSIM_RING_FULL, or
 * OFFLOADSIM_SUBMITTED with `*stalls` set when the device will lose it (its entry is freed at
 * once) and otherwise its due time, unit and whether it fails. */
static int schedule(offloadsim_device *device, size_t bytes, uint64_t now, int *stalls,
                    uint64_t *due, uint32_t *unit, int *fails)
{
    const offloadsim_config *config = &device->config;
    pthread_mutex_lock(&device->lock);
    if (device->occupancy >= config->queue_depth) {
        pthread_mutex_unlock(&device->lock);
        return OFFLOADSIM_RING_FULL;
    }
    double draw = config->stall_rate > 0 || config->error_rate > 0
        ? next_unit_interval(&device->fault_state) : 1.0;
    *stalls = draw < config->stall_rate;
    if (*stalls) {
        pthread_mutex_unlock(&device->lock);
        return OFFLOADSIM_SUBMITTED;
    }
    /* The unit that frees first takes it, rotating among units that are already free. */
    uint32_t chosen = device->next_unit;
    for (uint32_t offset = 0; offset < config->units; offset++) {
        uint32_t candidate = (device->next_unit + offset) % config->units;
        if (device->unit_free_at[candidate] <= now) {
            chosen = candidate;
            break;
        }
        if (device->unit_free_at[candidate] < device->unit_free_at[chosen])
            chosen = candidate;
    }
    device->next_unit = (chosen + 1) % config->units;
    uint64_t service = config->throughput_bytes_per_second > 0
        ? (uint64_t)((double)bytes / config->throughput_bytes_per_second * 1e9 + 0.5) : 0;
    uint64_t start = now > device->unit_free_at[chosen] ? now : device->unit_free_at[chosen];
    device->unit_free_at[chosen] = start + service;
    device->unit_busy_ns[chosen] += service;
    device->occupancy++;
    pthread_mutex_unlock(&device->lock);
    *due = start + service + config->latency_ns;
    *unit = chosen;
    *fails = draw < config->stall_rate + config->error_rate;
    return OFFLOADSIM_SUBMITTED;
}

static void release_entries(offloadsim_device *device, uint32_t entries)
{
    if (entries == 0)
        return;
    pthread_mutex_lock(&device->lock);
    device->occupancy -= entries;
    pthread_mutex_unlock(&device->lock);
}

static offloadsim_op *new_op(offloadsim_queue *queue, offloadsim_notify_fn notify, void *argument)
{
    offloadsim_op *op = calloc(1, sizeof(*op));
    if (op == NULL)
        return NULL;
    op->queue = queue;
    op->notify = notify;
    op->argument = argument;
    op->references = 1;
    return op;
}

/* Puts a scheduled operation on its queue, waking the queue's poller when it is now first. */
static int enqueue(offloadsim_queue *queue, offloadsim_op *op)
{
    pthread_mutex_lock(&queue->lock);
    op->sequence = queue->next_sequence++;
    op->references++;
    if (!heap_push(queue, op)) {
        op->references--;
        pthread_mutex_unlock(&queue->lock);
        return 0;
    }
    if (queue->has_poller && queue->heap[0] == op)
        pthread_cond_signal(&queue->changed);
    pthread_mutex_unlock(&queue->lock);
    return 1;
}

int offloadsim_submit(offloadsim_device *device, offloadsim_queue *queue, size_t bytes,
                      offloadsim_notify_fn notify, void *argument, offloadsim_op **out)
{
    uint64_t now = offloadsim_monotonic_ns();
    int stalls = 0, fails = 0;
    uint64_t due = 0;
    uint32_t unit = 0;
    offloadsim_op *op = new_op(queue, notify, argument);
    if (op == NULL)
        return OFFLOADSIM_RING_FULL;
    if (schedule(device, bytes, now, &stalls, &due, &unit, &fails) == OFFLOADSIM_RING_FULL) {
        free(op);
        return OFFLOADSIM_RING_FULL;
    }
    op->submitted_ns = now;
    op->unit = unit;
    op->fails = fails;
    op->due_ns = due;
    if (!stalls && !enqueue(queue, op)) {
        release_entries(device, 1);
        free(op);
        return OFFLOADSIM_RING_FULL;
    }
    *out = op;
    return OFFLOADSIM_SUBMITTED;
}

int offloadsim_schedule_retry(offloadsim_device *device, offloadsim_queue *queue,
                              offloadsim_notify_fn notify, void *argument, offloadsim_op **out)
{
    offloadsim_op *op = new_op(queue, notify, argument);
    if (op == NULL)
        return 0;
    op->is_retry = 1;
    op->due_ns = offloadsim_monotonic_ns() + device->config.ring_retry_delay_ns;
    if (!enqueue(queue, op)) {
        free(op);
        return 0;
    }
    *out = op;
    return 1;
}

int offloadsim_op_state(offloadsim_op *op, uint32_t *unit, uint64_t *device_ns)
{
    pthread_mutex_lock(&op->queue->lock);
    int state = op->state;
    if (unit != NULL)
        *unit = op->unit;
    if (device_ns != NULL)
        *device_ns = op->device_ns;
    pthread_mutex_unlock(&op->queue->lock);
    return state;
}

void offloadsim_op_release(offloadsim_op *op, int abandon)
{
    pthread_mutex_lock(&op->queue->lock);
    if (abandon)
        op->abandoned = 1;
    int last = --op->references == 0;
    pthread_mutex_unlock(&op->queue->lock);
    if (last)
        free(op);
}

int offloadsim_run_synchronously(offloadsim_device *device, size_t bytes, uint32_t *unit,
                                 uint64_t *device_ns)
{
    for (uint32_t attempt = 0;; attempt++) {
        uint64_t now = offloadsim_monotonic_ns();
        int stalls = 0, fails = 0;
        uint64_t due = now;
        if (schedule(device, bytes, now, &stalls, &due, unit, &fails) == OFFLOADSIM_RING_FULL) {
            if (attempt >= device->config.ring_retry_limit)
                return OFFLOADSIM_R_RING_FULL;
            due = now + device->config.ring_retry_delay_ns;
            struct timespec wake = { (time_t)(due / 1000000000u), (long)(due % 1000000000u) };
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &wake, NULL) == EINTR) {}
            continue;
        }
        /* A caller outside a job has nobody to end a lost operation: after one latency it is
         * reported as stalled instead of blocking forever. */
        if (stalls)
            due = now + device->config.latency_ns;
        struct timespec wake = { (time_t)(due / 1000000000u), (long)(due % 1000000000u) };
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &wake, NULL) == EINTR) {}
        if (stalls)
            return OFFLOADSIM_R_STALLED;
        release_entries(device, 1);
        *device_ns = offloadsim_monotonic_ns() - now;
        return fails ? OFFLOADSIM_R_DEVICE_ERROR : 0;
    }
}

/* ---- completion queues ---- */

offloadsim_queue *offloadsim_queue_new(offloadsim_device *device)
{
    offloadsim_queue *queue = calloc(1, sizeof(*queue));
    if (queue == NULL)
        return NULL;
    queue->device = device;
    pthread_mutex_init(&queue->lock, NULL);
    pthread_condattr_t attributes;
    pthread_condattr_init(&attributes);
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    pthread_cond_init(&queue->changed, &attributes);
    pthread_condattr_destroy(&attributes);
    return queue;
}

void offloadsim_queue_free(offloadsim_queue *queue)
{
    if (queue == NULL)
        return;
    uint32_t entries = 0;
    pthread_mutex_lock(&queue->lock);
    while (queue->count > 0) {
        offloadsim_op *op = heap_pop(queue);
        entries += !op->is_retry;
        if (--op->references == 0)
            free(op);
        else
            op->abandoned = 1;  /* a job still holds it: it will never be notified */
    }
    pthread_mutex_unlock(&queue->lock);
    release_entries(queue->device, entries);
    if (bound_queue == queue)
        bound_queue = NULL;
    pthread_cond_destroy(&queue->changed);
    pthread_mutex_destroy(&queue->lock);
    free(queue->heap);
    free(queue);
}

void offloadsim_queue_bind_current_thread(offloadsim_queue *queue)
{
    bound_queue = queue;
}

static size_t poll_locked(offloadsim_queue *queue, uint64_t now, uint32_t *entries)
{
    size_t completed = 0;
    while (queue->count > 0 && queue->heap[0]->due_ns <= now) {
        offloadsim_op *op = heap_pop(queue);
        if (!op->is_retry) {
            op->device_ns = now - op->submitted_ns;
            (*entries)++;
        }
        op->state = op->fails ? OFFLOADSIM_OP_FAILED : OFFLOADSIM_OP_DONE;
        if (!op->abandoned)
            op->notify(op->argument, op->is_retry);
        if (--op->references == 0)
            free(op);
        completed++;
    }
    return completed;
}

size_t offloadsim_queue_poll(offloadsim_queue *queue, uint64_t now_ns)
{
    uint32_t entries = 0;
    pthread_mutex_lock(&queue->lock);
    size_t completed = poll_locked(queue, now_ns, &entries);
    pthread_mutex_unlock(&queue->lock);
    release_entries(queue->device, entries);
    return completed;
}

uint64_t offloadsim_queue_next_due(offloadsim_queue *queue)
{
    pthread_mutex_lock(&queue->lock);
    uint64_t due = queue->count > 0 ? queue->heap[0]->due_ns : UINT64_MAX;
    pthread_mutex_unlock(&queue->lock);
    return due;
}

/* The device's own poller: serves the operations of threads bound to no queue (a program that
 * loaded the module, or a thread of the service outside an engine). It sleeps until the next
 * due time; a submission that becomes first wakes it. */
static void *run_poller(void *argument)
{
    offloadsim_queue *queue = argument;
    pthread_mutex_lock(&queue->lock);
    while (!queue->stopping) {
        uint32_t entries = 0;
        poll_locked(queue, offloadsim_monotonic_ns(), &entries);
        if (entries > 0) {
            pthread_mutex_unlock(&queue->lock);
            release_entries(queue->device, entries);
            pthread_mutex_lock(&queue->lock);
            continue;
        }
        if (queue->count == 0) {
            pthread_cond_wait(&queue->changed, &queue->lock);
        } else {
            uint64_t due = queue->heap[0]->due_ns;
            struct timespec wake = { (time_t)(due / 1000000000u), (long)(due % 1000000000u) };
            pthread_cond_timedwait(&queue->changed, &queue->lock, &wake);
        }
    }
    pthread_mutex_unlock(&queue->lock);
    return NULL;
}

offloadsim_queue *offloadsim_queue_for_current_thread(offloadsim_device *device)
{
    offloadsim_queue *queue = bound_queue;
    if (queue != NULL && queue->device == device)
        return queue;
    pthread_mutex_lock(&device->lock);
    if (!device->poller_started) {
        device->own_queue->has_poller = 1;
        if (pthread_create(&device->poller, NULL, run_poller, device->own_queue) == 0) {
            device->poller_started = 1;
        } else {
            device->own_queue->has_poller = 0;
        }
    }
    int started = device->poller_started;
    pthread_mutex_unlock(&device->lock);
    return started ? device->own_queue : NULL;
}
