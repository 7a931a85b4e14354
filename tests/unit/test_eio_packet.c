/* The Engine.IO / Socket.IO packet codec (src/server/eio_packet.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "failalloc.h"
#include "net/eio_packet.h"
#include "weir/weir.h"

#define S(lit) lit, sizeof(lit) - 1

/* ------------------------------------------------------------- Engine.IO */

Test(eio_packet, decodes_every_type) {
    const char *texts[] = {"0{}", "1", "2", "3probe", "4hello", "5", "6"};
    for (int t = 0; t <= 6; t++) {
        weir_eio_packet p;
        const char *why = NULL;
        cr_assert_eq(weir_eio_packet_decode(texts[t], strlen(texts[t]), &p, &why), 0, "%s", texts[t]);
        cr_assert_eq((int)p.type, t);
        cr_assert_eq(p.data, texts[t] + 1, "data borrows from the input");
        cr_assert_eq(p.len, strlen(texts[t]) - 1);
    }
}

Test(eio_packet, refuses_empty_binary_and_unknown_types) {
    weir_eio_packet p;
    const char *why = NULL;
    cr_assert_eq(weir_eio_packet_decode("", 0, &p, &why), WEIR_EINVAL);
    cr_assert_str_eq(why, "empty Engine.IO packet");
    cr_assert_eq(weir_eio_packet_decode(S("bAQID"), &p, &why), WEIR_EINVAL);
    cr_assert_str_eq(why, "binary Engine.IO packets are not supported");
    cr_assert_eq(weir_eio_packet_decode(S("7"), &p, &why), WEIR_EINVAL);
    cr_assert_str_eq(why, "unknown Engine.IO packet type");
    cr_assert_eq(weir_eio_packet_decode(S("x"), &p, NULL), WEIR_EINVAL, "why may be NULL");
}

Test(eio_packet, splits_a_polling_payload) {
    const char payload[] = "2probe\x1e"
                           "4hello\x1e"
                           "1";
    size_t pos = 0;
    weir_eio_packet p;
    cr_assert_eq(weir_eio_payload_next(payload, sizeof payload - 1, &pos, &p, NULL), 0);
    cr_assert_eq(p.type, WEIR_EIO_PING);
    cr_assert_eq(p.len, 5);
    cr_assert_eq(memcmp(p.data, "probe", 5), 0);
    cr_assert_eq(weir_eio_payload_next(payload, sizeof payload - 1, &pos, &p, NULL), 0);
    cr_assert_eq(p.type, WEIR_EIO_MESSAGE);
    cr_assert_eq(memcmp(p.data, "hello", p.len), 0);
    cr_assert_eq(weir_eio_payload_next(payload, sizeof payload - 1, &pos, &p, NULL), 0);
    cr_assert_eq(p.type, WEIR_EIO_CLOSE);
    cr_assert_eq(p.len, 0);
    cr_assert_eq(pos, sizeof payload - 1);
    cr_assert_eq(weir_eio_payload_next(payload, sizeof payload - 1, &pos, &p, NULL), WEIR_ENOTFOUND);
}

Test(eio_packet, single_packet_payload_and_utf8_data) {
    const char payload[] = "4\xe2\x82\xac\xe2\x82\xac"; /* "4€€" */
    size_t pos = 0;
    weir_eio_packet p;
    cr_assert_eq(weir_eio_payload_next(payload, sizeof payload - 1, &pos, &p, NULL), 0);
    cr_assert_eq(p.len, 6);
    cr_assert_eq(weir_eio_payload_next(payload, sizeof payload - 1, &pos, &p, NULL), WEIR_ENOTFOUND);
}

Test(eio_packet, refuses_empty_packets_in_a_payload) {
    const char *bad[] = {"", "\x1e", "4a\x1e\x1e"
                                     "4b",
                         "4a\x1e", "\x1e"
                                   "4a"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        size_t pos = 0, len = strlen(bad[i]);
        weir_eio_packet p;
        const char *why = NULL;
        int rc;
        while ((rc = weir_eio_payload_next(bad[i], len, &pos, &p, &why)) == 0) {}
        cr_assert_eq(rc, WEIR_EINVAL, "payload %zu", i);
        cr_assert_not_null(why);
    }
    size_t pos = 0;
    weir_eio_packet p;
    const char *why = NULL;
    cr_assert_eq(weir_eio_payload_next(S("4a\x1e"
                                         "bAQID"),
                                       &pos, &p, &why),
                 0);
    cr_assert_eq(weir_eio_payload_next(S("4a\x1e"
                                         "bAQID"),
                                       &pos, &p, &why),
                 WEIR_EINVAL);
    cr_assert_str_eq(why, "binary Engine.IO packets are not supported");
}

