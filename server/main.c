/*
 * main.c — wsreplay-server: CLI, listener, signals.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <getopt.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "handoff.h"
#include "scenario.h"
#include "scenario_normal.h"
#include "server.h"
#include "session.h"

#ifndef WSR_VERSION
#define WSR_VERSION "0.0.0"
#endif

static const char usage[] =
    "usage: wsreplay-server --scenarios DIR [options]\n"
    "       wsreplay-server --check [--json] FILE...\n"
    "       wsreplay-server --check [--json] --scenarios DIR\n"
    "\n"
    "Replays scripted WebSocket server behaviours, byte for byte, to clients\n"
    "under test. A client connects to ws://HOST:PORT/<scenario>?run=<id>; the\n"
    "transcript of every session is served at GET /_runs/<id>.\n"
    "\n"
    "  --scenarios DIR          load every *.json under DIR (required)\n"
    "  --host ADDR              address to listen on (default 127.0.0.1)\n"
    "  --port N                 port, 0 picks a free one (default 0)\n"
    "  --tls-cert FILE          also serve wss:// with this PEM certificate\n"
    "                           (chain); needs --tls-key\n"
    "  --tls-key FILE           the PEM private key of --tls-cert\n"
    "  --tls-port N             the wss:// port, 0 picks a free one (default 0)\n"
    "  --handoff PATH           also take connections handed over by a front on\n"
    "                           a unix SOCK_SEQPACKET socket at PATH: per\n"
    "                           datagram one TCP socket (SCM_RIGHTS), its\n"
    "                           request unread, and the target to route it by\n"
    "  --transcripts DIR        also write each transcript to DIR/<run>-<n>.json\n"
    "                           (off the event loop; synced to disk when the\n"
    "                           server stops)\n"
    "  --linger-ms N            wait for the client's EOF after the steps (2000)\n"
    "  --handshake-timeout-ms N whole request head within N ms (10000)\n"
    "  --session-timeout-ms N   end any session after N ms (60000)\n"
    "  --ack-timeout-ms N       wait for a write group's ACK at most N ms (2000)\n"
    "  --max-frame BYTES        largest client frame payload (16777216)\n"
    "  --max-handshake BYTES    largest request head (8192)\n"
    "  --runs-max-bytes BYTES   finished transcripts kept for /_runs, in all\n"
    "                           (67108864; 0: this default)\n"
    "  --max-buffered BYTES     client payload held by all sessions together;\n"
    "                           the session that goes over it ends with reason\n"
    "                           limit (268435456; 0 = no cap)\n"
    "  --max-inflated BYTES     largest client message once inflated\n"
    "                           (permessage-deflate); over it the session ends\n"
    "                           with reason limit (67108864)\n"
    "  --deflate-at WHEN        when \"compress\": true items are deflated: auto\n"
    "                           (the default: at the write, unless a scenario's\n"
    "                           compressed messages total at most 1 MiB or a\n"
    "                           check needs their sizes), load (all at load),\n"
    "                           write (at the write when the checks allow); the\n"
    "                           bytes sent are the same\n"
    "  --check FILE...          validate scenario files and exit (0 = all valid,\n"
    "                           1 = some invalid, each error on stderr); with\n"
    "                           --scenarios DIR, the whole folder as the server\n"
    "                           would load it (names match places, no duplicates,\n"
    "                           at least one scenario); with FILE..., names are\n"
    "                           valid places and no two files share one\n"
    "  --json                   with --check: print the normalized form, one JSON\n"
    "                           document {\"scenarios\": [...]} sorted by name,\n"
    "                           each the file's object plus \"file\", the complete\n"
    "                           \"client\" knobs and \"budget_ms\" {steps, client,\n"
    "                           deadline}, and \"knob_defaults\"; nothing on\n"
    "                           stdout if any is invalid; with no FILE, the\n"
    "                           knob defaults alone\n"
    "  --version                print the version\n"
    "  -h, --help               this text\n"
    "\n"
    "When ready it prints one JSON line on stdout:\n"
    "  {\"event\":\"listening\",\"host\":...,\"port\":N,\"tls_port\":M|null,\n"
    "   \"scenarios\":K,...}\n"
    "Logs go to stderr. SIGINT/SIGTERM stop it cleanly. Exit 2 on bad\n"
    "arguments or scenarios.\n";

typedef struct options {
    const char *scenarios;
    const char *host;
    unsigned port;
    const char *tls_cert, *tls_key;
    const char *handoff; /* --handoff PATH */
    unsigned tls_port;
    bool check;
    bool json; /* --check prints the normalized form */
    wsr_config cfg;
} options;

