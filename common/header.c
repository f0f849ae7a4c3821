/* header.c: the stream header: fields, class names, provenance; its
 * MessagePack encoding and decoding (docs/FORMAT.md, "Header"). */
#include "common/codec.h"
#include "common/error.h"
#include "common/version.h"

#include <stdlib.h>
#include <string.h>

qt_header *qt_header_new(void)
{
	qt_header *h = calloc(1, sizeof *h);
	if (h) {
		h->version = QT_STREAM_VERSION;
		h->end_marker = 1;
	}
	return h;
}

static void free_strv(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void field_clear(qt_field *f)
{
	free_strv(f->classes, f->nclasses);
	f->classes = NULL;
	f->nclasses = 0;
}

static void prov_clear(qt_prov *p)
{
	free(p->stage);
	free(p->version);
	free_strv(p->argv, p->argc);
	free_strv(p->keys, p->nparams);
	free_strv(p->values, p->nparams);
}

void qt_header_free(qt_header *h)
{
	if (!h)
		return;
	for (int i = 0; i < h->nfields; i++)
		field_clear(&h->fields[i]);
	for (int i = 0; i < h->nprov; i++)
		prov_clear(&h->prov[i]);
	free(h->prov);
	free(h);
}

static char **dup_strv(char *const *v, int n)
{
	char **c = calloc(n ? (size_t)n : 1, sizeof *c);
	if (!c)
		return NULL;
	for (int i = 0; i < n; i++)
		if (!(c[i] = strdup(v[i] ? v[i] : ""))) {
			free_strv(c, i);
			return NULL;
		}
	return c;
}

qt_header *qt_header_clone(const qt_header *h)
{
	qt_header *c = qt_header_new();
	if (!c)
		return NULL;
	c->version = h->version;
	c->end_marker = h->end_marker;
	for (int i = 0; i < h->nfields; i++) {
		const qt_field *f = &h->fields[i];
		c->fields[i] = *f;
		c->fields[i].classes = NULL;
		c->fields[i].nclasses = 0;
		c->nfields = i + 1;
		if (f->nclasses &&
		    qt_header_set_classes(c, i, f->nclasses,
					  (const char *const *)f->classes) < 0)
			goto fail;
	}
	for (int i = 0; i < h->nprov; i++) {
		const qt_prov *p = &h->prov[i];
		int s = qt_header_add_prov(c, p->stage, p->argc, p->argv);
		if (s < 0)
			goto fail;
		free(c->prov[s].version);
		if (!(c->prov[s].version = strdup(p->version ? p->version : "")))
			goto fail;
		for (int k = 0; k < p->nparams; k++)
			if (qt_header_add_param(c, s, p->keys[k], p->values[k]) < 0)
				goto fail;
	}
	return c;
fail:
	qt_header_free(c);
	return NULL;
}

static int valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= QT_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

int qt_header_find(const qt_header *h, const char *name)
{
	for (int i = 0; i < h->nfields; i++)
		if (!strcmp(h->fields[i].name, name))
			return i;
	return -1;
}

int qt_header_add_field(qt_header *h, const char *name, qt_dtype dt,
			int ndim, const int64_t *shape)
{
	qt_field *f;
	if (!valid_name(name))
		return qt_error(QT_EUSAGE,
				"bad field name '%.64s' (letters, digits, '_' "
				"and '-', at most %d characters)", name,
				QT_NAME_MAX - 1);
	if (qt_header_find(h, name) >= 0)
		return qt_error(QT_EUSAGE, "duplicate field '%s'", name);
	if (h->nfields >= QT_MAX_FIELDS)
		return qt_error(QT_EUSAGE, "more than %d fields", QT_MAX_FIELDS);
	if (ndim < 0 || ndim > QT_MAX_DIMS - 1)
		return qt_error(QT_ESHAPE, "field '%s': rank %d is over %d",
				name, ndim, QT_MAX_DIMS - 1);
	if ((unsigned)dt >= QT_NDTYPES)
		return qt_error(QT_EUSAGE, "field '%s': invalid dtype", name);
	for (int i = 0; i < ndim; i++)
		if (shape[i] < (i == 0 ? -1 : 0))
			return qt_error(QT_ESHAPE,
					"field '%s': bad dimension %lld", name,
					(long long)shape[i]);
	f = &h->fields[h->nfields];
	memset(f, 0, sizeof *f);
	snprintf(f->name, sizeof f->name, "%s", name);
	f->dtype = dt;
	f->ndim = ndim;
	if (ndim)
		memcpy(f->shape, shape, (size_t)ndim * sizeof *shape);
	return h->nfields++;
}

int qt_header_set_classes(qt_header *h, int i, int n,
			  const char *const *names)
{
	char **c;
	if (i < 0 || i >= h->nfields || n < 0)
		return qt_error(QT_EUSAGE, "no such field");
	c = dup_strv((char *const *)names, n);
	if (!c)
		return qt_error(QT_ENOMEM, "out of memory");
	field_clear(&h->fields[i]);
	h->fields[i].classes = c;
	h->fields[i].nclasses = n;
	return 0;
}

int qt_header_set_index_of(qt_header *h, int i, const char *target)
{
	if (i < 0 || i >= h->nfields || strlen(target) >= QT_NAME_MAX)
		return qt_error(QT_EUSAGE, "bad index_of");
	snprintf(h->fields[i].index_of, QT_NAME_MAX, "%s", target);
	return 0;
}

void qt_header_remove_field(qt_header *h, int i)
{
	if (i < 0 || i >= h->nfields)
		return;
	field_clear(&h->fields[i]);
	memmove(&h->fields[i], &h->fields[i + 1],
		(size_t)(h->nfields - i - 1) * sizeof h->fields[0]);
	h->nfields--;
}

int qt_header_add_prov(qt_header *h, const char *stage, int argc,
		       char *const *argv)
{
	qt_prov *np = realloc(h->prov, (size_t)(h->nprov + 1) * sizeof *np);
	qt_prov *p;
	if (!np)
		return qt_error(QT_ENOMEM, "out of memory");
	h->prov = np;
	p = &np[h->nprov];
	memset(p, 0, sizeof *p);
	p->stage = strdup(stage);
	p->version = strdup(QUANTA_VERSION_STRING);
	p->argv = dup_strv(argv, argc);
	p->keys = calloc(1, sizeof(char *));
	p->values = calloc(1, sizeof(char *));
	if (!p->stage || !p->version || !p->argv || !p->keys || !p->values) {
		prov_clear(p);
		return qt_error(QT_ENOMEM, "out of memory");
	}
	p->argc = argc;
	return h->nprov++;
}

int qt_header_add_param(qt_header *h, int step, const char *key,
			const char *value)
{
	qt_prov *p;
	char **k, **v;
	if (step < 0 || step >= h->nprov)
		return qt_error(QT_EUSAGE, "no provenance step %d", step);
	p = &h->prov[step];
	k = realloc(p->keys, (size_t)(p->nparams + 1) * sizeof *k);
	if (k)
		p->keys = k;
	v = realloc(p->values, (size_t)(p->nparams + 1) * sizeof *v);
	if (v)
		p->values = v;
	if (!k || !v)
		return qt_error(QT_ENOMEM, "out of memory");
	p->keys[p->nparams] = strdup(key);
	p->values[p->nparams] = strdup(value);
	if (!p->keys[p->nparams] || !p->values[p->nparams]) {
		free(p->keys[p->nparams]);
		free(p->values[p->nparams]);
		return qt_error(QT_ENOMEM, "out of memory");
	}
	p->nparams++;
	return 0;
}

int qt_header_validate(const qt_header *h)
{
	if (h->nfields == 0)
		return qt_error(QT_EFORMAT, "stream header declares no fields");
	for (int i = 0; i < h->nfields; i++) {
		const qt_field *f = &h->fields[i];
		int t;
		if (!valid_name(f->name))
			return qt_error(QT_EFORMAT, "bad field name '%s'",
					f->name);
		for (int j = 0; j < i; j++)
			if (!strcmp(h->fields[j].name, f->name))
				return qt_error(QT_EFORMAT,
						"duplicate field '%s'", f->name);
		for (int d = 1; d < f->ndim; d++)
			if (f->shape[d] < 0)
				return qt_error(QT_EFORMAT,
						"field '%s': only the first "
						"dimension may be ragged", f->name);
		if (f->ndim == 0 && f->index_of[0])
			return qt_error(QT_EFORMAT, "field '%s': an index "
					"field must be ragged", f->name);
		if (!f->index_of[0])
			continue;
		t = qt_header_find(h, f->index_of);
		if (t < 0 || h->fields[t].ndim == 0 ||
		    h->fields[t].shape[0] != -1)
			return qt_error(QT_EFORMAT,
					"field '%s' indexes '%s', which is not "
					"a ragged field of the stream", f->name,
					f->index_of);
		if (f->dtype != QT_I64 && f->dtype != QT_I32)
			return qt_error(QT_EFORMAT, "index field '%s' must be "
					"int32 or int64", f->name);
		if (f->shape[0] != -1)
			return qt_error(QT_EFORMAT, "index field '%s' must be "
					"ragged", f->name);
	}
	return 0;
}

/* ---- encoding ---- */

static void pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

int qt_pack_header(msgpack_packer *pk, const qt_header *h)
{
	msgpack_pack_map(pk, 4);
	pack_str(pk, "quanta");
	msgpack_pack_int(pk, h->version);
	pack_str(pk, "end_marker");
	if (h->end_marker)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	pack_str(pk, "fields");
	msgpack_pack_array(pk, (size_t)h->nfields);
	for (int i = 0; i < h->nfields; i++) {
		const qt_field *f = &h->fields[i];
		msgpack_pack_map(pk, 3 + (f->nclasses > 0) + !!f->index_of[0]);
		pack_str(pk, "name");
		pack_str(pk, f->name);
		pack_str(pk, "dtype");
		pack_str(pk, qt_dtype_str(f->dtype));
		pack_str(pk, "shape");
		msgpack_pack_array(pk, (size_t)f->ndim);
		for (int d = 0; d < f->ndim; d++)
			if (f->shape[d] < 0)
				msgpack_pack_nil(pk);
			else
				msgpack_pack_int64(pk, f->shape[d]);
		if (f->nclasses > 0) {
			pack_str(pk, "classes");
			msgpack_pack_array(pk, (size_t)f->nclasses);
			for (int c = 0; c < f->nclasses; c++)
				pack_str(pk, f->classes[c]);
		}
		if (f->index_of[0]) {
			pack_str(pk, "index_of");
			pack_str(pk, f->index_of);
		}
	}
	pack_str(pk, "provenance");
	msgpack_pack_array(pk, (size_t)h->nprov);
	for (int i = 0; i < h->nprov; i++) {
		const qt_prov *p = &h->prov[i];
		msgpack_pack_map(pk, 4);
		pack_str(pk, "stage");
		pack_str(pk, p->stage);
		pack_str(pk, "version");
		pack_str(pk, p->version);
		pack_str(pk, "args");
		msgpack_pack_array(pk, (size_t)p->argc);
		for (int a = 0; a < p->argc; a++)
			pack_str(pk, p->argv[a]);
		pack_str(pk, "params");
		msgpack_pack_map(pk, (size_t)p->nparams);
		for (int k = 0; k < p->nparams; k++) {
			pack_str(pk, p->keys[k]);
			pack_str(pk, p->values[k]);
		}
	}
	return 0;
}

/* ---- decoding ---- */

int qt_mp_streq(const msgpack_object *o, const char *s)
{
	size_t n = strlen(s);
	if (o->type == MSGPACK_OBJECT_STR)
		return o->via.str.size == n && !memcmp(o->via.str.ptr, s, n);
	if (o->type == MSGPACK_OBJECT_BIN)
		return o->via.bin.size == n && !memcmp(o->via.bin.ptr, s, n);
	return 0;
}

/* Copy a str object into a new C string; NULL when it is not a string
 * or contains a NUL. */
static char *dup_obj_str(const msgpack_object *o)
{
	char *s;
	if (o->type != MSGPACK_OBJECT_STR ||
	    memchr(o->via.str.ptr, 0, o->via.str.size))
		return NULL;
	s = malloc(o->via.str.size + 1);
	if (s) {
		memcpy(s, o->via.str.ptr, o->via.str.size);
		s[o->via.str.size] = '\0';
	}
	return s;
}

static int decode_strv(const msgpack_object *o, char ***out, int *n,
		       const char *what)
{
	char **v;
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > 1u << 20)
		return qt_error(QT_EFORMAT, "header: %s must be an array of "
				"strings", what);
	v = calloc(o->via.array.size + 1, sizeof *v);
	if (!v)
		return qt_error(QT_ENOMEM, "out of memory");
	for (uint32_t i = 0; i < o->via.array.size; i++)
		if (!(v[i] = dup_obj_str(&o->via.array.ptr[i]))) {
			free_strv(v, (int)i);
			return qt_error(QT_EFORMAT, "header: %s must be an "
					"array of strings", what);
		}
	*out = v;
	*n = (int)o->via.array.size;
	return 0;
}

