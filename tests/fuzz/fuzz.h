/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/fuzz/: libFuzzer harnesses, one per parser of input that others write
 * (make fuzz), and the same harnesses built with a small main of their own that
 * replays the seed corpus and every input a fuzzer ever crashed on (make check,
 * tests/fuzz/regress/).
 */
#ifndef SNAPROTATE_FUZZ_H
#define SNAPROTATE_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* @data as a NUL-terminated string (a copy; free() it), NULL when it holds a NUL. */
char *fuzz_string(const uint8_t *data, size_t size);

#endif