static bool parse_number(const char *opt, const char *s, unsigned long max,
                         unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *s == '\0' || *end != '\0' || v > max || s[0] == '-') {
        fprintf(stderr, "wsreplay-server: %s: '%s' is not a number in 0..%lu\n",
                opt, s, max);
        return false;
    }
    *out = v;
    return true;
}

/* Returns -1 on error, 1 if the program should exit 0 (help, version). */
static int parse_args(int argc, char **argv, options *o)
{
    enum {
        O_LINGER = 256,
        O_HS_TIMEOUT,
        O_SESSION_TIMEOUT,
        O_ACK_TIMEOUT,
        O_MAX_FRAME,
        O_MAX_HS,
        O_MAX_BUFFERED,
        O_MAX_INFLATED,
        O_TRANSCRIPTS,
        O_CHECK,
        O_JSON,
        O_VERSION,
        O_TLS_CERT,
        O_TLS_KEY,
        O_TLS_PORT,
        O_RUNS_MAX_BYTES,
        O_HANDOFF,
        O_DEFLATE_AT
    };
    /* clang-format off */
    static const struct option longopts[] = {
        {"scenarios", required_argument, NULL, 's'},
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},
        {"transcripts", required_argument, NULL, O_TRANSCRIPTS},
        {"handoff", required_argument, NULL, O_HANDOFF},
        {"tls-cert", required_argument, NULL, O_TLS_CERT},
        {"tls-key", required_argument, NULL, O_TLS_KEY},
        {"tls-port", required_argument, NULL, O_TLS_PORT},
        {"linger-ms", required_argument, NULL, O_LINGER},
        {"handshake-timeout-ms", required_argument, NULL, O_HS_TIMEOUT},
        {"session-timeout-ms", required_argument, NULL, O_SESSION_TIMEOUT},
        {"ack-timeout-ms", required_argument, NULL, O_ACK_TIMEOUT},
        {"max-frame", required_argument, NULL, O_MAX_FRAME},
        {"max-handshake", required_argument, NULL, O_MAX_HS},
        {"runs-max-bytes", required_argument, NULL, O_RUNS_MAX_BYTES},
        {"max-buffered", required_argument, NULL, O_MAX_BUFFERED},
        {"max-inflated", required_argument, NULL, O_MAX_INFLATED},
        {"deflate-at", required_argument, NULL, O_DEFLATE_AT},
        {"check", no_argument, NULL, O_CHECK},
        {"json", no_argument, NULL, O_JSON},
        {"version", no_argument, NULL, O_VERSION},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    /* clang-format on */
    unsigned long v;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            o->scenarios = optarg;
            break;
        case 'H':
            o->host = optarg;
            break;
        case 'p':
            if (!parse_number("--port", optarg, 65535, &v))
                return -1;
            o->port = (unsigned)v;
            break;
        case O_HANDOFF:
            o->handoff = optarg;
            break;
        case O_TRANSCRIPTS:
            o->cfg.transcript_dir = optarg;
            break;
        case O_TLS_CERT:
            o->tls_cert = optarg;
            break;
        case O_TLS_KEY:
            o->tls_key = optarg;
            break;
        case O_TLS_PORT:
            if (!parse_number("--tls-port", optarg, 65535, &v))
                return -1;
            o->tls_port = (unsigned)v;
            break;
        case O_LINGER:
            if (!parse_number("--linger-ms", optarg, 600000, &v))
                return -1;
            o->cfg.linger_ms = (unsigned)v;
            break;
        case O_HS_TIMEOUT:
            if (!parse_number("--handshake-timeout-ms", optarg, 600000, &v))
                return -1;
            o->cfg.handshake_timeout_ms = (unsigned)v;
            break;
        case O_SESSION_TIMEOUT:
            if (!parse_number("--session-timeout-ms", optarg, 3600000, &v))
                return -1;
            o->cfg.session_timeout_ms = (unsigned)v;
            break;
        case O_ACK_TIMEOUT:
            if (!parse_number("--ack-timeout-ms", optarg, 600000, &v))
                return -1;
            o->cfg.ack_timeout_ms = (unsigned)v;
            break;
        case O_MAX_FRAME:
            if (!parse_number("--max-frame", optarg, 1ul << 30, &v))
                return -1;
            o->cfg.max_frame = v;
            break;
        case O_MAX_HS:
            if (!parse_number("--max-handshake", optarg, 1ul << 20, &v))
                return -1;
            o->cfg.max_handshake = v;
            break;
        case O_RUNS_MAX_BYTES:
            if (!parse_number("--runs-max-bytes", optarg, 1ul << 40, &v))
                return -1;
            o->cfg.runs_max_bytes = v;
            break;
        case O_MAX_BUFFERED:
            if (!parse_number("--max-buffered", optarg, (unsigned long)SIZE_MAX,
                              &v))
                return -1;
            o->cfg.max_buffered = v;
            break;
        case O_MAX_INFLATED:
            if (!parse_number("--max-inflated", optarg, 1ul << 30, &v))
                return -1;
            if (v == 0) {
                fputs("wsreplay-server: --max-inflated must be at least 1\n",
                      stderr);
                return -1;
            }
            o->cfg.max_inflated = v;
            break;
        case O_DEFLATE_AT:
            if (strcmp(optarg, "auto") == 0)
                wsr_scenario_deflate_when(WSR_DEFLATE_WHEN_AUTO);
            else if (strcmp(optarg, "load") == 0)
                wsr_scenario_deflate_when(WSR_DEFLATE_WHEN_LOAD);
            else if (strcmp(optarg, "write") == 0)
                wsr_scenario_deflate_when(WSR_DEFLATE_WHEN_WRITE);
            else {
                fprintf(stderr,
                        "wsreplay-server: --deflate-at: '%s' is not auto, "
                        "load or write\n",
                        optarg);
                return -1;
            }
            break;
        case O_CHECK:
            o->check = true;
            break;
        case O_JSON:
            o->json = true;
            break;
        case O_VERSION:
            printf("wsreplay-server %s\n", WSR_VERSION);
            return 1;
        case 'h':
            fputs(usage, stdout);
            return 1;
        default:
            fputs("wsreplay-server: see --help\n", stderr);
            return -1;
        }
    }
    if (o->json && !o->check) {
        fputs("wsreplay-server: --json goes with --check\n", stderr);
        return -1;
    }
    if (!o->check && !o->scenarios) {
        fputs("wsreplay-server: --scenarios DIR is required (see --help)\n",
              stderr);
        return -1;
    }
    if (!o->tls_cert != !o->tls_key) {
        fputs("wsreplay-server: --tls-cert and --tls-key go together\n",
              stderr);
        return -1;
    }
    if (!o->check && optind < argc) {
        fprintf(stderr, "wsreplay-server: unexpected argument '%s'\n",
                argv[optind]);
        return -1;
    }
    return 0;
}