Test(eio_packet, encodes_packets_and_the_open_packet) {
    weir_sbuf *b = weir_eio_encode(WEIR_EIO_PING, NULL, 0);
    cr_assert_str_eq(b->data, "2");
    cr_assert_eq(b->len, 1);
    weir_sbuf_unref(b);
    b = weir_eio_encode(WEIR_EIO_PONG, "probe", 5);
    cr_assert_str_eq(b->data, "3probe");
    weir_sbuf_unref(b);
    b = weir_eio_encode_open("abcdefghijklmnopqrs_", true, 25000, 20000, 1000000);
    cr_assert_str_eq(b->data, "0{\"sid\":\"abcdefghijklmnopqrs_\",\"upgrades\":[\"websocket\"],"
                              "\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}");
    json_t *j = json_loads(b->data + 1, 0, NULL);
    cr_assert_not_null(j, "the open packet carries valid JSON");
    json_decref(j);
    weir_sbuf_unref(b);
    b = weir_eio_encode_open("s", false, 1, 2, 3);
    cr_assert_str_eq(b->data, "0{\"sid\":\"s\",\"upgrades\":[],\"pingInterval\":1,\"pingTimeout\":2,\"maxPayload\":3}");
    weir_sbuf_unref(b);
}

/* ------------------------------------------------------------- Socket.IO */

static weir_sio_packet decode_ok(const char *s) {
    weir_sio_packet p;
    const char *why = NULL;
    int rc = weir_sio_packet_decode(s, strlen(s), 0, &p, &why);
    cr_assert_eq(rc, 0, "\"%s\": %s", s, why ? why : "?");
    return p;
}

static void decode_bad(const char *s, int code, const char *why_expected) {
    weir_sio_packet p;
    const char *why = NULL;
    int rc = weir_sio_packet_decode(s, strlen(s), 0, &p, &why);
    cr_assert_eq(rc, code, "\"%s\" gave %d (%s)", s, rc, why ? why : "");
    cr_assert_null(p.data, "nothing to free after an error");
    if (why_expected) cr_assert_str_eq(why, why_expected, "\"%s\"", s);
}

Test(sio_packet, connect_with_and_without_auth) {
    weir_sio_packet p = decode_ok("0");
    cr_assert_eq(p.type, WEIR_SIO_CONNECT);
    cr_assert_eq(p.nsp_len, 1);
    cr_assert_eq(p.nsp[0], '/');
    cr_assert_eq(p.ack_id, -1);
    cr_assert_null(p.data);
    p = decode_ok("0{\"token\":\"abc\"}");
    cr_assert_str_eq(json_string_value(json_object_get(p.data, "token")), "abc");
    weir_sio_packet_clear(&p);
    weir_sio_packet_clear(&p); /* twice is safe */
    p = decode_ok("0/admin,{\"x\":1}");
    cr_assert_eq(p.nsp_len, 6);
    cr_assert_eq(memcmp(p.nsp, "/admin", 6), 0);
    cr_assert(json_is_object(p.data));
    weir_sio_packet_clear(&p);
    p = decode_ok("0/admin");
    cr_assert_eq(p.nsp_len, 6);
    cr_assert_null(p.data);
    p = decode_ok("0/admin,");
    cr_assert_eq(p.nsp_len, 6);
    cr_assert_null(p.data);
    p = decode_ok("1");
    cr_assert_eq(p.type, WEIR_SIO_DISCONNECT);
}

Test(sio_packet, event_with_and_without_ack) {
    weir_sio_packet p = decode_ok("2[\"hello\",1,{\"a\":[true]}]");
    cr_assert_eq(p.type, WEIR_SIO_EVENT);
    cr_assert_eq(p.ack_id, -1);
    cr_assert_eq(json_array_size(p.data), 3);
    cr_assert_str_eq(json_string_value(json_array_get(p.data, 0)), "hello");
    weir_sio_packet_clear(&p);
    p = decode_ok("213[\"ev\"]");
    cr_assert_eq(p.ack_id, 13);
    cr_assert_eq(json_array_size(p.data), 1);
    weir_sio_packet_clear(&p);
    p = decode_ok("2/chat,0[\"ev\",null]");
    cr_assert_eq(p.ack_id, 0);
    cr_assert_eq(memcmp(p.nsp, "/chat", 5), 0);
    weir_sio_packet_clear(&p);
    p = decode_ok("29007199254740991[\"max\"]");
    cr_assert_eq(p.ack_id, WEIR_SIO_MAX_ACK_ID);
    weir_sio_packet_clear(&p);
    p = decode_ok("2[\"\xc3\xa9t\xc3\xa9\"]"); /* "été" */
    weir_sio_packet_clear(&p);
}

