/* bareserver — the least a server can do for one scenario, for bench/.
 *
 *   bareserver ANSWER_FILE     listens on 127.0.0.1, port 0
 *
 * Per connection: read the request head, write ANSWER_FILE in one send()
 * (the 101 and the frames wsreplay-server sent for the same request,
 * captured once by `loadclient capture`), read the client's close frame,
 * send FIN, close. No parsing beyond finding the ends, no transcript, no
 * timers: the floor that wsreplay-server is compared against.
 *
 * Prints {"event":"listening","port":N} on stdout when ready; SIGTERM ends it.
 * epoll, one thread, like wsreplay-server's one libevent loop.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define IN_MAX 4096

enum phase { PH_HEAD, PH_CLOSE };

struct conn {
    int fd;
    enum phase phase;
    size_t in_len;
    unsigned char in[IN_MAX];
};

static unsigned char *answer;
static size_t answer_len;
static volatile sig_atomic_t stopping;

static void die(const char *what)
{
    perror(what);
    exit(2);
}

static void on_term(int sig)
{
    (void)sig;
    stopping = 1;
}

static void load_answer(const char *file)
{
    FILE *f = fopen(file, "rb");
    if (f == NULL)
        die(file);
    answer = malloc(IN_MAX);
    if (answer == NULL)
        die("malloc");
    answer_len = fread(answer, 1, IN_MAX, f);
    fclose(f);
    if (answer_len == 0) {
        fprintf(stderr, "bareserver: %s is empty\n", file);
        exit(2);
    }
}

static int listen_loopback(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
        die("bind");
    if (listen(fd, 4096) < 0)
        die("listen");
    socklen_t len = sizeof addr;
    getsockname(fd, (struct sockaddr *)&addr, &len);
    printf("{\"event\": \"listening\", \"port\": %d}\n", ntohs(addr.sin_port));
    fflush(stdout);
    return fd;
}

/* Is there a whole (masked) client frame with opcode close in buf? */
static int has_close_frame(const unsigned char *p, size_t len)
{
    size_t off = 0;
    while (off + 2 <= len) {
        uint64_t plen = p[off + 1] & 0x7f;
        size_t hdr = 2 + ((p[off + 1] & 0x80) ? 4 : 0);
        if (plen >= 126)
            return -1; /* the load client's frames are small */
        if (off + hdr + plen > len)
            return 0;
        if ((p[off] & 0x0f) == 8)
            return 1;
        off += hdr + (size_t)plen;
    }
    return 0;
}

static void conn_free(struct conn *c)
{
    close(c->fd);
    free(c);
}

static void accept_all(int lfd, int epfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or EMFILE: try again on the next event */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        if (c == NULL)
            die("calloc");
        c->fd = fd;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
            die("epoll_ctl");
    }
}

/* Input on a connection: 1 keep it, 0 free it. */
static int conn_input(struct conn *c)
{
    for (;;) {
        size_t room = IN_MAX - c->in_len;
        if (room == 0)
            return 0;
        ssize_t n = recv(c->fd, c->in + c->in_len, room, 0);
        if (n == 0)
            return 0; /* the client went away early */
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            return 0;
        }
        c->in_len += (size_t)n;
    }
    if (c->phase == PH_HEAD) {
        unsigned char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
        if (end == NULL)
            return 1;
        /* The answer is small: the socket buffer takes it in one send(). */
        if (send(c->fd, answer, answer_len, MSG_NOSIGNAL) != (ssize_t)answer_len)
            return 0;
        size_t rest = c->in_len - (size_t)(end + 4 - c->in);
        memmove(c->in, end + 4, rest);
        c->in_len = rest;
        c->phase = PH_CLOSE;
    }
    int r = has_close_frame(c->in, c->in_len);
    if (r == 0)
        return 1;
    if (r > 0)
        shutdown(c->fd, SHUT_WR); /* FIN; close() follows at once */
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: bareserver ANSWER_FILE\n");
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    signal(SIGPIPE, SIG_IGN);
    load_answer(argv[1]);
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        die("epoll_create1");
    int lfd = listen_loopback();
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev);
    struct epoll_event evs[256];
    while (!stopping) {
        int n = epoll_wait(epfd, evs, 256, 200);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c == NULL)
                accept_all(lfd, epfd);
            else if (!conn_input(c))
                conn_free(c);
        }
    }
    close(lfd);
    return 0;
}
