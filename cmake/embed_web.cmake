# The dashboard's static files (src/web) as one C source, so `weir serve`
# needs no install path:
#   cmake -DFILES="a.html|b.js" -DOUT=web_bundle.c -P embed_web.cmake
# FILES are absolute paths separated by "|"; each is served by its file
# name (GET /<name>; index.html also at /).  A file whose extension has no
# Content-Type here stops the build, naming the file: add its type below.
# The ETag is strong: the first 32 hex digits of the file's SHA-256.
string(REPLACE "|" ";" files "${FILES}")
list(SORT files)
set(body "")
set(table "")
set(i 0)
foreach(path IN LISTS files)
  get_filename_component(name "${path}" NAME)
  string(REGEX MATCH "[^.]*$" ext "${name}")
  string(TOLOWER "${ext}" ext)
  if(ext STREQUAL "html")
    set(type "text/html; charset=utf-8")
  elseif(ext STREQUAL "js" OR ext STREQUAL "mjs")
    set(type "text/javascript; charset=utf-8")
  elseif(ext STREQUAL "css")
    set(type "text/css; charset=utf-8")
  elseif(ext STREQUAL "svg")
    set(type "image/svg+xml")
  elseif(ext STREQUAL "json")
    set(type "application/json")
  elseif(ext STREQUAL "png")
    set(type "image/png")
  elseif(ext STREQUAL "txt")
    set(type "text/plain; charset=utf-8")
  else()
    message(FATAL_ERROR "embed_web.cmake: no Content-Type for ${path}: add its extension to cmake/embed_web.cmake")
  endif()
  if(NOT name MATCHES "^[A-Za-z0-9][A-Za-z0-9._-]*$")
    message(FATAL_ERROR "embed_web.cmake: ${path}: a served file's name is letters, digits, '.', '_' and '-'")
  endif()
  file(READ "${path}" hex HEX)
  file(SIZE "${path}" size)
  file(SHA256 "${path}" sha)
  string(SUBSTRING "${sha}" 0 32 etag)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes
       "${bytes}") # CMake regexes have no {n}
  string(APPEND body "/* ${name} */\nstatic const unsigned char f${i}[] = {\n${bytes}0x00};\n")
  string(APPEND table "    {\"${name}\", \"${type}\", f${i}, ${size}, \"\\\"${etag}\\\"\"},\n")
  math(EXPR i "${i} + 1")
endforeach()
file(WRITE "${OUT}.tmp"
  "/* Generated from src/web by cmake/embed_web.cmake: do not edit. */\n"
  "#include \"service/webui.h\"\n\n${body}\n"
  "const svc_web_file svc_web_files[] = {\n${table}    {0, 0, 0, 0, 0}};\n"
  "const size_t svc_web_n_files = ${i};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