Test(sio_packet, ack_connect_error_and_binary) {
    weir_sio_packet p = decode_ok("37[\"ok\"]");
    cr_assert_eq(p.type, WEIR_SIO_ACK);
    cr_assert_eq(p.ack_id, 7);
    weir_sio_packet_clear(&p);
    p = decode_ok("4{\"message\":\"no\"}");
    cr_assert_eq(p.type, WEIR_SIO_CONNECT_ERROR);
    weir_sio_packet_clear(&p);
    p = decode_ok("4\"no\"");
    weir_sio_packet_clear(&p);
    p = decode_ok("51-[\"up\",{\"_placeholder\":true,\"num\":0}]");
    cr_assert_eq(p.type, WEIR_SIO_BINARY_EVENT);
    cr_assert_eq(p.attachments, 1);
    weir_sio_packet_clear(&p);
    p = decode_ok("610-/x,3[{\"_placeholder\":true,\"num\":0}]");
    cr_assert_eq(p.type, WEIR_SIO_BINARY_ACK);
    cr_assert_eq(p.attachments, 10);
    cr_assert_eq(p.ack_id, 3);
    cr_assert_eq(p.nsp_len, 2);
    weir_sio_packet_clear(&p);
}

Test(sio_packet, refuses_malformed_packets) {
    decode_bad("", WEIR_EINVAL, "empty Socket.IO packet");
    decode_bad("7", WEIR_EINVAL, "unknown Socket.IO packet type");
    decode_bad("a", WEIR_EINVAL, "unknown Socket.IO packet type");
    decode_bad("2", WEIR_EINVAL, "EVENT payload must be an array starting with the event name");
    decode_bad("2[]", WEIR_EINVAL, "EVENT payload must be an array starting with the event name");
    decode_bad("2[1]", WEIR_EINVAL, "EVENT payload must be an array starting with the event name");
    decode_bad("2{\"a\":1}", WEIR_EINVAL, "EVENT payload must be an array starting with the event name");
    decode_bad("2\"ev\"", WEIR_EINVAL, "EVENT payload must be an array starting with the event name");
    decode_bad("2[\"disconnect\"]", WEIR_EINVAL, "EVENT uses a reserved event name");
    decode_bad("2[\"connect\",1]", WEIR_EINVAL, "EVENT uses a reserved event name");
    decode_bad("2[\"ev\"", WEIR_EINVAL, "payload is not valid JSON");
    decode_bad("2[\"ev\"]x", WEIR_EINVAL, "payload is not valid JSON");
    decode_bad("2[\"ev\"]\x1e", WEIR_EINVAL, "payload is not valid JSON");
    decode_bad("2[\"\\u0000\"]", WEIR_EINVAL, "payload is not valid JSON");
    decode_bad("2[\"\xff\"]", WEIR_EINVAL, "payload is not valid JSON");
    decode_bad("2-1[\"ev\"]", WEIR_EINVAL, "payload is not valid JSON");
    decode_bad("0[]", WEIR_EINVAL, "CONNECT payload must be an object");
    decode_bad("0\"x\"", WEIR_EINVAL, "CONNECT payload must be an object");
    decode_bad("1{}", WEIR_EINVAL, "DISCONNECT carries no payload");
    decode_bad("3[]", WEIR_EINVAL, "ACK without an ack id");
    decode_bad("31{}", WEIR_EINVAL, "ACK payload must be an array");
    decode_bad("31", WEIR_EINVAL, "ACK payload must be an array");
    decode_bad("4", WEIR_EINVAL, "CONNECT_ERROR payload must be an object or a string");
    decode_bad("4[1]", WEIR_EINVAL, "CONNECT_ERROR payload must be an object or a string");
    decode_bad("5[\"ev\"]", WEIR_EINVAL, "binary packet without an attachment count");
    decode_bad("51[\"ev\"]", WEIR_EINVAL, "binary packet without an attachment count");
    decode_bad("5-[\"ev\"]", WEIR_EINVAL, "binary packet without an attachment count");
    decode_bad("50-[\"ev\"]", WEIR_EINVAL, "binary packet with no attachment");
    decode_bad("511-[\"ev\"]", WEIR_ELIMIT, "too many attachments");
    decode_bad("5999999999999999999999-[\"ev\"]", WEIR_ELIMIT, "too many attachments");
    decode_bad("29007199254740992[\"ev\"]", WEIR_ELIMIT, "ack id too large");
    decode_bad("299999999999999999999999999[\"ev\"]", WEIR_ELIMIT, "ack id too large");
    decode_bad("0/a\x01,{}", WEIR_EINVAL, "namespace name is not valid UTF-8 text");
    decode_bad("0/a\x1e,{}", WEIR_EINVAL, "namespace name is not valid UTF-8 text");
    decode_bad("0/\xc0\xaf,", WEIR_EINVAL, "namespace name is not valid UTF-8 text");  /* overlong '/' */
    decode_bad("0/\xed\xa0\x80,", WEIR_EINVAL, "namespace name is not valid UTF-8 text"); /* surrogate */
    decode_bad("0/\xe2\x82", WEIR_EINVAL, "namespace name is not valid UTF-8 text");      /* cut short */
    char longnsp[WEIR_SIO_MAX_NSP + 8] = "0/";
    memset(longnsp + 2, 'n', WEIR_SIO_MAX_NSP);
    decode_bad(longnsp, WEIR_ELIMIT, "namespace name too long");
    longnsp[WEIR_SIO_MAX_NSP + 1] = '\0'; /* "/" + 255 characters: the limit exactly */
    weir_sio_packet p = decode_ok(longnsp);
    cr_assert_eq(p.nsp_len, WEIR_SIO_MAX_NSP);
}

