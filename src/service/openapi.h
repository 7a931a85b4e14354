/* The OpenAPI document's parts (openapi.c builds it, openapi_schemas.c
 * holds its schemas). */
#ifndef WEIR_SERVICE_OPENAPI_H
#define WEIR_SERVICE_OPENAPI_H
#include <jansson.h>
#include <stdbool.h>

/* components/schemas of the document (NEW reference; NULL: out of memory). */
json_t *weir__openapi_schemas(void);

#endif