static void print_ok(const wsr_scenario *sc)
{
    printf("ok %s (%s, %zu steps)\n", sc->path, sc->name, sc->n_steps);
}

/* Loads every file into set, each error on stderr; returns how many failed.
 * text: say "ok" for each valid one as it is loaded. */
static int load_files(int argc, char **argv, wsr_scenario_set *set, bool text)
{
    int bad = 0;
    for (int i = 0; i < argc; i++) {
        char err[1024];
        size_t first = set->n;
        if (wsr_scenario_load_file_into(set, argv[i], NULL, err, sizeof err) !=
            0) {
            fprintf(stderr, "%s\n", err);
            bad++;
            continue;
        }
        for (size_t k = first; text && k < set->n; k++)
            print_ok(set->v[k]);
    }
    return bad;
}

/* The check mode's scenarios: the files, or the folder as the server loads
 * it. Returns 0, 1 if any is invalid (said on stderr), 2 on bad arguments. */
static int load_checked(const options *o, int argc, char **argv,
                        wsr_scenario_set *set)
{
    char err[1024];
    set->v = NULL;
    set->n = 0;
    if (o->scenarios && argc > 0) {
        fputs("wsreplay-server: --check takes FILE... or --scenarios DIR, "
              "not both\n",
              stderr);
        return 2;
    }
    if (o->scenarios) {
        if (wsr_scenario_set_load(set, o->scenarios, err, sizeof err) == 0)
            return 0;
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (argc == 0 && o->json)
        return 0; /* no scenario: the document holds the knob defaults alone */
    if (argc == 0) {
        fputs("wsreplay-server: --check needs at least one FILE\n", stderr);
        return 2;
    }
    if (load_files(argc, argv, set, !o->json) != 0) {
        wsr_scenario_set_free(set);
        return 1;
    }
    /* A list of files has no places to match, but the rest of the folder
     * rules hold (the name's syntax, checked by the loader): two files must
     * not claim one name, or the server would refuse them together. */
    if (wsr_scenario_set_seal(set, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    return 0;
}

/* --check: exit 0 if every scenario is valid, 1 if not, 2 on bad arguments.
 * With --json, stdout gets the normalized form and nothing else. */
static int check_mode(const options *o, int argc, char **argv)
{
    wsr_scenario_set set;
    int rc = load_checked(o, argc, argv, &set);
    if (rc != 0)
        return rc;
    if (!o->json) {
        for (size_t i = 0; o->scenarios && i < set.n; i++)
            print_ok(set.v[i]);
    } else {
        json_t *normal = wsr_scenario_set_normal(&set);
        if (!normal || json_dumpf(normal, stdout, JSON_INDENT(2)) != 0) {
            fputs("wsreplay-server: out of memory\n", stderr);
            rc = 2;
        } else {
            putchar('\n');
        }
        json_decref(normal);
    }
    wsr_scenario_set_free(&set);
    return rc;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    fprintf(stderr, "wsreplay-server: signal %d, stopping\n", (int)sig);
    event_base_loopexit(arg, NULL);
}

/* What a listener hands to the sessions it accepts. */
typedef struct listener_ctx {
    wsr_server *srv;
    SSL_CTX *tls; /* NULL: plain ws:// */
} listener_ctx;

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
                      struct sockaddr *addr, int len, void *arg)
{
    listener_ctx *lc = arg;
    (void)l;
    if (wsr_session_start(lc->srv, fd, addr, len, lc->tls) != 0)
        fputs("wsreplay-server: cannot start a session (out of memory)\n",
              stderr);
}

/* The TLS context of the wss:// listener; NULL (after saying why, naming
 * the file) if the certificate or key cannot be used. */
static SSL_CTX *tls_context(const char *cert, const char *key)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    const char *bad = NULL, *what = NULL;
    if (!ctx) {
        bad = "TLS";
        what = "cannot create the TLS context";
    } else if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        bad = cert;
        what = "not a usable PEM certificate";
    } else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        bad = key;
        what = "not a usable PEM private key";
    } else if (SSL_CTX_check_private_key(ctx) != 1) {
        bad = key;
        what = "does not match the certificate";
    }
    if (bad) {
        char detail[256];
        ERR_error_string_n(ERR_get_error(), detail, sizeof detail);
        fprintf(stderr, "wsreplay-server: %s: %s (%s)\n", bad, what, detail);
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Partial writes let libevent hand over records as the socket takes them. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return ctx;
}

