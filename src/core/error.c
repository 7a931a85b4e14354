#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *weir_strerror(int code) {
    switch (code) {
    case WEIR_OK: return "success";
#define X(name, value, desc) \
    case WEIR_E##name: return desc;
        WEIR_ERRORS(X)
#undef X
    default: return "unknown error";
    }
}

const char *weir_errname(int code) {
    switch (code) {
    case WEIR_OK: return "WEIR_OK";
#define X(name, value, desc) \
    case WEIR_E##name: return "WEIR_E" #name;
        WEIR_ERRORS(X)
#undef X
    default: return "WEIR_E?";
    }
}

static void mark_truncated(weir_error *err, size_t wanted) {
    if (wanted >= sizeof err->message) memcpy(err->message + sizeof err->message - 4, "...", 4);
}

void weir__error_clear(weir_error *err) {
    if (!err) return;
    err->code = 0;
    err->message[0] = '\0';
}

int weir__error(weir_error *err, int code, const char *fmt, ...) {
    if (!err) return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    if (n < 0) err->message[0] = '\0';
    else mark_truncated(err, (size_t)n);
    return code;
}

void weir__error_append(weir_error *err, const char *fmt, ...) {
    if (!err) return;
    size_t len = strlen(err->message);
    if (len + 1 >= sizeof err->message) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->message + len, sizeof err->message - len, fmt, ap);
    va_end(ap);
    if (n > 0) mark_truncated(err, len + (size_t)n);
}
