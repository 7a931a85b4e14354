/* Fuzz target: a line of `weir run --input`.  The quick parser
 * (cli_inject_line) must either step aside (-1) or agree with jansson on
 * the whole line: the same nodeId, port and value, and no other key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/run_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *line = malloc(size + 1);
    if (!line) return 0;
    memcpy(line, data, size);
    line[size] = '\0';
    json_t *whole = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    const char *node = NULL, *port = NULL;
    json_t *value = NULL;
    if (cli_inject_line(line, size, &node, &port, &value) == 0) {
        /* the quick way took it: jansson must read the same line */
        if (!whole || !json_is_object(whole)) abort();
        const char *wnode = json_string_value(json_object_get(whole, "nodeId"));
        json_t *wport = json_object_get(whole, "port");
        if (!wnode || !node || strcmp(wnode, node) != 0) abort();
        if ((port == NULL) != (wport == NULL)) abort();
        if (port && (!json_is_string(wport) || strcmp(json_string_value(wport), port) != 0)) abort();
        if (!json_equal(json_object_get(whole, "value"), value)) abort();
        if (json_object_size(whole) != 2u + (port != NULL)) abort();
        json_decref(value);
    }
    json_decref(whole);
    free(line);
    return 0;
}
