/* Fuzz target: YAML (and auto-detected JSON) documents. */
#include <stdint.h>

#include "weir/weir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_t *doc = NULL;
    weir_error err;
    weir_doc_parse((const char *)data, size, WEIR_DOC_YAML, &doc, &err);
    json_decref(doc);
    doc = NULL;
    weir_doc_parse((const char *)data, size, WEIR_DOC_AUTO, &doc, &err);
    json_decref(doc);
    return 0;
}
