/* stream.c: stream readers and writers on top of the codec and the
 * endpoints (see stream.h and docs/FORMAT.md).
 *
 * The writer packs a message as a list of pieces: the small ones (map
 * headers, keys, dtypes, shapes) are copied into one buffer, and tensor
 * data of GATHER_REF bytes or more is only pointed at, so a batch goes
 * out with one writev and its data is never copied in user space (the
 * pointers are valid until qt_writer_write returns, which is when the
 * message has been sent).  The reader reads large tensor data straight
 * into the tensors' own aligned buffers (qt_chan_recv_detached), so a
 * batch's data is copied once, by the kernel.
 */
#include "common/stream.h"
#include "common/codec.h"
#include "common/endpoint.h"
#include "common/error.h"

#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#define GATHER_REF 4096

/* One message being packed: pieces in order, each either bytes of
 * `buf` (ref == NULL) or borrowed memory. */
struct piece {
	const void *ref;
	size_t off, len;
};

struct gather {
	char *buf;
	size_t len, cap;
	struct piece p[QT_SENDV_MAX];
	int n;
	int err; /* out of memory: a QT_E* code */
};

struct qt_reader {
	qt_chan *ch;
	qt_header *h;
	int ended;
	uint64_t batches, samples;
};

struct qt_writer {
	qt_chan *ch;
	qt_header *h;
	struct gather g;
	msgpack_packer pk;
	uint64_t batches, samples;
	int err;
};

int qt_reader_open(qt_reader **rp, const char *endpoint)
{
	qt_reader *r = calloc(1, sizeof *r);
	const uint8_t *p;
	size_t len;
	int rc;
	if (!r)
		return qt_error(QT_ENOMEM, "out of memory");
	if ((rc = qt_chan_open_in(&r->ch, endpoint)) < 0)
		goto fail;
	rc = qt_chan_recv(r->ch, &p, &len);
	if (rc == 0) {
		rc = qt_error(QT_EFORMAT, "empty input: no stream header");
		goto fail;
	}
	if (rc < 0)
		goto fail;
	rc = qt_decode_message(p, len, NULL, &r->h, NULL);
	if (rc >= 0 && rc != 1)
		rc = qt_error(QT_EFORMAT, "stream does not start with a quanta "
			      "header");
	if (rc < 0) {
		if (strcmp(endpoint, "-"))
			qt_error_prefix(rc, "%s: ", endpoint);
		goto fail;
	}
	*rp = r;
	return 0;
fail:
	qt_reader_close(r);
	return rc;
}

const qt_header *qt_reader_header(const qt_reader *r)
{
	return r->h;
}

uint64_t qt_reader_bytes(const qt_reader *r)
{
	return qt_chan_bytes(r->ch);
}

int qt_reader_next(qt_reader *r, qt_batch **b)
{
	const uint8_t *p;
	size_t len;
	qt_detached *d;
	int rc, nd;
	if (r->ended)
		return 0;
	rc = qt_chan_recv_detached(r->ch, &p, &len, &d, &nd);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		if (r->h->end_marker || qt_chan_is_socket(r->ch))
			return qt_error(QT_EFORMAT, "truncated stream: it ended "
					"after %llu batches without its end "
					"marker (did the stage before fail?)",
					(unsigned long long)r->batches);
		r->ended = 1;
		return 0;
	}
	rc = qt_decode_message_detached(p, len, r->h, NULL, b, d, nd);
	if (rc < 0)
		return qt_error_prefix(rc, "batch %llu: ",
				       (unsigned long long)r->batches + 1);
	if (rc == 2) {
		r->batches++;
		r->samples += (uint64_t)(*b)->n;
		return 1;
	}
	r->ended = 1;
	if (!qt_chan_is_socket(r->ch)) {
		rc = qt_chan_recv(r->ch, &p, &len);
		if (rc < 0)
			return rc;
		if (rc > 0)
			return qt_error(QT_EFORMAT, "data after the end of the "
					"stream");
	}
	return 0;
}

void qt_reader_close(qt_reader *r)
{
	if (!r)
		return;
	qt_chan_close(r->ch, 0);
	qt_header_free(r->h);
	free(r);
}