static int copy_name(char *dst, const msgpack_object *o, const char *what)
{
	if (o->type != MSGPACK_OBJECT_STR || o->via.str.size == 0 ||
	    o->via.str.size >= QT_NAME_MAX ||
	    memchr(o->via.str.ptr, 0, o->via.str.size))
		return qt_error(QT_EFORMAT, "header: bad %s", what);
	memcpy(dst, o->via.str.ptr, o->via.str.size);
	dst[o->via.str.size] = '\0';
	return 0;
}

static int decode_field(qt_field *f, const msgpack_object *o)
{
	int have_name = 0, have_dtype = 0, have_shape = 0, rc;
	if (o->type != MSGPACK_OBJECT_MAP)
		return qt_error(QT_EFORMAT, "header: a field must be a map");
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key;
		const msgpack_object *v = &o->via.map.ptr[i].val;
		if (qt_mp_streq(k, "name")) {
			if ((rc = copy_name(f->name, v, "field name")) < 0)
				return rc;
			have_name = 1;
		} else if (qt_mp_streq(k, "dtype")) {
			if (v->type != MSGPACK_OBJECT_STR)
				return qt_error(QT_EFORMAT, "header: dtype "
						"must be a string");
			if ((rc = qt_dtype_parse(v->via.str.ptr, v->via.str.size,
						 &f->dtype)) < 0)
				return rc;
			have_dtype = 1;
		} else if (qt_mp_streq(k, "shape")) {
			if (v->type != MSGPACK_OBJECT_ARRAY ||
			    v->via.array.size > QT_MAX_DIMS - 1)
				return qt_error(QT_EFORMAT, "header: shape must "
						"be an array of at most %d sizes",
						QT_MAX_DIMS - 1);
			f->ndim = (int)v->via.array.size;
			for (int d = 0; d < f->ndim; d++) {
				const msgpack_object *s = &v->via.array.ptr[d];
				if (s->type == MSGPACK_OBJECT_NIL && d == 0)
					f->shape[d] = -1;
				else if (s->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
					 s->via.u64 <= INT32_MAX)
					f->shape[d] = (int64_t)s->via.u64;
				else
					return qt_error(QT_EFORMAT, "header: bad "
							"size in a field's shape");
			}
			have_shape = 1;
		} else if (qt_mp_streq(k, "classes")) {
			if ((rc = decode_strv(v, &f->classes, &f->nclasses,
					      "classes")) < 0)
				return rc;
		} else if (qt_mp_streq(k, "index_of")) {
			if ((rc = copy_name(f->index_of, v, "index_of")) < 0)
				return rc;
		} else {
			return qt_error(QT_EFORMAT, "header: unknown field key "
					"'%.*s'", k->type == MSGPACK_OBJECT_STR ?
					(int)k->via.str.size : 1,
					k->type == MSGPACK_OBJECT_STR ?
					k->via.str.ptr : "?");
		}
	}
	if (!have_name || !have_dtype || !have_shape)
		return qt_error(QT_EFORMAT, "header: a field needs name, dtype "
				"and shape");
	if (qt_shape_numel(f->ndim - (f->ndim && f->shape[0] < 0),
			   f->shape + (f->ndim && f->shape[0] < 0)) >
	    (int64_t)qt_max_message())
		return qt_error(QT_EFORMAT, "field '%s': per-sample shape is "
				"larger than the message limit", f->name);
	return 0;
}

