/* codec.h: internals of the stream codec shared by stream.c, endpoint.c
 * and the fuzzer.  Not a public API. */
#ifndef QT_CODEC_H
#define QT_CODEC_H

#include "common/stream.h"
#include <msgpack.h>

/* Find the extent of the first MessagePack object in p[0..n).
 * Returns 1 and sets *len when it is complete; 0 when more bytes are
 * needed, and then *len is a lower bound (> n) on the object's length,
 * so a reader can ask for exactly the bytes it lacks; QT_EFORMAT when the
 * bytes cannot be MessagePack or declare more items than `max` bytes
 * could hold (this runs before msgpack-c, so that no hostile count
 * reaches its allocator). */
int qt_mp_frame(const uint8_t *p, size_t n, size_t max, size_t *len);

/* Pack a header, a batch or an end map. */
int qt_pack_header(msgpack_packer *pk, const qt_header *h);
int qt_pack_batch(msgpack_packer *pk, const qt_header *h, const qt_batch *b);
int qt_pack_end(msgpack_packer *pk, uint64_t batches, uint64_t samples);
/* {"quanta.abort": reason}: the writer failed; the stream is void. */
int qt_pack_abort(msgpack_packer *pk, const char *reason);

/* Decode a msgpack object: header, batch or end (see qt_decode_message). */
int qt_decode_object(const msgpack_object *o, const qt_header *h0,
		     qt_header **h, qt_batch **b);

/* Decode a header map; validates it. */
int qt_decode_header(const msgpack_object *o, qt_header **h);

/* 1 when a msgpack str or bin object equals the C string s. */
int qt_mp_streq(const msgpack_object *o, const char *s);

#endif