static void resume_listener(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    evconnlistener_enable(arg);
}

/* Running out of descriptors must not stop the listener for good, nor make
 * it spin: the pending connection stays readable, so libevent would call
 * back at once, forever (seen: 900,000 log lines in 3 s under a low
 * RLIMIT_NOFILE). The listener rests a second, and the clients wait in the
 * backlog until sessions end and free descriptors. */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
    (void)arg;
    int err = EVUTIL_SOCKET_ERROR();
    fprintf(stderr, "wsreplay-server: accept: %s; resting a second\n",
            evutil_socket_error_to_string(err));
    struct timeval second = {1, 0};
    evconnlistener_disable(l);
    if (event_base_once(evconnlistener_get_base(l), -1, EV_TIMEOUT,
                        resume_listener, l, &second) != 0)
        evconnlistener_enable(l); /* no timer: spinning beats going deaf */
}

static struct evconnlistener *listen_on(struct event_base *base,
                                        listener_ctx *lc, const options *o,
                                        unsigned want_port, unsigned *port)
{
    struct sockaddr_storage ss;
    int sslen;
    char spec[300];
    snprintf(spec, sizeof spec, strchr(o->host, ':') ? "[%s]:%u" : "%s:%u",
             o->host, want_port);
    memset(&ss, 0, sizeof ss);
    /* inet_pton, not evutil_parse_sockaddr_port: that one refuses port 0. */
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, o->host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)want_port);
        sslen = sizeof *sin;
    } else if (inet_pton(AF_INET6, o->host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)want_port);
        sslen = sizeof *sin6;
    } else {
        fprintf(stderr,
                "wsreplay-server: --host: '%s' is not an IPv4 or IPv6 "
                "address\n",
                o->host);
        return NULL;
    }
    struct evconnlistener *l = evconnlistener_new_bind(
        base, on_accept, lc, LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE, 128,
        (struct sockaddr *)&ss, sslen);
    if (!l) {
        int err = EVUTIL_SOCKET_ERROR();
        fprintf(stderr, "wsreplay-server: cannot listen on %s: %s\n", spec,
                evutil_socket_error_to_string(err));
        return NULL;
    }
    evconnlistener_set_error_cb(l, on_accept_error);
    socklen_t alen = sizeof ss;
    getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss, &alen);
    *port =
        ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                       : ((struct sockaddr_in *)&ss)->sin_port);
    return l;
}