static int decode_prov(qt_prov *p, const msgpack_object *o)
{
	int rc;
	if (o->type != MSGPACK_OBJECT_MAP)
		return qt_error(QT_EFORMAT, "header: provenance entries must "
				"be maps");
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key;
		const msgpack_object *v = &o->via.map.ptr[i].val;
		if (qt_mp_streq(k, "stage")) {
			free(p->stage);
			if (!(p->stage = dup_obj_str(v)))
				return qt_error(QT_EFORMAT, "header: bad stage");
		} else if (qt_mp_streq(k, "version")) {
			free(p->version);
			if (!(p->version = dup_obj_str(v)))
				return qt_error(QT_EFORMAT, "header: bad version");
		} else if (qt_mp_streq(k, "args")) {
			free_strv(p->argv, p->argc);
			p->argv = NULL;
			p->argc = 0;
			if ((rc = decode_strv(v, &p->argv, &p->argc, "args")) < 0)
				return rc;
		} else if (qt_mp_streq(k, "params")) {
			if (v->type != MSGPACK_OBJECT_MAP)
				return qt_error(QT_EFORMAT, "header: params "
						"must be a map");
			for (uint32_t j = 0; j < v->via.map.size; j++) {
				char *key = dup_obj_str(&v->via.map.ptr[j].key);
				char *val = dup_obj_str(&v->via.map.ptr[j].val);
				char **nk = key && val ? realloc(p->keys,
					(size_t)(p->nparams + 1) * sizeof *nk) : NULL;
				char **nv;
				if (nk)
					p->keys = nk;
				nv = nk ? realloc(p->values, (size_t)(p->nparams + 1)
						  * sizeof *nv) : NULL;
				if (nv)
					p->values = nv;
				if (!nk || !nv) {
					free(key);
					free(val);
					return qt_error(QT_EFORMAT, "header: params "
							"must map strings to strings");
				}
				p->keys[p->nparams] = key;
				p->values[p->nparams++] = val;
			}
		} else {
			return qt_error(QT_EFORMAT, "header: unknown provenance "
					"key");
		}
	}
	if (!p->stage)
		return qt_error(QT_EFORMAT, "header: provenance entry without "
				"stage");
	if (!p->version && !(p->version = strdup("")))
		return qt_error(QT_ENOMEM, "out of memory");
	return 0;
}

