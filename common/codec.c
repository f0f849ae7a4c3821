/* codec.c: tensors and batches as MessagePack (docs/FORMAT.md).
 *
 * A tensor is the map msgpack-numpy writes for an ndarray:
 *   {b"nd": true, b"type": "<f4", b"kind": b"", b"shape": [d0, ...],
 *    b"data": bin (little-endian, C order)}
 * with bin keys, as Python's msgpack (use_bin_type=True) packs bytes.
 * Readers accept str keys too.  A batch is a map from field name to
 * tensor, plus "NAME.ptr" offsets for ragged fields; the end map is
 * {"quanta.end": {"batches": B, "samples": S}}; a writer that fails after
 * starting a socket stream sends {"quanta.abort": "reason"} instead.
 *
 * A tensor's data is copied out of its bin into an aligned buffer
 * (msgpack bins are not aligned), unless the reader already read the bin's
 * body into one of its own (qt_detached): the tensor then takes that over.
 */
#include "common/codec.h"
#include "common/error.h"

#include <stdlib.h>
#include <string.h>

static void pack_key_bin(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);
	msgpack_pack_bin(pk, n);
	msgpack_pack_bin_body(pk, s, n);
}

static void pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

static int pack_tensor(msgpack_packer *pk, const qt_tensor *t)
{
	size_t nbytes = qt_tensor_nbytes(t);
	if (t->device != QT_CPU)
		return qt_error(QT_EINTERNAL, "cannot encode a device tensor");
	msgpack_pack_map(pk, 5);
	pack_key_bin(pk, "nd");
	msgpack_pack_true(pk);
	pack_key_bin(pk, "type");
	pack_str(pk, qt_dtype_str(t->dtype));
	pack_key_bin(pk, "kind");
	msgpack_pack_bin(pk, 0);
	pack_key_bin(pk, "shape");
	msgpack_pack_array(pk, (size_t)t->ndim);
	for (int d = 0; d < t->ndim; d++)
		msgpack_pack_int64(pk, t->shape[d]);
	pack_key_bin(pk, "data");
	msgpack_pack_bin(pk, nbytes);
	if (msgpack_pack_bin_body(pk, t->data, nbytes) != 0)
		return qt_error(QT_EIO, "cannot write tensor data");
	return 0;
}

int qt_pack_batch(msgpack_packer *pk, const qt_header *h, const qt_batch *b)
{
	int nkeys = h->nfields, rc;
	char key[QT_NAME_MAX + 8];
	for (int i = 0; i < h->nfields; i++)
		nkeys += b->ptr[i] != NULL;
	msgpack_pack_map(pk, (size_t)nkeys);
	for (int i = 0; i < h->nfields; i++) {
		pack_str(pk, h->fields[i].name);
		if ((rc = pack_tensor(pk, b->t[i])) < 0)
			return rc;
		if (b->ptr[i]) {
			snprintf(key, sizeof key, "%s.ptr", h->fields[i].name);
			pack_str(pk, key);
			if ((rc = pack_tensor(pk, b->ptr[i])) < 0)
				return rc;
		}
	}
	return 0;
}

int qt_pack_end(msgpack_packer *pk, uint64_t batches, uint64_t samples)
{
	msgpack_pack_map(pk, 1);
	pack_str(pk, "quanta.end");
	msgpack_pack_map(pk, 2);
	pack_str(pk, "batches");
	msgpack_pack_uint64(pk, batches);
	pack_str(pk, "samples");
	msgpack_pack_uint64(pk, samples);
	return 0;
}

int qt_pack_abort(msgpack_packer *pk, const char *reason)
{
	msgpack_pack_map(pk, 1);
	pack_str(pk, "quanta.abort");
	pack_str(pk, reason);
	return 0;
}

/* The detached bin bodies of the message being decoded (may be none). */
struct detached {
	const char *base; /* the message */
	qt_detached *d;
	int n;
};

/* The detached body of bin `o`, or NULL.  Only a bin that the reader
 * detached starts at its body's offset: it is the same object. */
static qt_detached *find_detached(const struct detached *det,
				  const msgpack_object *o)
{
	if (!det || o->type != MSGPACK_OBJECT_BIN)
		return NULL;
	for (int i = 0; i < det->n; i++)
		if (det->d[i].data &&
		    o->via.bin.ptr == det->base + det->d[i].off &&
		    o->via.bin.size == det->d[i].len)
			return &det->d[i];
	return NULL;
}