Test(sio_packet, bounds_the_json_payload) {
    weir_sio_packet p;
    const char *why = NULL;
    cr_assert_eq(weir_sio_packet_decode(S("2[\"12345\"]"), 9, &p, &why), 0);
    weir_sio_packet_clear(&p);
    cr_assert_eq(weir_sio_packet_decode(S("2[\"123456\"]"), 9, &p, &why), WEIR_ELIMIT);
    cr_assert_str_eq(why, "JSON payload too large");
    /* nesting beyond jansson's depth limit is refused, not a stack overflow */
    enum { DEEP = 100000 };
    char *deep = malloc(DEEP * 2 + 8);
    size_t n = 0;
    deep[n++] = '2';
    deep[n++] = '[';
    deep[n++] = '"';
    deep[n++] = 'e';
    deep[n++] = '"';
    deep[n++] = ',';
    for (int i = 0; i < DEEP; i++) deep[n++] = '[';
    for (int i = 0; i < DEEP + 1; i++) deep[n++] = ']';
    cr_assert_eq(weir_sio_packet_decode(deep, n, 0, &p, &why), WEIR_EINVAL);
    free(deep);
}

Test(sio_packet, encodes_connect_error_event_ack_disconnect) {
    weir_sbuf *b = NULL;
    cr_assert_eq(weir_sio_encode_connect("AbC-_12", &b), 0);
    cr_assert_str_eq(b->data, "40{\"sid\":\"AbC-_12\"}");
    weir_sbuf_unref(b);
    cr_assert_eq(weir_sio_encode_connect_error(NULL, 0, "not \"allowed\"", &b), 0);
    cr_assert_str_eq(b->data, "44{\"message\":\"not \\\"allowed\\\"\"}");
    weir_sbuf_unref(b);
    cr_assert_eq(weir_sio_encode_connect_error("/", 1, "x", &b), 0);
    cr_assert_str_eq(b->data, "44{\"message\":\"x\"}");
    weir_sbuf_unref(b);
    cr_assert_eq(weir_sio_encode_connect_error("/admin", 6, "Invalid namespace", &b), 0);
    cr_assert_str_eq(b->data, "44/admin,{\"message\":\"Invalid namespace\"}");
    weir_sbuf_unref(b);
    cr_assert_eq(weir_sio_encode_event("port:emit", "{\"v\":1}", 7, &b), 0);
    cr_assert_str_eq(b->data, "42[\"port:emit\",{\"v\":1}]");
    cr_assert_eq(b->len, strlen(b->data));
    weir_sbuf_unref(b);
    cr_assert_eq(weir_sio_encode_event("a\"b\n", NULL, 0, &b), 0);
    cr_assert_str_eq(b->data, "42[\"a\\\"b\\n\"]");
    weir_sbuf_unref(b);
    cr_assert_eq(weir_sio_encode_event("x", "", 0, &b), 0);
    cr_assert_str_eq(b->data, "42[\"x\"]");
    weir_sbuf_unref(b);
    cr_assert_eq(weir_sio_encode_ack(12, "{\"ok\":true}", 11, &b), 0);
    cr_assert_str_eq(b->data, "4312[{\"ok\":true}]");
    weir_sbuf_unref(b);
    cr_assert_eq(weir_sio_encode_ack(0, NULL, 0, &b), 0);
    cr_assert_str_eq(b->data, "430[]");
    weir_sbuf_unref(b);
    cr_assert_eq(weir_sio_encode_disconnect(&b), 0);
    cr_assert_str_eq(b->data, "41");
    weir_sbuf_unref(b);
}