/* msgpack_packer's write callback. */
static int gather_write(void *data, const char *p, size_t len)
{
	struct gather *g = data;
	if (g->err)
		return -1;
	/* Tensor data: point at it.  A slot is always left for a last
	 * piece of copied bytes; past that, data is copied too. */
	if (len >= GATHER_REF && g->n < QT_SENDV_MAX - 1) {
		g->p[g->n++] = (struct piece){.ref = p, .len = len};
		return 0;
	}
	if (g->len + len > g->cap) {
		size_t ncap = g->cap ? 2 * g->cap : 4096;
		char *nb;
		while (ncap < g->len + len)
			ncap *= 2;
		if (!(nb = realloc(g->buf, ncap))) {
			g->err = qt_error(QT_ENOMEM, "out of memory");
			return -1;
		}
		g->buf = nb;
		g->cap = ncap;
	}
	memcpy(g->buf + g->len, p, len);
	if (!g->n || g->p[g->n - 1].ref)
		g->p[g->n++] = (struct piece){.off = g->len};
	g->p[g->n - 1].len += len;
	g->len += len;
	return 0;
}

static void gather_clear(struct gather *g)
{
	g->len = 0;
	g->n = 0;
	g->err = 0;
}

static int flush_message(qt_writer *w)
{
	struct gather *g = &w->g;
	struct iovec v[QT_SENDV_MAX];
	int rc = g->err;
	for (int i = 0; i < g->n; i++) {
		v[i].iov_base = g->p[i].ref ? (void *)g->p[i].ref
					    : g->buf + g->p[i].off;
		v[i].iov_len = g->p[i].len;
	}
	if (!rc)
		rc = qt_chan_sendv(w->ch, v, g->n);
	gather_clear(g);
	if (rc < 0 && !w->err)
		w->err = rc;
	return rc;
}

int qt_writer_open(qt_writer **wp, const char *endpoint, const qt_header *h)
{
	qt_writer *w;
	int rc = qt_header_validate(h);
	if (rc < 0)
		return rc;
	w = calloc(1, sizeof *w);
	if (!w)
		return qt_error(QT_ENOMEM, "out of memory");
	msgpack_packer_init(&w->pk, &w->g, gather_write);
	if (!(w->h = qt_header_clone(h))) {
		rc = qt_error(QT_ENOMEM, "out of memory");
		goto fail;
	}
	w->h->end_marker = 1;
	if ((rc = qt_chan_open_out(&w->ch, endpoint)) < 0)
		goto fail;
	qt_pack_header(&w->pk, w->h);
	if ((rc = flush_message(w)) < 0)
		goto fail;
	*wp = w;
	return 0;
fail:
	qt_writer_abort(w);
	return rc;
}

const qt_header *qt_writer_header(const qt_writer *w)
{
	return w->h;
}

int qt_writer_write(qt_writer *w, const qt_batch *b)
{
	int rc;
	if (w->err)
		return w->err;
	if ((rc = qt_batch_validate(w->h, b)) < 0)
		return qt_error_prefix(rc, "writing batch %llu: ",
				       (unsigned long long)w->batches + 1);
	if ((rc = qt_pack_batch(&w->pk, w->h, b)) < 0) {
		gather_clear(&w->g);
		return rc;
	}
	if ((rc = flush_message(w)) < 0)
		return rc;
	w->batches++;
	w->samples += (uint64_t)b->n;
	return 0;
}

int qt_writer_close(qt_writer *w)
{
	int rc;
	if (!w)
		return 0;
	if (!w->err) {
		qt_pack_end(&w->pk, w->batches, w->samples);
		flush_message(w);
	}
	rc = qt_chan_close(w->ch, !w->err);
	if (w->err)
		rc = w->err;
	free(w->g.buf);
	qt_header_free(w->h);
	free(w);
	return rc;
}

void qt_writer_abort(qt_writer *w)
{
	if (!w)
		return;
	/* A pipe reader sees EOF without the end map; a socket reader
	 * would wait for ever, so it gets an abort map with the reason. */
	if (w->ch && qt_chan_is_socket(w->ch)) {
		gather_clear(&w->g);
		qt_pack_abort(&w->pk, qt_error_message(QT_EIO));
		(void)flush_message(w);
	}
	qt_chan_close(w->ch, 0);
	free(w->g.buf);
	qt_header_free(w->h);
	free(w);
}
