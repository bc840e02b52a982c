/*
 * handoff.c — connections handed over by a front on a unix socket
 * (handoff.h): the listener, its peers, and the checks on each datagram.
 *
 * SOCK_SEQPACKET keeps each datagram whole and ordered, so one datagram is
 * one connection and a target never arrives cut. Every descriptor that
 * comes in is either given to a session or closed here, whatever the
 * datagram looks like: a front that misbehaves costs a log line, never a
 * leaked descriptor or the server.
 */
#include "handoff.h"

#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "session.h"

/* The most descriptors one datagram is read with; more are a broken
 * datagram all the same, and the kernel closes what does not fit. */
#define MAX_FDS 8
/* At most this many fronts connected at once. */
#define MAX_PEERS 16

typedef struct peer {
    struct wsr_handoff *h;
    struct peer *next;
    int fd;
    struct event *ev;
    unsigned long datagrams; /* for the log: which one was bad */
} peer;

struct wsr_handoff {
    wsr_server *srv;
    char *path; /* unlinked at the end */
    int fd;     /* the listening socket */
    struct event *ev;
    struct event *resume; /* out of descriptors: accept again later */
    peer *peers;
    size_t n_peers;
};

static void accept_cb(evutil_socket_t fd, short what, void *arg);
static void peer_cb(evutil_socket_t fd, short what, void *arg);
static void resume_cb(evutil_socket_t fd, short what, void *arg);

bool wsr_handoff_target_ok(const char *p, size_t len, const char **why)
{
    if (len == 0) {
        *why = "an empty target";
        return false;
    }
    if (len > WSR_HANDOFF_TARGET_MAX) {
        *why = "a target longer than 2048 bytes";
        return false;
    }
    if (p[0] != '/') {
        *why = "a target that does not start with '/'";
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c <= 0x20 || c >= 0x7f) {
            *why = "a target with a byte that is not visible ASCII";
            return false;
        }
    }
    return true;
}

/* ---- peers ------------------------------------------------------------- */

static void peer_free(peer *pr)
{
    wsr_handoff *h = pr->h;
    for (peer **pp = &h->peers; *pp; pp = &(*pp)->next) {
        if (*pp == pr) {
            *pp = pr->next;
            break;
        }
    }
    h->n_peers--;
    event_free(pr->ev);
    close(pr->fd);
    free(pr);
}

static void close_all(const int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        close(fds[i]);
}

/* The descriptors of msg's SCM_RIGHTS messages, at most MAX_FDS, into fds;
 * returns how many. */
static size_t take_fds(struct msghdr *msg, int *fds)
{
    size_t n = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k && n < MAX_FDS; i++)
            memcpy(&fds[n++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
    return n;
}

/* Whether fd is a connected TCP socket (its peer's address in *ss); else
 * *why says what it is. */
static bool tcp_connection(int fd, struct sockaddr_storage *ss, socklen_t *len,
                           const char **why)
{
    int type = 0;
    socklen_t tlen = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0) {
        *why = "a descriptor that is not a socket";
        return false;
    }
    *len = sizeof *ss;
    if (type != SOCK_STREAM ||
        getsockname(fd, (struct sockaddr *)ss, len) != 0 ||
        (ss->ss_family != AF_INET && ss->ss_family != AF_INET6)) {
        *why = "a socket that is not TCP";
        return false;
    }
    *len = sizeof *ss;
    if (getpeername(fd, (struct sockaddr *)ss, len) != 0) {
        *why = "a TCP socket that is not connected";
        return false;
    }
    return true;
}

/* One datagram: a descriptor and a target, or a log line. */
static void on_datagram(peer *pr, const char *target, size_t len, int flags,
                        const int *fds, size_t n_fds)
{
    const char *why = NULL;
    struct sockaddr_storage ss;
    socklen_t sslen;
    pr->datagrams++;
    if (flags & MSG_CTRUNC)
        why = "descriptors cut off: more than one, or the server is out of "
              "descriptors";
    else if (n_fds != 1)
        why = n_fds ? "more descriptors than one" : "no descriptor";
    else if (flags & MSG_TRUNC)
        why = "a target longer than 2048 bytes";
    else if (wsr_handoff_target_ok(target, len, &why))
        tcp_connection(fds[0], &ss, &sslen, &why); /* why stays NULL if so */
    if (why) {
        fprintf(stderr,
                "wsreplay-server: handoff: datagram %lu refused (%s); "
                "%zu descriptor%s closed\n",
                pr->datagrams, why, n_fds, n_fds == 1 ? "" : "s");
        close_all(fds, n_fds);
        return;
    }
    /* target is NUL-terminated by the reader. */
    if (wsr_session_start_routed(pr->h->srv, fds[0], (struct sockaddr *)&ss,
                                 target) != 0)
        fputs("wsreplay-server: cannot start a handed-over session (out of "
              "memory)\n",
              stderr);
}