Test(sio_packet, encoders_refuse_bad_arguments) {
    weir_sbuf *b = (weir_sbuf *)1;
    cr_assert_eq(weir_sio_encode_event("\xff", NULL, 0, &b), WEIR_EINVAL);
    cr_assert_null(b);
    cr_assert_eq(weir_sio_encode_event(NULL, NULL, 0, &b), WEIR_EINVAL);
    cr_assert_eq(weir_sio_encode_connect_error(NULL, 0, "\xc3", &b), WEIR_EINVAL);
    cr_assert_eq(weir_sio_encode_connect(NULL, &b), WEIR_EINVAL);
    cr_assert_eq(weir_sio_encode_ack(-1, NULL, 0, &b), WEIR_EINVAL);
    cr_assert_eq(weir_sio_encode_ack(WEIR_SIO_MAX_ACK_ID + 1, NULL, 0, &b), WEIR_EINVAL);
}

/* Encoded events decode back to what was encoded. */
Test(sio_packet, round_trip) {
    weir_sbuf *b = NULL;
    const char *data = "[1,\"two\",{\"3\":null}]";
    cr_assert_eq(weir_sio_encode_event("n\xc3\xa9", data, strlen(data), &b), 0);
    weir_eio_packet e;
    cr_assert_eq(weir_eio_packet_decode(b->data, b->len, &e, NULL), 0);
    cr_assert_eq(e.type, WEIR_EIO_MESSAGE);
    weir_sio_packet p = decode_ok(e.data);
    cr_assert_str_eq(json_string_value(json_array_get(p.data, 0)), "n\xc3\xa9");
    json_t *want = json_loads(data, 0, NULL);
    cr_assert(json_equal(json_array_get(p.data, 1), want));
    json_decref(want);
    weir_sio_packet_clear(&p);
    weir_sbuf_unref(b);
}

/* Every allocation failure is an error with nothing leaked; the decoder
 * succeeds once allocations stop failing. */
Test(sio_packet, allocation_failures) {
    int last = -1;
    for (size_t n = 1; n < 64; n++) {
        fa_install(n, 1);
        weir_sio_packet p;
        int rc = weir_sio_packet_decode(S("2[\"ev\",{\"a\":[1,2,{\"b\":\"c\"}]}]"), 0, &p, NULL);
        /* jansson does not tell a failed allocation from bad JSON */
        cr_assert(rc == 0 || rc == WEIR_ENOMEM || rc == WEIR_EINVAL, "rc %d at %zu", rc, n);
        last = rc;
        weir_sio_packet_clear(&p);
        weir_sbuf *b = NULL;
        rc = weir_sio_encode_event("ev", "1", 1, &b);
        cr_assert(rc == 0 || rc == WEIR_ENOMEM);
        cr_assert((rc == 0) == (b != NULL));
        weir_sbuf_unref(b);
        rc = weir_sio_encode_connect_error("/x", 2, "m", &b);
        cr_assert(rc == 0 || rc == WEIR_ENOMEM);
        weir_sbuf_unref(b);
        b = weir_eio_encode_open("sid", true, 1, 2, 3);
        weir_sbuf_unref(b);
        cr_assert_eq(fa_live(), 0, "leak with allocation %zu failing", n);
        fa_uninstall();
    }
    cr_assert_eq(last, 0, "63 allocations are enough to decode");
}