/* Decode a header map (the caller has seen its "quanta" key). */
int qt_decode_header(const msgpack_object *o, qt_header **out)
{
	qt_header *h = qt_header_new();
	int rc = 0, have_fields = 0;
	if (!h)
		return qt_error(QT_ENOMEM, "out of memory");
	h->end_marker = 0;
	for (uint32_t i = 0; i < o->via.map.size && rc == 0; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key;
		const msgpack_object *v = &o->via.map.ptr[i].val;
		if (qt_mp_streq(k, "quanta")) {
			if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
			    v->via.u64 != QT_STREAM_VERSION)
				rc = qt_error(QT_EFORMAT, "stream format version "
					      "%lld is not supported (this "
					      "quanta reads version %d)",
					      v->type == MSGPACK_OBJECT_POSITIVE_INTEGER
					      ? (long long)v->via.u64 : -1LL,
					      QT_STREAM_VERSION);
		} else if (qt_mp_streq(k, "end_marker")) {
			if (v->type != MSGPACK_OBJECT_BOOLEAN)
				rc = qt_error(QT_EFORMAT, "header: end_marker "
					      "must be a boolean");
			else
				h->end_marker = v->via.boolean;
		} else if (qt_mp_streq(k, "fields")) {
			if (v->type != MSGPACK_OBJECT_ARRAY ||
			    v->via.array.size > QT_MAX_FIELDS) {
				rc = qt_error(QT_EFORMAT, "header: fields must be "
					      "an array of at most %d maps",
					      QT_MAX_FIELDS);
				break;
			}
			for (uint32_t j = 0; j < v->via.array.size && !rc; j++) {
				h->nfields = (int)j + 1;
				rc = decode_field(&h->fields[j],
						  &v->via.array.ptr[j]);
			}
			have_fields = 1;
		} else if (qt_mp_streq(k, "provenance")) {
			if (v->type != MSGPACK_OBJECT_ARRAY ||
			    v->via.array.size > 4096) {
				rc = qt_error(QT_EFORMAT, "header: provenance "
					      "must be an array");
				break;
			}
			h->prov = calloc(v->via.array.size + 1, sizeof *h->prov);
			if (!h->prov) {
				rc = qt_error(QT_ENOMEM, "out of memory");
				break;
			}
			for (uint32_t j = 0; j < v->via.array.size && !rc; j++) {
				h->nprov = (int)j + 1;
				rc = decode_prov(&h->prov[j],
						 &v->via.array.ptr[j]);
			}
		} else {
			rc = qt_error(QT_EFORMAT, "header: unknown key '%.*s'",
				      k->type == MSGPACK_OBJECT_STR ?
				      (int)(k->via.str.size < 40 ? k->via.str.size : 40) : 1,
				      k->type == MSGPACK_OBJECT_STR ?
				      k->via.str.ptr : "?");
		}
	}
	if (!rc && !have_fields)
		rc = qt_error(QT_EFORMAT, "header has no fields");
	if (!rc)
		rc = qt_header_validate(h);
	if (rc) {
		qt_header_free(h);
		return rc;
	}
	*out = h;
	return 0;
}