/* Decode one msgpack-numpy map into a new tensor; `name` for messages. */
static int decode_tensor(const msgpack_object *o, const char *name,
			 const struct detached *det, qt_tensor **out)
{
	qt_detached *dd;
	const msgpack_object *type = NULL, *shape = NULL, *data = NULL;
	int nd = 0;
	qt_dtype dt;
	int64_t dims[QT_MAX_DIMS], numel;
	int ndim, rc;
	qt_tensor *t;

	if (o->type != MSGPACK_OBJECT_MAP)
		return qt_error(QT_EFORMAT, "field '%s' is not a msgpack-numpy "
				"array map", name);
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key;
		const msgpack_object *v = &o->via.map.ptr[i].val;
		if (qt_mp_streq(k, "nd"))
			nd = v->type == MSGPACK_OBJECT_BOOLEAN && v->via.boolean;
		else if (qt_mp_streq(k, "type"))
			type = v;
		else if (qt_mp_streq(k, "kind")) {
			if (!((v->type == MSGPACK_OBJECT_BIN && !v->via.bin.size) ||
			      (v->type == MSGPACK_OBJECT_STR && !v->via.str.size)))
				return qt_error(QT_EFORMAT, "field '%s': structured "
						"or object arrays are not "
						"supported", name);
		} else if (qt_mp_streq(k, "shape"))
			shape = v;
		else if (qt_mp_streq(k, "data"))
			data = v;
		else
			return qt_error(QT_EFORMAT, "field '%s': unknown key in "
					"array map", name);
	}
	if (!nd || !type || !shape || !data)
		return qt_error(QT_EFORMAT, "field '%s' is not an ndarray map "
				"(needs nd=true, type, shape, data)", name);
	if (type->type != MSGPACK_OBJECT_STR && type->type != MSGPACK_OBJECT_BIN)
		return qt_error(QT_EFORMAT, "field '%s': bad dtype", name);
	rc = qt_dtype_parse(type->via.str.ptr, type->via.str.size, &dt);
	if (rc < 0)
		return qt_error_prefix(rc, "field '%s': ", name);
	if (shape->type != MSGPACK_OBJECT_ARRAY ||
	    shape->via.array.size > QT_MAX_DIMS)
		return qt_error(QT_EFORMAT, "field '%s': shape must be an array "
				"of at most %d sizes", name, QT_MAX_DIMS);
	ndim = (int)shape->via.array.size;
	for (int d = 0; d < ndim; d++) {
		const msgpack_object *s = &shape->via.array.ptr[d];
		if (s->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    s->via.u64 > (uint64_t)INT64_MAX)
			return qt_error(QT_EFORMAT, "field '%s': bad size in "
					"shape", name);
		dims[d] = (int64_t)s->via.u64;
	}
	if (data->type != MSGPACK_OBJECT_BIN && data->type != MSGPACK_OBJECT_STR)
		return qt_error(QT_EFORMAT, "field '%s': data must be bytes",
				name);
	numel = qt_shape_numel(ndim, dims);
	if (numel < 0 || (uint64_t)numel > data->via.bin.size ||
	    (uint64_t)numel * qt_dtype_size(dt) != data->via.bin.size)
		return qt_error(QT_EFORMAT, "field '%s': %u data bytes do not "
				"match its shape and dtype %s", name,
				data->via.bin.size, qt_dtype_name(dt));
	if ((dd = find_detached(det, data))) {
		/* The bytes are already in an aligned buffer (its data may
		 * only be read from there). */
		if (!(t = malloc(sizeof *t)))
			return qt_error(QT_ENOMEM, "out of memory");
		*t = qt_tensor_wrap(dt, ndim, dims, dd->data);
		t->owns = 1;
		dd->data = NULL;
		*out = t;
		return 0;
	}
	t = qt_tensor_new(dt, ndim, dims);
	if (!t)
		return QT_ENOMEM;
	/* msgpack bins are not aligned: copy into the aligned buffer. */
	memcpy(t->data, data->via.bin.ptr, data->via.bin.size);
	*out = t;
	return 0;
}

static int decode_batch(const msgpack_object *o, const qt_header *h,
			const struct detached *det, qt_batch **out)
{
	qt_batch *b;
	int rc = 0, nfixed = 0;
	char name[QT_NAME_MAX + 8];

	if (!h)
		return qt_error(QT_EFORMAT, "stream does not start with a "
				"quanta header");
	b = qt_batch_new(h->nfields);
	if (!b)
		return qt_error(QT_ENOMEM, "out of memory");
	for (uint32_t i = 0; i < o->via.map.size && !rc; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key;
		const msgpack_object *v = &o->via.map.ptr[i].val;
		size_t n;
		int f, isptr = 0;
		if (k->type != MSGPACK_OBJECT_STR || k->via.str.size == 0 ||
		    k->via.str.size >= sizeof name) {
			rc = qt_error(QT_EFORMAT, "batch keys must be field names");
			break;
		}
		n = k->via.str.size;
		memcpy(name, k->via.str.ptr, n);
		name[n] = '\0';
		if (n > 4 && !strcmp(name + n - 4, ".ptr")) {
			name[n - 4] = '\0';
			isptr = 1;
		}
		f = qt_header_find(h, name);
		if (f < 0) {
			rc = qt_error(QT_EFORMAT, "batch has field '%s%s' that the "
				      "header does not declare", name,
				      isptr ? ".ptr" : "");
			break;
		}
		qt_tensor **slot = isptr ? &b->ptr[f] : &b->t[f];
		if (*slot) {
			rc = qt_error(QT_EFORMAT, "batch repeats field '%s'", name);
			break;
		}
		rc = decode_tensor(v, name, det, slot);
	}
	if (!rc) {
		/* Sample count: leading dim of fixed fields, else ptr size. */
		b->n = -1;
		for (int i = 0; i < h->nfields && !rc; i++) {
			int64_t n;
			if (!b->t[i]) {
				rc = qt_error(QT_EFORMAT, "batch lacks field '%s'",
					      h->fields[i].name);
				break;
			}
			if (h->fields[i].ndim > 0 && h->fields[i].shape[0] < 0) {
				if (!b->ptr[i] || b->ptr[i]->ndim != 1 ||
				    b->ptr[i]->shape[0] < 1) {
					rc = qt_error(QT_EFORMAT, "ragged field '%s' "
						      "lacks '%s.ptr' offsets",
						      h->fields[i].name,
						      h->fields[i].name);
					break;
				}
				n = b->ptr[i]->shape[0] - 1;
			} else {
				if (b->t[i]->ndim < 1) {
					rc = qt_error(QT_ESHAPE, "field '%s' has no "
						      "batch dimension",
						      h->fields[i].name);
					break;
				}
				n = b->t[i]->shape[0];
				nfixed++;
			}
			if (b->n >= 0 && n != b->n)
				rc = qt_error(QT_ESHAPE, "fields disagree on the "
					      "batch size (%lld vs %lld at '%s')",
					      (long long)b->n, (long long)n,
					      h->fields[i].name);
			b->n = n;
		}
	}
	(void)nfixed;
	if (!rc)
		rc = qt_batch_validate(h, b);
	if (rc) {
		qt_batch_free(b);
		return rc;
	}
	*out = b;
	return 0;
}

