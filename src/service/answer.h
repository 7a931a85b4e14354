/*
 * The size of an inject's answer (MAX_ANSWER_BYTES, SPEC §10).  A value
 * shared by many outputs or trace entries (jansson values are refcounted;
 * a fan-out shares one value) is written out once per use, so an answer
 * is measured before it is written, by a walk that stops as soon as it is
 * over the bound.
 */
#ifndef WEIR_SERVICE_ANSWER_H
#define WEIR_SERVICE_ANSWER_H
#include <jansson.h>
#include <stddef.h>

#include "weir/weir.h"

/* The size of v written out compactly (JSON_COMPACT | JSON_ENCODE_ANY, as
 * answers are), counting every use of a shared value; once it is certain
 * to exceed limit the walk stops and returns a number > limit.  The work is
 * bounded by limit (each value visited and each string byte scanned adds at
 * least one byte), not by the size written out. */
size_t svc_json_size(const json_t *v, size_t limit);

/* Put st's outputs and trace into an inject's answer body when together
 * they fit in max_bytes written out; else leave out what does not fit
 * (outputs and trace, or the trace alone) and set body.truncated
 * {error, code: WEIR_ETOOLARGE, limit: "MAX_ANSWER_BYTES", maxAnswerBytes,
 * size (a lower bound), omitted: [...]}.  A trace stopped at MAX_TRACE_HOPS
 * is said in body.traceTruncated {error, limit, maxTraceHops, hops}. */
void svc_answer_settled(json_t *body, const weir_settled *st, size_t max_bytes);

#endif
