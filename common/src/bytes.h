/* bytes.h: private to libwindwatch. Comparing short byte runs on hot paths. */
#ifndef WW_BYTES_H
#define WW_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/**
 * Whether the \p n bytes at \p a and \p b are equal. For n >= 4 both runs
 * are read as two overlapping words, first and last, which never reads
 * outside either run: a field name or an id costs a few loads, not a call
 * to memcmp.
 */
static inline int ww__bytes_eq(const char *a, const char *b, size_t n) {
  if (n >= 8) {
    uint64_t a0, b0, a1, b1;
    if (n > 16)
      return memcmp(a, b, n) == 0;
    memcpy(&a0, a, 8);
    memcpy(&b0, b, 8);
    memcpy(&a1, a + n - 8, 8);
    memcpy(&b1, b + n - 8, 8);
    return a0 == b0 && a1 == b1;
  }
  if (n >= 4) {
    uint32_t a0, b0, a1, b1;
    memcpy(&a0, a, 4);
    memcpy(&b0, b, 4);
    memcpy(&a1, a + n - 4, 4);
    memcpy(&b1, b + n - 4, 4);
    return a0 == b0 && a1 == b1;
  }
  for (size_t i = 0; i < n; i++)
    if (a[i] != b[i])
      return 0;
  return 1;
}

#endif /* WW_BYTES_H */