static int decode_object(const msgpack_object *o, const qt_header *h0,
			 const struct detached *det, qt_header **h,
			 qt_batch **b)
{
	int rc;
	if (o->type != MSGPACK_OBJECT_MAP)
		return qt_error(QT_EFORMAT, "stream message is not a map (not a "
				"quanta stream?)");
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key;
		if (qt_mp_streq(k, "quanta")) {
			if (h0)
				return qt_error(QT_EFORMAT, "second header in the "
						"stream (concatenated streams "
						"are not one stream)");
			rc = qt_decode_header(o, h);
			return rc < 0 ? rc : 1;
		}
		if (k->type == MSGPACK_OBJECT_STR && qt_mp_streq(k, "quanta.abort")) {
			const msgpack_object *v = &o->via.map.ptr[i].val;
			int n = v->type == MSGPACK_OBJECT_STR ? (int)v->via.str.size : 0;
			return qt_error(QT_EFORMAT, "the stage writing this stream "
					"failed: %.*s", n > 300 ? 300 : n,
					n ? v->via.str.ptr : "");
		}
		if (k->type == MSGPACK_OBJECT_STR && qt_mp_streq(k, "quanta.end")) {
			if (o->via.map.size != 1)
				return qt_error(QT_EFORMAT, "bad end map");
			return 3;
		}
	}
	rc = decode_batch(o, h0, det, b);
	return rc < 0 ? rc : 2;
}

int qt_decode_object(const msgpack_object *o, const qt_header *h0,
		     qt_header **h, qt_batch **b)
{
	return decode_object(o, h0, NULL, h, b);
}

size_t qt_max_message(void)
{
	const char *s = getenv("QUANTA_MAX_MESSAGE");
	if (s && *s) {
		char *end;
		unsigned long long v = strtoull(s, &end, 10);
		if (*end == '\0' && v >= 1024)
			return (size_t)v;
	}
	return (size_t)4 << 30;
}

static int decode_message(const void *buf, size_t len, const qt_header *h0,
			  const struct detached *det, qt_header **h,
			  qt_batch **b)
{
	msgpack_unpacked u;
	size_t off = 0, flen;
	int rc = qt_mp_frame(buf, len, qt_max_message(), &flen);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return qt_error(QT_EFORMAT, "truncated message");
	if (flen != len)
		return qt_error(QT_EFORMAT, "trailing bytes after message");
	msgpack_unpacked_init(&u);
	switch (msgpack_unpack_next(&u, buf, len, &off)) {
	case MSGPACK_UNPACK_SUCCESS:
		rc = decode_object(&u.data, h0, det, h, b);
		break;
	case MSGPACK_UNPACK_NOMEM_ERROR:
		rc = qt_error(QT_ENOMEM, "out of memory decoding a message");
		break;
	default:
		rc = qt_error(QT_EFORMAT, "malformed MessagePack message");
	}
	msgpack_unpacked_destroy(&u);
	return rc;
}

int qt_decode_message(const void *buf, size_t len, const qt_header *h0,
		      qt_header **h, qt_batch **b)
{
	return decode_message(buf, len, h0, NULL, h, b);
}

int qt_decode_message_detached(const void *buf, size_t len,
			       const qt_header *h0, qt_header **h,
			       qt_batch **b, qt_detached *d, int nd)
{
	struct detached det = {.base = buf, .d = d, .n = nd};
	return decode_message(buf, len, h0, nd ? &det : NULL, h, b);
}
