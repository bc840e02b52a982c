/*
 * check.h — the few macros the C unit tests share.
 *
 * Each test program defines nothing itself: it includes this header once,
 * sets `current` to the table row it runs, and returns
 * check_summary("name") from main. A failed check prints file:line and the
 * row, and the program goes on, so one run shows every failure.
 */
#ifndef WSR_TEST_CHECK_H
#define WSR_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static int checks, failures;
static const char *current = ""; /* the table row being run, for messages */

#define CHECK(cond)                                                            \
    do {                                                                       \
        checks++;                                                              \
        if (!(cond)) {                                                         \
            failures++;                                                        \
            fprintf(stderr, "%s:%d: [%s] check failed: %s\n", __FILE__,        \
                    __LINE__, current, #cond);                                 \
        }                                                                      \
    } while (0)

#define CHECK_EQ(a, b)                                                         \
    do {                                                                       \
        long long a_ = (long long)(a), b_ = (long long)(b);                    \
        checks++;                                                              \
        if (a_ != b_) {                                                        \
            failures++;                                                        \
            fprintf(stderr, "%s:%d: [%s] %s == %lld, expected %s == %lld\n",   \
                    __FILE__, __LINE__, current, #a, a_, #b, b_);              \
        }                                                                      \
    } while (0)

/* Tests do not test the C library: an allocation failure ends the run. */
static inline void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* Prints "NAME: N checks, M failed" and returns the exit status. */
static inline int check_summary(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, checks, failures);
    return failures ? 1 : 0;
}

#endif
