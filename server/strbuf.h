/* strbuf.h — a growing NUL-terminated string for text built in pieces (a
 * scripted response, a family member's substituted strings). */
#ifndef WSR_STRBUF_H
#define WSR_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

/* After a failed allocation every add is a no-op and oom stays set, so
 * callers check once at the end. Zero-initialized is empty; free(p). */
typedef struct wsr_strbuf {
    char *p;
    size_t n, cap;
    bool oom;
} wsr_strbuf;

void wsr_sb_add(wsr_strbuf *b, const char *s, size_t n);
void wsr_sb_adds(wsr_strbuf *b, const char *s);

#endif
