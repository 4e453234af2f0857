/*
 * delay-proxy.c - a TCP proxy that adds a fixed latency in each direction.
 *
 * Usage: delay-proxy --listen [HOST:]PORT --connect HOST:PORT [--rtt-ms 30] [--verbose]
 *
 * The same proxy as delay-proxy.py (its options, its "listening" line on stderr, the same
 * behaviour: each chunk read from one side is written to the other RTT/2 ms after it was read,
 * in order; bandwidth not limited, up to 64 MiB in flight per direction; a half-close is
 * forwarded after the data before it; a reset closes both sides), in C, because it runs on the
 * machine it measures: the Python one took ~0.45 s of CPU from the relay and the target on one
 * every-type apply of ~2.3 s on 2 cores. apply-benchmark.sh builds it with `cc -O2 -pthread`
 * and falls back to delay-proxy.py when no compiler is there.
 *
 * Each direction of a connection is a reading thread and a writing thread around a queue: the
 * reader stamps each chunk with the time it is due, the writer sleeps until the oldest is due
 * and then writes every chunk due by then.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (256 * 1024)
#define MAX_IN_FLIGHT (64L * 1024 * 1024)

struct chunk {
    struct chunk *next;
    uint64_t due_ns;
    ssize_t length; /* 0: EOF, -1: reset */
    char bytes[];
};

struct direction {
    int from, to;
    uint64_t delay_ns;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct chunk *head, *tail;
    long in_flight;
    long long forwarded;
    int stopped;
    struct connection *connection;
};

struct connection {
    int client, server, number;
    struct direction up, down;
    pthread_mutex_t lock;
    int writers_left;
    int reset;
};