static int serve(options *o)
{
    char err[1024];
    wsr_scenario_set set;
    if (wsr_scenario_set_load(&set, o->scenarios, err, sizeof err) != 0) {
        fprintf(stderr, "wsreplay-server: %s\n", err);
        return 2;
    }
    struct stat st;
    if (o->cfg.transcript_dir &&
        (stat(o->cfg.transcript_dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
        fprintf(stderr,
                "wsreplay-server: --transcripts: '%s' is not a directory\n",
                o->cfg.transcript_dir);
        wsr_scenario_set_free(&set);
        return 2;
    }
    int rc = 2;
    unsigned port = 0, tls_port = 0;
    wsr_server srv;
    SSL_CTX *tls = NULL;
    struct event_base *base = NULL;
    struct evconnlistener *l = NULL, *tl = NULL;
    wsr_handoff *handoff = NULL;
    struct event *sigint = NULL, *sigterm = NULL;
    if (o->tls_cert && !(tls = tls_context(o->tls_cert, o->tls_key)))
        goto out;
    base = event_base_new();
    if (!base) {
        fputs("wsreplay-server: cannot create the event base\n", stderr);
        goto out;
    }
    wsr_server_init(&srv, base, &o->cfg, &set);
    if (wsr_server_start_writer(&srv) != 0) {
        fprintf(stderr,
                "wsreplay-server: cannot start the transcript "
                "writer: %s\n",
                strerror(errno));
        goto out_server;
    }
    listener_ctx plain = {&srv, NULL}, secure = {&srv, tls};
    l = listen_on(base, &plain, o, o->port, &port);
    if (l && tls)
        tl = listen_on(base, &secure, o, o->tls_port, &tls_port);
    if (l && o->handoff &&
        !(handoff = wsr_handoff_new(&srv, o->handoff, err, sizeof err))) {
        fprintf(stderr, "wsreplay-server: %s\n", err);
        goto out_server;
    }
    sigint = evsignal_new(base, SIGINT, on_signal, base);
    sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    if (!l || (tls && !tl) || !sigint || !sigterm ||
        evsignal_add(sigint, NULL) != 0 || evsignal_add(sigterm, NULL) != 0)
        goto out_server;
    char tls_port_text[16] = "null";
    if (tl)
        snprintf(tls_port_text, sizeof tls_port_text, "%u", tls_port);
    printf("{\"event\":\"listening\",\"host\":\"%s\",\"port\":%u,"
           "\"tls_port\":%s,\"scenarios\":%zu,\"version\":\"%s\"}\n",
           o->host, port, tls_port_text, set.n, WSR_VERSION);
    fflush(stdout);
    fprintf(stderr,
            "wsreplay-server %s: %zu scenarios from %s, listening on "
            "%s port %u\n",
            WSR_VERSION, set.n, o->scenarios, o->host, port);
    event_base_dispatch(base);
    fprintf(stderr, "wsreplay-server: served %lu sessions\n",
            srv.sessions_total);
    rc = 0;
out_server:
    /* Teardown in reverse order of construction. */
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    wsr_handoff_del(handoff);
    if (tl)
        evconnlistener_free(tl);
    if (l)
        evconnlistener_free(l);
    wsr_server_free(&srv);
    event_base_free(base);
out:
    SSL_CTX_free(tls);
    wsr_scenario_set_free(&set);
    return rc;
}

int main(int argc, char **argv)
{
    options o = {
        .host = "127.0.0.1",
        .cfg =
            {
                .linger_ms = 2000,
                .handshake_timeout_ms = 10000,
                .session_timeout_ms = 60000,
                .ack_timeout_ms = 2000,
                .max_frame = 16u * 1024u * 1024u,
                .max_handshake = 8192,
                .max_output = 64u * 1024u * 1024u,
                .max_buffered = 256u * 1024u * 1024u,
                .max_inflated = WSR_MAX_INFLATED_DEFAULT,
            },
    };
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 2 : 0;
    o.cfg.max_message = o.cfg.max_frame * 4;
    /* A client that vanishes mid-write must cost an EPIPE, not the process. */
    signal(SIGPIPE, SIG_IGN);
    if (o.check)
        return check_mode(&o, argc - optind, argv + optind);
    return serve(&o);
}