static void peer_cb(evutil_socket_t fd, short what, void *arg)
{
    peer *pr = arg;
    char target[WSR_HANDOFF_TARGET_MAX + 1];
    union {
        char buf[CMSG_SPACE(MAX_FDS * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {target, WSR_HANDOFF_TARGET_MAX};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = ctl.buf,
                         .msg_controllen = sizeof ctl.buf};
    (void)what;
    ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    int fds[MAX_FDS];
    size_t n_fds = n >= 0 ? take_fds(&msg, fds) : 0;
    /* A read of 0 bytes with no descriptor is the front's EOF (an empty
     * datagram cannot be told from it, and carries nothing anyway). */
    if (n < 0 || (n == 0 && n_fds == 0 && !(msg.msg_flags & MSG_CTRUNC))) {
        if (n < 0)
            fprintf(stderr, "wsreplay-server: handoff: peer: %s\n",
                    strerror(errno));
        peer_free(pr);
        return;
    }
    target[n] = '\0';
    on_datagram(pr, target, (size_t)n, msg.msg_flags, fds, n_fds);
}

static void accept_cb(evutil_socket_t fd, short what, void *arg)
{
    wsr_handoff *h = arg;
    (void)what;
    int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        /* Out of descriptors, say: the front stays in the backlog, and the
         * listener rests a second rather than spin on it. */
        fprintf(stderr, "wsreplay-server: handoff: accept: %s\n",
                strerror(errno));
        struct timeval second = {1, 0};
        event_del(h->ev);
        evtimer_add(h->resume, &second);
        return;
    }
    if (h->n_peers >= MAX_PEERS) {
        fprintf(stderr,
                "wsreplay-server: handoff: %d fronts connected already; "
                "refused one more\n",
                MAX_PEERS);
        close(c);
        return;
    }
    peer *pr = calloc(1, sizeof *pr);
    if (pr)
        pr->ev = event_new(h->srv->base, c, EV_READ | EV_PERSIST, peer_cb, pr);
    if (!pr || !pr->ev || event_add(pr->ev, NULL) != 0) {
        fputs("wsreplay-server: handoff: cannot take a front (out of "
              "memory)\n",
              stderr);
        if (pr && pr->ev)
            event_free(pr->ev);
        free(pr);
        close(c);
        return;
    }
    pr->h = h;
    pr->fd = c;
    pr->next = h->peers;
    h->peers = pr;
    h->n_peers++;
}

/* ---- the listener ------------------------------------------------------ */

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    wsr_handoff *h = arg;
    (void)fd;
    (void)what;
    event_add(h->ev, NULL);
}

/* Whether a server still listens on the socket at sun. */
static bool in_use(const struct sockaddr_un *sun)
{
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    bool live =
        fd >= 0 && connect(fd, (const struct sockaddr *)sun, sizeof *sun) == 0;
    if (fd >= 0)
        close(fd);
    return live;
}

/* Removes what a server before left at sun's path: a socket file that no
 * server listens on any more, and nothing else. */
static int remove_stale(const struct sockaddr_un *sun, char *err, size_t cap)
{
    const char *path = sun->sun_path;
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, cap, "--handoff: '%s' exists and is not a socket", path);
        return -1;
    }
    if (in_use(sun)) {
        snprintf(err, cap, "--handoff: '%s' is in use by a running server",
                 path);
        return -1;
    }
    if (unlink(path) != 0) {
        snprintf(err, cap, "--handoff: cannot remove the stale socket '%s': %s",
                 path, strerror(errno));
        return -1;
    }
    return 0;
}

wsr_handoff *wsr_handoff_new(wsr_server *srv, const char *path, char *err,
                             size_t cap)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sun.sun_path) {
        snprintf(err, cap, "--handoff: the path is longer than %zu bytes",
                 sizeof sun.sun_path - 1);
        return NULL;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    err[0] = '\0';
    if (remove_stale(&sun, err, cap) != 0) {
        if (!err[0])
            snprintf(err, cap, "--handoff: '%s': %s", path, strerror(errno));
        return NULL;
    }
    wsr_handoff *h = calloc(1, sizeof *h);
    if (!h || !(h->path = strdup(path))) {
        snprintf(err, cap, "--handoff: out of memory");
        free(h);
        return NULL;
    }
    h->srv = srv;
    h->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (h->fd < 0 || bind(h->fd, (struct sockaddr *)&sun, sizeof sun) != 0 ||
        listen(h->fd, 8) != 0) {
        snprintf(err, cap, "--handoff: cannot listen on '%s': %s", path,
                 strerror(errno));
        if (h->fd >= 0)
            close(h->fd);
        free(h->path);
        free(h);
        return NULL;
    }
    h->ev = event_new(srv->base, h->fd, EV_READ | EV_PERSIST, accept_cb, h);
    h->resume = evtimer_new(srv->base, resume_cb, h);
    if (!h->ev || !h->resume || event_add(h->ev, NULL) != 0) {
        snprintf(err, cap, "--handoff: out of memory");
        wsr_handoff_del(h);
        return NULL;
    }
    return h;
}

void wsr_handoff_del(wsr_handoff *h)
{
    if (!h)
        return;
    while (h->peers)
        peer_free(h->peers);
    if (h->resume)
        event_free(h->resume);
    if (h->ev)
        event_free(h->ev);
    close(h->fd);
    unlink(h->path);
    free(h->path);
    free(h);
}