static int verbose;
static uint64_t delay_ns;
static struct sockaddr_storage target;
static socklen_t target_length;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t due) {
    struct timespec ts = {.tv_sec = (time_t)(due / 1000000000u), .tv_nsec = (long)(due % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
}

static void put(struct direction *d, struct chunk *c) {
    pthread_mutex_lock(&d->lock);
    c->next = NULL;
    if (d->tail) d->tail->next = c; else d->head = c;
    d->tail = c;
    if (c->length > 0) d->in_flight += c->length;
    pthread_cond_broadcast(&d->changed);
    pthread_mutex_unlock(&d->lock);
}

static void *read_side(void *argument) {
    struct direction *d = argument;
    for (;;) {
        pthread_mutex_lock(&d->lock);
        while (d->in_flight >= MAX_IN_FLIGHT && !d->stopped) pthread_cond_wait(&d->changed, &d->lock);
        int stopped = d->stopped;
        pthread_mutex_unlock(&d->lock);
        if (stopped) return NULL;
        struct chunk *c = malloc(sizeof(struct chunk) + CHUNK);
        if (!c) abort();
        ssize_t n;
        do { n = recv(d->from, c->bytes, CHUNK, 0); } while (n < 0 && errno == EINTR);
        c->length = n < 0 ? -1 : n;
        c->due_ns = n < 0 ? now_ns() : now_ns() + d->delay_ns;
        if (n > 0 && n < CHUNK / 4) {
            struct chunk *small = realloc(c, sizeof(struct chunk) + (size_t)n);
            if (small) c = small;
        }
        put(d, c);
        if (n <= 0) return NULL;
    }
}

static void reset_socket(int fd) {
    struct linger linger = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
    shutdown(fd, SHUT_RDWR);
}

/* Returns 1 after forwarding an EOF, 0 after a reset or a failed write. */
static int write_side(struct direction *d) {
    struct iovec iov[64];
    for (;;) {
        pthread_mutex_lock(&d->lock);
        while (!d->head && !d->stopped) pthread_cond_wait(&d->changed, &d->lock);
        if (!d->head) { pthread_mutex_unlock(&d->lock); return 0; }
        uint64_t due = d->head->due_ns;
        pthread_mutex_unlock(&d->lock);
        sleep_until(due);
        /* Every chunk due by now, in one writev (64 at most). */
        struct chunk *taken[64];
        int count = 0, end = -2; /* -2: none, 0: EOF, -1: reset */
        pthread_mutex_lock(&d->lock);
        uint64_t now = now_ns();
        while (d->head && d->head->due_ns <= now && count < 64) {
            struct chunk *c = d->head;
            if (c->length <= 0) {
                end = (int)c->length;
                d->head = c->next;
                if (!d->head) d->tail = NULL;
                free(c);
                break;
            }
            d->head = c->next;
            if (!d->head) d->tail = NULL;
            taken[count] = c;
            iov[count].iov_base = c->bytes;
            iov[count].iov_len = (size_t)c->length;
            count++;
        }
        pthread_mutex_unlock(&d->lock);
        int failed = 0;
        long sent_total = 0;
        int first = 0;
        while (first < count && !failed) {
            ssize_t n = writev(d->to, iov + first, count - first);
            if (n < 0) {
                if (errno == EINTR) continue;
                failed = 1;
                break;
            }
            sent_total += n;
            while (first < count && (size_t)n >= iov[first].iov_len) { n -= (ssize_t)iov[first].iov_len; first++; }
            if (first < count) { iov[first].iov_base = (char *)iov[first].iov_base + n; iov[first].iov_len -= (size_t)n; }
        }
        long freed = 0;
        for (int i = 0; i < count; i++) { freed += taken[i]->length; free(taken[i]); }
        pthread_mutex_lock(&d->lock);
        d->in_flight -= freed;
        d->forwarded += sent_total;
        pthread_cond_broadcast(&d->changed);
        pthread_mutex_unlock(&d->lock);
        if (failed || end == -1) return 0;
        if (end == 0) { shutdown(d->to, SHUT_WR); return 1; }
    }
}

static void stop_direction(struct direction *d) {
    pthread_mutex_lock(&d->lock);
    d->stopped = 1;
    pthread_cond_broadcast(&d->changed);
    pthread_mutex_unlock(&d->lock);
}

static void *writer(void *argument) {
    struct direction *d = argument;
    struct connection *c = d->connection;
    if (!write_side(d)) {
        /* A reset (or a broken write) ends both directions at once. */
        pthread_mutex_lock(&c->lock);
        if (!c->reset) { c->reset = 1; reset_socket(c->client); reset_socket(c->server); }
        pthread_mutex_unlock(&c->lock);
    }
    stop_direction(d);
    return NULL;
}

static void init_direction(struct direction *d, struct connection *c, int from, int to) {
    memset(d, 0, sizeof *d);
    d->from = from;
    d->to = to;
    d->delay_ns = delay_ns;
    d->connection = c;
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->changed, NULL);
}

static void free_queue(struct direction *d) {
    while (d->head) { struct chunk *c = d->head; d->head = c->next; free(c); }
}

static void *handle(void *argument) {
    struct connection *c = argument;
    int one = 1;
    c->server = socket(target.ss_family, SOCK_STREAM, 0);
    if (c->server < 0 || connect(c->server, (struct sockaddr *)&target, target_length) != 0) {
        fprintf(stderr, "delay-proxy: connection %d: cannot connect: %s\n", c->number, strerror(errno));
        close(c->client);
        if (c->server >= 0) close(c->server);
        free(c);
        return NULL;
    }
    setsockopt(c->client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(c->server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    pthread_mutex_init(&c->lock, NULL);
    init_direction(&c->up, c, c->client, c->server);
    init_direction(&c->down, c, c->server, c->client);
    pthread_t threads[4];
    pthread_create(&threads[0], NULL, read_side, &c->up);
    pthread_create(&threads[1], NULL, read_side, &c->down);
    pthread_create(&threads[2], NULL, writer, &c->up);
    pthread_create(&threads[3], NULL, writer, &c->down);
    pthread_join(threads[2], NULL);
    pthread_join(threads[3], NULL);
    /* Both writers are done: unblock the readers (a reader waits in recv or for room). */
    stop_direction(&c->up);
    stop_direction(&c->down);
    shutdown(c->client, SHUT_RDWR);
    shutdown(c->server, SHUT_RDWR);
    pthread_join(threads[0], NULL);
    pthread_join(threads[1], NULL);
    if (verbose)
        fprintf(stderr, "delay-proxy: connection %d closed: %lld bytes up, %lld bytes down\n", c->number,
                c->up.forwarded, c->down.forwarded);
    close(c->client);
    close(c->server);
    free_queue(&c->up);
    free_queue(&c->down);
    free(c);
    return NULL;
}

static int resolve(const char *text, const char *default_host, struct sockaddr_storage *out, socklen_t *length) {
    char host[256];
    const char *colon = strrchr(text, ':');
    const char *port = colon ? colon + 1 : text;
    if (colon) {
        size_t n = (size_t)(colon - text);
        if (n >= sizeof host) return -1;
        memcpy(host, text, n);
        host[n] = 0;
        if (n == 0) snprintf(host, sizeof host, "%s", default_host ? default_host : "");
    } else {
        if (!default_host) return -1;
        snprintf(host, sizeof host, "%s", default_host);
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *result;
    if (getaddrinfo(host, port, &hints, &result) != 0) return -1;
    memcpy(out, result->ai_addr, result->ai_addrlen);
    *length = result->ai_addrlen;
    freeaddrinfo(result);
    return 0;
}

static void usage(void) {
    fprintf(stderr, "usage: delay-proxy --listen [HOST:]PORT --connect HOST:PORT [--rtt-ms 30] [--verbose]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *listen_at = NULL, *connect_to = NULL;
    double rtt_ms = 30;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--listen") && i + 1 < argc) listen_at = argv[++i];
        else if (!strcmp(argv[i], "--connect") && i + 1 < argc) connect_to = argv[++i];
        else if (!strcmp(argv[i], "--rtt-ms") && i + 1 < argc) rtt_ms = atof(argv[++i]);
        else if (!strcmp(argv[i], "--verbose")) verbose = 1;
        else usage();
    }
    if (!listen_at || !connect_to || rtt_ms < 0) usage();
    delay_ns = (uint64_t)(rtt_ms * 1e6 / 2);
    struct sockaddr_storage local;
    socklen_t local_length;
    if (resolve(listen_at, "127.0.0.1", &local, &local_length) != 0) { fprintf(stderr, "delay-proxy: bad --listen %s\n", listen_at); return 2; }
    if (resolve(connect_to, NULL, &target, &target_length) != 0) { fprintf(stderr, "delay-proxy: bad --connect %s\n", connect_to); return 2; }
    signal(SIGPIPE, SIG_IGN);
    int listener = socket(local.ss_family, SOCK_STREAM, 0), one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener, (struct sockaddr *)&local, local_length) != 0 || listen(listener, 128) != 0) {
        fprintf(stderr, "delay-proxy: cannot listen on %s: %s\n", listen_at, strerror(errno));
        return 1;
    }
    fprintf(stderr, "delay-proxy: listening on %s -> %s, %.1f ms added round trip (%.1f ms each way)\n", listen_at,
            connect_to, rtt_ms, rtt_ms / 2);
    for (int number = 1;; number++) {
        int client = accept(listener, NULL, NULL);
        if (client < 0) {
            if (errno == EINTR) continue;
            perror("delay-proxy: accept");
            return 1;
        }
        struct connection *c = calloc(1, sizeof *c);
        if (!c) abort();
        c->client = client;
        c->number = number;
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        pthread_create(&thread, &attributes, handle, c);
        pthread_attr_destroy(&attributes);
    }
}
