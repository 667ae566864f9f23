/**
 * @file utf8.h
 * @brief UTF-8 as jansson accepts it, for code that checks or writes JSON
 *        text without building jansson values (the sink's message scan, the
 *        api's JSON writer).
 */
#ifndef WW_UTF8_H
#define WW_UTF8_H

/**
 * @brief The length of the UTF-8 sequence at \p s (a byte >= 0x80, before
 *        \p end), or 0 if jansson would refuse it: RFC 3629 allows no
 *        overlong form, no surrogate (U+D800..U+DFFF) and nothing past
 *        U+10FFFF; a sequence cut short fails on its missing continuation bytes.
 */
int ww_utf8_len(const char *s, const char *end);

#endif /* WW_UTF8_H */
