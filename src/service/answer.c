/*
 * The size of an inject's answer: a bounded walk over what would be
 * written out, and the answer's outputs and trace kept or left out by it.
 */
#include "service/answer.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Bytes of a string written out as JSON by jansson 2.14 (quotes included,
 * no JSON_ENSURE_ASCII): '"' and '\\' and \b \f \n \r \t take two bytes,
 * other control characters six (\u00XX).  Stops once total would pass limit. */
static size_t string_size(const char *p, size_t n, size_t total, size_t limit) {
    size_t size = n + 2;
    if (total + size > limit) return size; /* over on its bytes alone: no scan */
    for (size_t i = 0; i < n; i++) {
        /* eight plain bytes at a time: none below 0x20, none '"' or '\\' */
        while (i + 8 <= n) {
            uint64_t w, ones = 0x0101010101010101u, high = 0x8080808080808080u;
            memcpy(&w, p + i, 8);
            uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
            if (((w - ones * 0x20) | (q - ones) | (b - ones)) & ~w & high) break; /* may hold one: bytewise */
            i += 8;
        }
        if (i >= n) break;
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        size += c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t' ? 1 : 5;
        if (total + size > limit) break;
    }
    return size;
}

/* Adds v's written-out size to *total; false once *total > limit. */
static bool walk(const json_t *v, size_t *total, size_t limit) {
    switch (json_typeof(v)) {
    case JSON_STRING: *total += string_size(json_string_value(v), json_string_length(v), *total, limit); break;
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        *total += n ? n + 1 : 2; /* brackets and commas */
        for (size_t i = 0; i < n && *total <= limit; i++)
            if (!walk(json_array_get(v, i), total, limit)) return false;
        break;
    }
    case JSON_OBJECT: {
        size_t n = json_object_size(v);
        *total += n ? 2 * n + 1 : 2; /* braces, colons and commas */
        const char *key;
        json_t *item;
        json_object_foreach((json_t *)v, key, item) {
            if (*total > limit) return false;
            *total += string_size(key, strlen(key), *total, limit);
            if (!walk(item, total, limit)) return false;
        }
        break;
    }
    default: *total += json_dumpb(v, NULL, 0, JSON_ENCODE_ANY); break; /* a number, true, false, null */
    }
    return *total <= limit;
}

size_t svc_json_size(const json_t *v, size_t limit) {
    size_t total = 0;
    if (v) walk(v, &total, limit);
    return total;
}

void svc_answer_settled(json_t *body, const weir_settled *st, size_t max_bytes) {
    /* the body so far, then ,"outputs": and ,"trace": before each */
    size_t used = svc_json_size(body, max_bytes);
    bool outs_fit = false, trace_fit = false;
    if (used <= max_bytes && max_bytes - used >= 11) {
        used += 11;
        size_t outs = st->outputs ? svc_json_size(st->outputs, max_bytes - used) : 2;
        if (outs <= max_bytes - used) {
            outs_fit = true;
            used += outs;
        }
    }
    if (!st->trace) trace_fit = outs_fit;
    else if (outs_fit && max_bytes - used >= 9) {
        used += 9;
        trace_fit = svc_json_size(st->trace, max_bytes - used) <= max_bytes - used;
    }
    if (outs_fit) json_object_set_new(body, "outputs", st->outputs ? json_incref(st->outputs) : json_object());
    if (trace_fit && st->trace) json_object_set(body, "trace", st->trace);
    if (st->trace_cut) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "the trace stopped at MAX_TRACE_HOPS (%llu) of %llu hops; raise MAX_TRACE_HOPS (--max-trace-hops) "
                 "to trace more",
                 (unsigned long long)st->trace_cut, (unsigned long long)st->hops);
        json_object_set_new(body, "traceTruncated",
                            json_pack("{s:s,s:s,s:I,s:I}", "error", msg, "limit", "MAX_TRACE_HOPS", "maxTraceHops",
                                      (json_int_t)st->trace_cut, "hops", (json_int_t)st->hops));
    }
    if (trace_fit) return;
    char msg[512];
    snprintf(msg, sizeof msg,
             "the answer's %s would be over MAX_ANSWER_BYTES (%zu) written out, so %s left out (the inject "
             "happened); subscribe to the execution's output events to get each output as it is made, or raise "
             "MAX_ANSWER_BYTES (--max-answer-bytes)",
             outs_fit ? "trace" : st->trace ? "outputs and trace" : "outputs", max_bytes,
             outs_fit || !st->trace ? "it is" : "they are");
    json_t *omitted = outs_fit ? json_pack("[s]", "trace")
                      : st->trace ? json_pack("[s,s]", "outputs", "trace")
                                  : json_pack("[s]", "outputs");
    json_object_set_new(body, "truncated",
                        json_pack("{s:s,s:s,s:s,s:I,s:o}", "error", msg, "code", "WEIR_ETOOLARGE", "limit",
                                  "MAX_ANSWER_BYTES", "maxAnswerBytes", (json_int_t)max_bytes, "omitted", omitted));
}
