/* utf8.c: UTF-8 sequences as jansson accepts them (see utf8.h). */
#include "windwatch/utf8.h"

int ww_utf8_len(const char *s, const char *end) {
  const unsigned char *p = (const unsigned char *)s;
  unsigned char lo = 0x80, hi = 0xBF; /* the second byte's range */
  int n;
  if (p[0] >= 0xC2 && p[0] <= 0xDF)
    n = 2;
  else if (p[0] >= 0xE0 && p[0] <= 0xEF)
    n = 3;
  else if (p[0] >= 0xF0 && p[0] <= 0xF4)
    n = 4;
  else
    return 0; /* a stray continuation byte, an overlong C0/C1, or F5..FF */
  if (p[0] == 0xE0)
    lo = 0xA0; /* below U+0800: overlong */
  else if (p[0] == 0xED)
    hi = 0x9F; /* U+D800..U+DFFF: a surrogate */
  else if (p[0] == 0xF0)
    lo = 0x90; /* below U+10000: overlong */
  else if (p[0] == 0xF4)
    hi = 0x8F; /* past U+10FFFF */
  if (end - s < n || p[1] < lo || p[1] > hi)
    return 0;
  for (int i = 2; i < n; i++)
    if ((p[i] & 0xC0) != 0x80)
      return 0;
  return n;
}
