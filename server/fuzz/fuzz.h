/*
 * fuzz.h — the one entry point every fuzz target defines (libFuzzer's).
 *
 * Each fuzz_*.c is linked either with libFuzzer (-Dfuzzers=true, clang) or
 * with replay.c, which feeds it the checked-in corpus in ordinary tests.
 */
#ifndef WSR_FUZZ_H
#define WSR_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
