// The C reference of the engine benchmark: OpenSSL ASYNC used directly, the same path as the
// Swift engine in fd mode. One engine thread keeps a window of jobs in flight; each job hands
// its operation to a device thread (a locked queue and one eventfd wake-up), registers its own
// eventfd as the wait fd and pauses; the device XORs the input and signals the job's eventfd;
// the engine, woken by epoll, resumes the job, which finishes. Prints one line like engine-bench.
// Usage: engine-loop [jobs] [in-flight]
#include <openssl/async.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct job {
    ASYNC_JOB *handle;
    ASYNC_WAIT_CTX *wait;
    int fd;
    int submitted;
    unsigned char input[8], output[8];
    volatile int done;
    struct job *next;  // device queue
};

static struct job *device_head, *device_tail;
static pthread_mutex_t device_lock = PTHREAD_MUTEX_INITIALIZER;
static int device_wake;

static void *device(void *unused) {
    (void)unused;
    for (;;) {
        uint64_t count;
        if (read(device_wake, &count, sizeof count) < 0) continue;
        pthread_mutex_lock(&device_lock);
        struct job *batch = device_head;
        device_head = device_tail = NULL;
        pthread_mutex_unlock(&device_lock);
        while (batch) {
            struct job *next = batch->next;
            for (int i = 0; i < 8; i++) batch->output[i] = batch->input[i] ^ 0xAA;
            __atomic_store_n(&batch->done, 1, __ATOMIC_RELEASE);
            uint64_t one = 1;
            if (write(batch->fd, &one, sizeof one) < 0) perror("write");
            batch = next;
        }
    }
    return NULL;
}

static int run(void *argument) {
    struct job *job = *(struct job **)argument;
    for (;;) {
        if (!job->submitted) {
            job->submitted = 1;
            ASYNC_WAIT_CTX_set_wait_fd(job->wait, job, job->fd, NULL, NULL);
            job->next = NULL;
            pthread_mutex_lock(&device_lock);
            int was_empty = device_head == NULL;
            if (device_tail) device_tail->next = job; else device_head = job;
            device_tail = job;
            pthread_mutex_unlock(&device_lock);
            if (was_empty) { uint64_t one = 1; if (write(device_wake, &one, sizeof one) < 0) perror("write"); }
        } else {
            uint64_t count;
            if (read(job->fd, &count, sizeof count) == sizeof count && __atomic_load_n(&job->done, __ATOMIC_ACQUIRE))
                return 1;
        }
        ASYNC_pause_job();
    }
}

static int epoll_set;

static void step(struct job *job, long *finished) {
    int result;
    struct job *argument = job;
    switch (ASYNC_start_job(&job->handle, job->wait, &result, run, &argument, sizeof argument)) {
    case ASYNC_PAUSE: {
        size_t added = 0, removed = 0;
        OSSL_ASYNC_FD fds[4];
        ASYNC_WAIT_CTX_get_changed_fds(job->wait, NULL, &added, NULL, &removed);
        ASYNC_WAIT_CTX_get_changed_fds(job->wait, fds, &added, NULL, &removed);
        for (size_t i = 0; i < added; i++) {
            struct epoll_event event = { .events = EPOLLIN, .data.ptr = job };
            epoll_ctl(epoll_set, EPOLL_CTL_ADD, fds[i], &event);
        }
        break;
    }
    case ASYNC_FINISH:
        ASYNC_WAIT_CTX_clear_fd(job->wait, job);
        epoll_ctl(epoll_set, EPOLL_CTL_DEL, job->fd, NULL);
        (*finished)++;
        job->submitted = 0;
        job->done = 0;
        break;
    default:
        fprintf(stderr, "ASYNC_start_job failed\n");
        exit(1);
    }
}

int main(int argc, char **argv) {
    long total = argc > 1 ? atol(argv[1]) : 200000;
    int window = argc > 2 ? atoi(argv[2]) : 256;
    ASYNC_init_thread((size_t)window, (size_t)window);
    device_wake = eventfd(0, 0);
    epoll_set = epoll_create1(0);
    pthread_t device_thread;
    pthread_create(&device_thread, NULL, device, NULL);
    struct job *jobs = calloc((size_t)window, sizeof *jobs);
    long started = 0, finished = 0;
    struct timespec begin, end;
    clock_gettime(CLOCK_MONOTONIC, &begin);
    for (int i = 0; i < window && started < total; i++, started++) {
        jobs[i].wait = ASYNC_WAIT_CTX_new();
        jobs[i].fd = eventfd(0, EFD_NONBLOCK);
        memcpy(jobs[i].input, "ASYNC-OK", 8);
        step(&jobs[i], &finished);
    }
    struct epoll_event events[256];
    while (finished < total) {
        int ready = epoll_wait(epoll_set, events, 256, -1);
        for (int i = 0; i < ready; i++) {
            struct job *job = events[i].data.ptr;
            long before = finished;
            step(job, &finished);
            if (finished > before && started < total) {  // reuse the slot for the next job
                started++;
                step(job, &finished);
            }
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    double seconds = (double)(end.tv_sec - begin.tv_sec) + (double)(end.tv_nsec - begin.tv_nsec) / 1e9;
    printf("engine-loop jobs=%ld seconds=%.3f jobs_per_second=%ld\n", total, seconds, (long)((double)total / seconds));
    return 0;
}
