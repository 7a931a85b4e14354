/* Filling weir_error: the one way a human message leaves the library. */
#ifndef WEIR_CORE_ERROR_H
#define WEIR_CORE_ERROR_H
#include "weir/weir.h"

/* Set err (may be NULL) to code + formatted message; returns code. */
int weir__error(weir_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Append formatted text to err->message (truncating with "..."). */
void weir__error_append(weir_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void weir__error_clear(weir_error *err);

#endif
